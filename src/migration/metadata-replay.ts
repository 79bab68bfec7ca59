/**
 * Brings the metadata a catch-up pass kept (kind-metadata.ts) up to date for the final delta, by
 * replaying every kind's changes since its lists: all kinds at once, so the cost is one replay
 * (about two seconds) whatever the number of objects. A kind whose changes cannot be replayed is
 * dropped and listed again by the pass; nothing is trusted that the replay did not establish.
 */
import type { CalicoKind } from "../calico/kinds.js";
import { v1Resource } from "../calico/kinds.js";
import type { KubeClient } from "../kube/client.js";
import type { ResourceRef } from "../kube/resource.js";
import { replaySide, type KindMetadata, type ReplayLog } from "./kind-metadata.js";

/** What a catch-up pass kept: the metadata of each kind it listed, for one migration. */
export interface KeptMetadata {
  uid: string;
  kinds: Map<string, { kind: CalicoKind; metadata: KindMetadata }>;
}

/** The outcome of a replay: the kinds now current (with what each side applied), and why the others were dropped. */
export interface MetadataReplay {
  current: Map<string, KindMetadata>;
  /** `v1/Kind` and `v3/Kind` → the replay's log, for the verification after the final delta. */
  logs: Map<string, ReplayLog>;
  dropped: string[];
}

/** Replays every kept kind's changes on both sides; `v3Storage` reaches v3 CRD storage (the door while the APIService is registered). */
export async function replayKept(client: KubeClient, kept: KeptMetadata, v3Storage: (kind: CalicoKind) => ResourceRef, signal?: AbortSignal): Promise<MetadataReplay> {
  const out: MetadataReplay = { current: new Map(), logs: new Map(), dropped: [] };
  await Promise.all(
    [...kept.kinds.values()].map(async ({ kind, metadata }) => {
      const [v1, v3] = await Promise.all([
        replaySide(client, v1Resource(kind), metadata.v1Rv, (ev) => metadata.applyV1(ev, kind.namespaced), signal),
        replaySide(client, v3Storage(kind), metadata.v3Rv, (ev) => metadata.applyV3(ev), signal),
      ]);
      if ("reason" in v1) return void out.dropped.push(`v1 ${v1.reason}`);
      if ("reason" in v3) return void out.dropped.push(`v3 ${v3.reason}`);
      out.current.set(kind.kind, metadata);
      out.logs.set(`v1/${kind.kind}`, v1);
      out.logs.set(`v3/${kind.kind}`, v3);
    }),
  );
  return out;
}
