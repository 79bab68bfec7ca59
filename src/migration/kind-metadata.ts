/**
 * What the metadata-first pass knows of one kind without reading a spec: every v1 object's key
 * and resourceVersion, and every v3 object's key and what its annotations and managedFields say
 * about who wrote it. It comes from two metadata lists (each a consistent snapshot at its list's
 * resourceVersion) and can be brought up to date by replaying the changes since those
 * resourceVersions (a watch per side), so that the final delta inside the locked window pays for
 * what changed since the last catch-up pass, not for what exists.
 *
 * It is held for every kind at once (from the last catch-up pass to the final delta), inside a
 * controller whose heap is 128 MB, so the usual case is stored as little as possible: a v1 object
 * whose copy at the same key is ours, untouched and made from its current resourceVersion is one
 * map entry whose value is that resourceVersion as a number (about 90 bytes with its key). Only
 * the rest (changed, renamed, a user's object, no copy, a non-numeric resourceVersion) keeps a
 * small record. No uid is kept: the owners of what the pass reads in full are looked up when
 * needed (sync-kind.ts, resolveOwner).
 */
import { Names } from "../api/datastore-migration.js";
import { viewUidOf } from "../convert/uid.js";
import type { KubeClient } from "../kube/client.js";
import { describeError, isGone } from "../kube/errors.js";
import type { KubeObject, WatchEvent } from "../kube/object.js";
import { objectKey, type ResourceRef } from "../kube/resource.js";
import { ownedOnlyBy } from "./v3-index.js";

/** What the metadata of a v3 object gives. */
export interface V3Meta {
  migratedBy?: string;
  /** The v1 resourceVersion a copy was made from. */
  sourceRv?: string;
  /** Nobody but the migration's field manager owns its spec or labels. */
  untouched: boolean;
  /** The v1 key a copy was made from (its recorded source name when renamed, else its own key). */
  sourceKey: string;
}

/** Anything but the usual case, at one key: the v1 object (resourceVersion, whether its uid converts) and the v3 object. */
interface Irregular {
  v1Rv?: string;
  /** The v1 uid has no v3-view form: the object is read in full (and reported) every time. */
  badUid?: boolean;
  v3?: V3Meta;
}

/** A number: v1 and our untouched copy in step at that resourceVersion. Anything else: a record. */
type Row = number | Irregular;

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
  private readonly rows = new Map<string, Row>();
  /** Copies of ours whose v3 key is not their source's key (renamed objects): source key → v3 key. */
  private readonly renamed = new Map<string, string>();

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
    const row = this.irregular(key);
    row.v1Rv = obj.metadata.resourceVersion ?? "";
    row.badUid = viewUidOf(obj.metadata.uid) === undefined ? true : undefined;
    this.store(key, row);
  }

  /** Forgets the v1 object at `key`. */
  deleteV1(key: string): void {
    const row = this.irregular(key);
    row.v1Rv = undefined;
    row.badUid = undefined;
    this.store(key, row);
  }

  /** Records a v3 object, replacing what was known under its key. */
  setV3(obj: KubeObject): void {
    const a = obj.metadata.annotations ?? {};
    const key = objectKey(obj.metadata.namespace, obj.metadata.name ?? "");
    this.deleteV3(key);
    const by = a[Names.migratedBy];
    const meta: V3Meta = {
      // One string for every copy of ours rather than one per object.
      migratedBy: by === this.migrationUid ? this.migrationUid : by,
      sourceRv: a[Names.sourceResourceVersion],
      untouched: ownedOnlyBy(obj, this.manager),
      sourceKey: objectKey(obj.metadata.namespace, a[Names.sourceName] ?? obj.metadata.name ?? ""),
    };
    const row = this.irregular(key);
    row.v3 = meta;
    this.store(key, row);
    if (meta.sourceKey !== key && this.isCopy(meta)) this.renamed.set(meta.sourceKey, key);
  }

  /** Forgets the v3 object at `key`. */
  deleteV3(key: string): void {
    const row = this.irregular(key);
    const old = row.v3;
    if (!old) return;
    row.v3 = undefined;
    this.store(key, row);
    if (this.renamed.get(old.sourceKey) === key) this.renamed.delete(old.sourceKey);
  }

  /** Applies one v1 watch event. */
  applyV1(ev: WatchEvent, namespaced: boolean): void {
    if (ev.type === "DELETED") this.deleteV1(objectKey(namespaced ? ev.object.metadata.namespace : undefined, ev.object.metadata.name ?? ""));
    else if (ev.type === "ADDED" || ev.type === "MODIFIED") this.setV1(ev.object, namespaced);
  }

  /** Applies one v3 watch event. */
  applyV3(ev: WatchEvent): void {
    if (ev.type === "DELETED") this.deleteV3(objectKey(ev.object.metadata.namespace, ev.object.metadata.name ?? ""));
    else if (ev.type === "ADDED" || ev.type === "MODIFIED") this.setV3(ev.object);
  }

  /** Every v1 object: its key and, when it is in step with a copy of ours, that copy's v3 key. */
  *v1(): Generator<[key: string, inStepCopy: string | undefined]> {
    for (const [key, row] of this.rows) {
      if (typeof row === "number") yield [key, key];
      else if (row.v1Rv !== undefined) yield [key, row.badUid ? undefined : this.inStepCopy(key, row.v1Rv)];
    }
  }

  /** Whether a v3 object exists at `key`. */
  hasV3(key: string): boolean {
    const row = this.rows.get(key);
    return row !== undefined && (typeof row === "number" || row.v3 !== undefined);
  }

  /** Every v3 object with what settling a sourceless one needs. */
  *v3(): Generator<[key: string, meta: Pick<V3Meta, "migratedBy" | "sourceRv" | "untouched">]> {
    for (const [key, row] of this.rows) {
      if (typeof row === "number") yield [key, { migratedBy: this.migrationUid, sourceRv: String(row), untouched: true }];
      else if (row.v3) yield [key, row.v3];
    }
  }

  /** The v3 key of the copy in step with v1 object `key` at `rv`, if any. */
  private inStepCopy(key: string, rv: string): string | undefined {
    const at = this.renamed.get(key) ?? key;
    const row = this.rows.get(at);
    if (row === undefined) return undefined;
    if (typeof row === "number") return at === key && String(row) === rv ? at : undefined;
    const c = row.v3;
    return c && this.isCopy(c) && c.untouched && c.sourceKey === key && c.sourceRv === rv ? at : undefined;
  }

  private isCopy(m: V3Meta): boolean {
    return m.migratedBy === this.migrationUid && m.sourceRv !== undefined;
  }

  /** The row at `key` as a record (a fresh one when there is none). */
  private irregular(key: string): Irregular {
    const row = this.rows.get(key);
    if (row === undefined) return {};
    if (typeof row !== "number") return row;
    const rv = String(row);
    return { v1Rv: rv, v3: { migratedBy: this.migrationUid, sourceRv: rv, untouched: true, sourceKey: key } };
  }

  /** Stores a record, as a number when it is the usual case, and drops an empty one. */
  private store(key: string, row: Irregular): void {
    const c = row.v3;
    if (row.v1Rv === undefined && c === undefined) {
      this.rows.delete(key);
      return;
    }
    const n = Number(row.v1Rv);
    const usual = !row.badUid && c !== undefined && this.isCopy(c) && c.untouched && c.sourceKey === key && c.sourceRv === row.v1Rv &&
      Number.isSafeInteger(n) && n >= 0 && String(n) === row.v1Rv;
    this.rows.set(key, usual ? n : row);
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
