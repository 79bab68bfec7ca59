/**
 * What the metadata-first pass knows of one kind without reading a spec: every v1 object's key,
 * resourceVersion and uid, and every v3 object's key, uid and what its annotations and
 * managedFields say about who wrote it. It comes from two metadata lists (each a consistent
 * snapshot at its list's resourceVersion) and can be brought up to date by replaying the changes
 * since those resourceVersions (a watch per side), so that the final delta inside the locked window
 * pays for what changed since the last catch-up pass, not for what exists. Only metadata is held
 * (about 150 bytes an object), never a spec.
 */
import { Names } from "../api/datastore-migration.js";
import type { KubeClient } from "../kube/client.js";
import { describeError, isGone } from "../kube/errors.js";
import type { KubeObject, WatchEvent } from "../kube/object.js";
import { objectKey, type ResourceRef } from "../kube/resource.js";
import { ownedOnlyBy } from "./v3-index.js";

/** What the metadata of a v1 object gives. */
export interface V1Meta {
  rv: string;
  uid?: string;
}

/** What the metadata of a v3 object gives. */
export interface V3Meta {
  key: string;
  uid: string;
  migratedBy?: string;
  /** The v1 resourceVersion a copy was made from. */
  sourceRv?: string;
  /** Nobody but the migration's field manager owns its spec or labels. */
  untouched: boolean;
  /** The v1 key a copy was made from (its recorded source name when renamed, else its own key). */
  sourceKey: string;
}

/** One side's replayed changes, for the verification that follows: where the replay started and each event it applied. */
export interface ReplayLog {
  from: string;
  /** `namespace/name@resourceVersion` (or `name@resourceVersion`) of every event applied. */
  events: Set<string>;
}

/** `namespace/name@resourceVersion` of an event's object. */
export function eventId(obj: KubeObject): string {
  return `${objectKey(obj.metadata.namespace, obj.metadata.name ?? "")}@${obj.metadata.resourceVersion ?? ""}`;
}

/** How long a replay listens: the API server sends every change since the resourceVersion at once. */
const REPLAY_SECONDS = 2;
/** A change still arriving this long after the replay started means writes are going on: inconclusive. */
const REPLAY_SETTLE_MS = 1500;

/** The metadata of one kind's v1 objects and v3 objects, as of two resourceVersions. */
export class KindMetadata {
  /** v1 key → resourceVersion and uid. */
  readonly v1 = new Map<string, V1Meta>();
  /** v3 key → metadata. */
  readonly v3 = new Map<string, V3Meta>();
  /** This migration's copies that record their source resourceVersion, by the v1 key they were made from. */
  readonly copies = new Map<string, V3Meta>();

  constructor(
    /** uid of the migration (its copies carry it in `migrated-by`). */
    readonly migrationUid: string,
    /** The field manager whose writes leave a copy untouched. */
    readonly manager: string,
    /** The resourceVersion the v1 side is current at. */
    public v1Rv = "",
    /** The resourceVersion the v3 side is current at. */
    public v3Rv = "",
  ) {}

  /** Records a v1 object (as listed, or as a watch event gave it). */
  setV1(obj: KubeObject, namespaced: boolean): void {
    const key = objectKey(namespaced ? obj.metadata.namespace : undefined, obj.metadata.name ?? "");
    this.v1.set(key, { rv: obj.metadata.resourceVersion ?? "", uid: obj.metadata.uid });
  }

  /** Records a v3 object, replacing what was known under its key. */
  setV3(obj: KubeObject): void {
    const a = obj.metadata.annotations ?? {};
    const key = objectKey(obj.metadata.namespace, obj.metadata.name ?? "");
    this.deleteV3(key);
    const by = a[Names.migratedBy];
    const m: V3Meta = {
      key,
      uid: obj.metadata.uid ?? "",
      // One string for every copy of ours rather than one per object.
      migratedBy: by === this.migrationUid ? this.migrationUid : by,
      sourceRv: a[Names.sourceResourceVersion],
      untouched: ownedOnlyBy(obj, this.manager),
      sourceKey: objectKey(obj.metadata.namespace, a[Names.sourceName] ?? obj.metadata.name ?? ""),
    };
    this.v3.set(key, m);
    if (m.migratedBy === this.migrationUid && m.sourceRv !== undefined) this.copies.set(m.sourceKey, m);
  }

