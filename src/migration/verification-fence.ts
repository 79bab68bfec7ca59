/**
 * The verification after a final delta, by watch instead of by lists: the final delta takes a
 * fence (the current resourceVersion) before it lists anything, brings every copy in step with the
 * locked v1, and records which copies it removed. Nothing else may have changed since: a watch of
 * every v1 and v3 kind from the fence replays every change, and each must be one of the final
 * delta's own writes (a copy of ours, untouched, recording its source; or a removal it made).
 * Then what the final delta established still holds, and the locked window pays a watch per kind
 * instead of two lists of every object. Anything else (a write by someone else, a v1 change, a
 * history that is no longer available) sends the caller to the full verification.
 */
import { Names } from "../api/datastore-migration.js";
import { CALICO_KINDS, CLUSTER_INFORMATION_V1, v1Resource, v3Resource, type CalicoKind } from "../calico/kinds.js";
import type { KubeClient } from "../kube/client.js";
import type { WatchEvent } from "../kube/object.js";
import { objectKey, type ResourceRef } from "../kube/resource.js";
import { COPY_FIELD_MANAGER } from "./copy-writes.js";
import { firstWrite } from "./first-write.js";
import { eventId, type ReplayLog } from "./kind-metadata.js";
import { forEachConcurrent } from "./pool.js";
import { ownedOnlyBy } from "./v3-index.js";

/** What a final delta leaves for its verification. */
export interface VerificationFence {
  /** The migration's uid. */
  uid: string;
  /** The resourceVersion taken before the final delta listed anything. */
  resourceVersion: string;
  /** Copies the final delta removed, as `Kind/namespace/name` or `Kind/name`. */
  removed: Set<string>;
  /**
   * Sides (`v1/Kind`, `v3/Kind`) the final delta knew by replaying their changes since the last
   * catch-up pass rather than by lists: their watch starts where the replay did, and each change
   * the replay applied is accounted for. A change the replay missed (it came before the fence but
   * reached the watch too late) is then found too.
   */
  replayed?: Map<string, ReplayLog>;
}

/** The current resourceVersion (of the etcd store every kind shares), from a one-item list. */
export async function takeFence(client: KubeClient): Promise<string> {
  const list = await client.list(CLUSTER_INFORMATION_V1, { limit: 1 });
  const rv = list.metadata.resourceVersion;
  if (!rv) throw new Error("the API server gave no resourceVersion for a list: cannot take a verification fence");
  return rv;
}

/** Undefined when nothing but the final delta's own writes happened since the fence; else why the full verification is needed. */
export async function changedSinceFence(client: KubeClient, fence: VerificationFence, v3Storage: (kind: CalicoKind) => ResourceRef = v3Resource): Promise<string | undefined> {
  const reasons: string[] = [];
  const ours = (kind: string) => (ev: WatchEvent) => {
    const m = ev.object.metadata;
    if (ev.type === "DELETED") return fence.removed.has(`${kind}/${objectKey(m.namespace, m.name ?? "")}`);
    return m.annotations?.[Names.migratedBy] === fence.uid && m.annotations[Names.sourceResourceVersion] !== undefined && ownedOnlyBy(ev.object, COPY_FIELD_MANAGER);
  };
  const replayed = (id: string, also: (ev: WatchEvent) => boolean) => {
    const log = fence.replayed?.get(id);
    return { from: log?.from ?? fence.resourceVersion, expected: log ? (ev: WatchEvent) => log.events.has(eventId(ev.object)) || also(ev) : also };
  };
  const watches = CALICO_KINDS.flatMap((kind) => [
    { ref: v1Resource(kind), side: "v1", ...replayed(`v1/${kind.kind}`, () => false) },
    { ref: v3Storage(kind), side: "v3", ...replayed(`v3/${kind.kind}`, ours(kind.kind)) },
  ]);
  // All at once (42 watches of two seconds each): the check costs about two seconds, whatever the size.
  await forEachConcurrent(watches, watches.length, async (w) => {
    const found = await firstWrite(client, w.ref, w.from, w.expected, 1000);
    if (!found) return;
    if ("write" in found) reasons.push(`${w.side} ${found.write} was written since the final delta`);
    else if ("gone" in found) reasons.push(`${w.side} ${w.ref.kind} history since the final delta is no longer available`);
    else reasons.push(`${w.side} ${w.ref.kind}: ${found.error}`);
  });
  return reasons[0];
}