  /** Forgets the v3 object at `key`. */
  deleteV3(key: string): void {
    const old = this.v3.get(key);
    if (!old) return;
    this.v3.delete(key);
    if (this.copies.get(old.sourceKey) === old) this.copies.delete(old.sourceKey);
  }

  /** Applies one v1 watch event. */
  applyV1(ev: WatchEvent, namespaced: boolean): void {
    if (ev.type === "DELETED") this.v1.delete(objectKey(namespaced ? ev.object.metadata.namespace : undefined, ev.object.metadata.name ?? ""));
    else if (ev.type === "ADDED" || ev.type === "MODIFIED") this.setV1(ev.object, namespaced);
  }

  /** Applies one v3 watch event. */
  applyV3(ev: WatchEvent): void {
    if (ev.type === "DELETED") this.deleteV3(objectKey(ev.object.metadata.namespace, ev.object.metadata.name ?? ""));
    else if (ev.type === "ADDED" || ev.type === "MODIFIED") this.setV3(ev.object);
  }
}

/** Lists both sides of a kind, metadata only, at once. */
export async function listKindMetadata(
  client: KubeClient,
  v1Ref: ResourceRef,
  v3Ref: ResourceRef,
  namespaced: boolean,
  into: KindMetadata,
  pageSize: number,
  signal?: AbortSignal,
): Promise<KindMetadata> {
  // Every page of a list is read at the first page's resourceVersion: each side is one snapshot.
  const v1 = async () => {
    for await (const page of client.listPages(v1Ref, { limit: pageSize, metadataOnly: true, signal })) {
      if (!into.v1Rv) into.v1Rv = page.metadata.resourceVersion ?? "";
      for (const obj of page.items) into.setV1(obj, namespaced);
    }
  };
  const v3 = async () => {
    for await (const page of client.listPages(v3Ref, { limit: pageSize, metadataOnly: true, signal })) {
      if (!into.v3Rv) into.v3Rv = page.metadata.resourceVersion ?? "";
      for (const obj of page.items) into.setV3(obj);
    }
  };
  await Promise.all([v1(), v3()]);
  return into;
}

/**
 * Replays one side's changes since `from` into `apply`: every change the API server still has,
 * sent at once when the watch opens. Returns the log of what was applied, or why the replay cannot
 * be trusted (history compacted, an error, or changes still arriving: someone is writing).
 */
export async function replaySide(
  client: KubeClient,
  ref: ResourceRef,
  from: string,
  apply: (ev: WatchEvent) => void,
  signal?: AbortSignal,
): Promise<ReplayLog | { reason: string }> {
  const log: ReplayLog = { from, events: new Set() };
  const abort = new AbortController();
  const onAbort = () => abort.abort();
  signal?.addEventListener("abort", onAbort);
  const timer = setTimeout(() => abort.abort(), (REPLAY_SECONDS + 3) * 1000);
  const started = Date.now();
  try {
    for await (const ev of client.watch(ref, { resourceVersion: from, timeoutSeconds: REPLAY_SECONDS, signal: abort.signal })) {
      if (ev.type === "BOOKMARK") continue;
      if (Date.now() - started > REPLAY_SETTLE_MS) return { reason: `${ref.kind}: changes were still arriving ${REPLAY_SETTLE_MS} ms into the replay` };
      apply(ev);
      log.events.add(eventId(ev.object));
    }
    if (signal?.aborted) return { reason: "aborted" };
    return log;
  } catch (err) {
    if (isGone(err)) return { reason: `${ref.kind}: the changes since the last catch-up pass are no longer available` };
    return { reason: `${ref.kind}: ${describeError(err)}` };
  } finally {
    clearTimeout(timer);
    abort.abort();
    signal?.removeEventListener("abort", onAbort);
  }
}
