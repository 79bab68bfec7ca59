/**
 * One pass over one kind: page through the v1 objects, convert each, and classify it against the
 * v3 objects listed once beforehand — equal (skipped), different (conflict, never overwritten) or
 * absent (created, in "copy" and "verify" modes). Calico owner references are pointed at the
 * owners' new v3 uids before the create, so the garbage collector never sees a stale owner.
 */
import { Names } from "../api/datastore-migration.js";
import { isCalicoApiVersion, kindByName, v1Resource, type CalicoKind } from "../calico/kinds.js";
import { convertV1ToV3, type ConvertedObject } from "../convert/convert.js";
import { specDiff } from "../convert/normalize.js";
import type { JsonSchema } from "../convert/schema.js";
import { viewUidOf } from "../convert/uid.js";
import { isAlreadyExists, isNotFound, type ApiError } from "../kube/errors.js";
import type { KubeObject, OwnerReference } from "../kube/object.js";
import { apiVersionOf, objectKey, type ResourceRef } from "../kube/resource.js";
import { CreateRefusedError, refusalOf } from "./create-refused.js";
import type { EngineOptions } from "./engine-options.js";
import { forEachConcurrent, forEachPulled, Limiter } from "./pool.js";
import { readAhead } from "./read-ahead.js";
import { specHash } from "./spec-hash.js";
import { emptyKindResult, type KindResult } from "./types.js";
import { copyBody, fieldManagerOf, guardRenamedCreate, isOurCopy, isStaleCopy, removeStaleCopy, updateCopy, v3Of } from "./copy-writes.js";
import { indexV3, ownedOnlyBy, v3Entry, type V3Entry } from "./v3-index.js";
import { AggregatedAnswerError, assertFromV3Storage, isAggregatedView } from "./v3-origin.js";
import { withRetries, type WriteRetryOptions } from "./write-retry.js";

/** detect: classify only (kinds with no v3 objects are not listed); copy: create what is missing; verify: copy, and report v3 objects with no v1 source. */
export type SyncMode = "detect" | "copy" | "verify";

/** State that spans kinds within one run: owner uid mapping and objects waiting for their owner. */
export class SyncSession {
  /** Object operations in flight across every kind running at once. */
  readonly slots: Limiter;
  /** v3-view uid of a v1 object (what references carried) → uid of its v3 object. */
  readonly uidMap = new Map<string, string>();
  /** v3-view uids of objects in conflict: their dependents wait. */
  readonly conflicting = new Set<string>();
  /** Converted objects whose Calico owner has not been processed yet. */
  deferred: { converted: ConvertedObject; result: KindResult; schema: JsonSchema; index: Map<string, V3Entry> }[] = [];

  constructor(concurrency: number) {
    this.slots = new Limiter(concurrency);
  }
}

/**
 * Brings a stale copy of ours up to date (its v1 source changed after it was copied). A copy
 * someone else changed meanwhile is classified like any v3 object; one that vanished is created.
 */
async function refreshCopy(
  opts: EngineOptions,
  session: SyncSession,
  c: ConvertedObject,
  result: KindResult,
  schema: JsonSchema,
  body: KubeObject,
  index: Map<string, V3Entry>,
  hash: string,
): Promise<void> {
  const key = keyOfConverted(c);
  let outcome;
  try {
    outcome = await withRetries(() => updateCopy(opts, session.slots, c, body, schema), syncRetryOptions(opts, result));
  } catch (err) {
    opts.onOutcome?.(c.kind.kind, "error");
    if (refusalOf(err)) throw new CreateRefusedError(c.kind, c.source, err as ApiError);
    throw new Error(`updating ${c.kind.kind} ${key}: ${(err as Error).message}`, { cause: err });
  }
  if ("gone" in outcome) {
    index.delete(key);
    return processObject(opts, session, c, result, schema, index, "copy", false);
  }
  if ("current" in outcome) {
    const entry = v3Entry(c.kind, outcome.current, schema, fieldManagerOf(opts));
    index.set(key, entry);
    return classifyExisting(opts, session, c, result, schema, entry, hash, outcome.current);
  }
  const updated = outcome.updated;
  session.uidMap.set(c.v3.metadata.uid ?? "", updated.metadata.uid ?? "");
  index.set(key, v3Entry(c.kind, updated, schema, fieldManagerOf(opts)));
  result.refreshed++;
  opts.onOutcome?.(c.kind.kind, "migrated");
  await opts.afterWrite?.(v3Of(opts, c.kind), updated);
}

/** Runs one pass over a kind. */
export async function syncKind(
  opts: EngineOptions,
  session: SyncSession,
  kind: CalicoKind,
  schema: JsonSchema,
  mode: SyncMode,
  onPage?: (partial: KindResult) => void,
): Promise<KindResult> {
  const started = Date.now();
  const result = emptyKindResult(kind.kind);
  const pageSize = opts.pageSize ?? 500;
  const index = await withRetries(() => indexV3(opts.client, v3Of(opts, kind), kind, schema, fieldManagerOf(opts), pageSize, opts.signal), syncRetryOptions(opts, result));
  // Nothing in v3 can conflict with nothing: detection skips the v1 list (and total stays 0). This
  // keeps the usual case — empty v3 storage — from listing every v1 object inside the locked window.
  if (mode === "detect" && index.size === 0) {
    result.durationMs = Date.now() - started;
    return result;
  }
  const seen = new Set<string>();
  // Pages are read one ahead and their objects pulled by the workers as they free up: no pause
  // between pages. Each request takes a slot shared with the other kinds of the band (not while
  // it waits to retry, so a kind the API server holds up does not hold up the others).
  async function* converted(): AsyncGenerator<ConvertedObject> {
    for await (const page of readAhead(opts.client.listPages(v1Resource(kind), { limit: pageSize, signal: opts.signal }))) {
      if (result.total > 0) onPage?.(result);
      const items = page.items.map((cr) => convertV1ToV3(kind, cr));
      for (const c of items) {
        if (c.renamedFrom !== undefined) result.renames.push({ kind: kind.kind, namespace: c.v3.metadata.namespace, from: c.renamedFrom, to: c.v3.metadata.name ?? "" });
        seen.add(keyOfConverted(c));
      }
      result.total += items.length;
      yield* items;
    }
  }
  await forEachPulled(converted(), opts.concurrency ?? 16, (c) => processObject(opts, session, c, result, schema, index, mode, true));
  onPage?.(result);
  if (mode !== "detect") await settleSourceless(opts, session, kind, schema, mode, result, index, seen);
  result.durationMs = Date.now() - started;
  return result;
}

/** `namespace/name` (or `name`) split back into its parts. */
export function whereOf(key: string): { namespace?: string; name: string } {
  const slash = key.indexOf("/");
  return slash >= 0 ? { namespace: key.slice(0, slash), name: key.slice(slash + 1) } : { name: key };
}

/**
 * The v3 objects of a kind that no v1 object mapped to (keys not in `seen`): a copy this migration
 * made whose v1 source has gone since is removed, as long as nobody else has changed it; anything
 * else without a source is only reported (verify mode).
 */
export async function settleSourceless(
  opts: EngineOptions,
  session: SyncSession,
  kind: CalicoKind,
  schema: JsonSchema,
  mode: Exclude<SyncMode, "detect">,
  result: KindResult,
  v3: Iterable<[string, Pick<V3Entry, "migratedBy" | "sourceRv" | "untouched">]>,
  seen: ReadonlySet<string>,
): Promise<void> {
  for (const [key, entry] of v3) {
    if (seen.has(key)) continue;
    const where = whereOf(key);
    if (isOurCopy(opts, entry) && entry.untouched && (await withRetries(() => removeStaleCopy(opts, session.slots, kind, where, schema), syncRetryOptions(opts, result)))) {
      result.removed++;
      opts.onRemoved?.(kind, key);
      continue;
    }
    if (mode === "verify") result.extras.push({ ...where, migratedByUs: entry.migratedBy === opts.migrationUid });
  }
}

/** Processes objects that waited for an owner; with `final`, owners still unknown are treated as missing. */
export async function drainDeferred(opts: EngineOptions, session: SyncSession, mode: SyncMode, final: boolean): Promise<void> {
  for (let progress = true; progress && session.deferred.length > 0; ) {
    const waiting = session.deferred;
    session.deferred = [];
    await forEachConcurrent(waiting, opts.concurrency ?? 16, (d) =>
      processObject(opts, session, d.converted, d.result, d.schema, d.index, mode, !final),
    );
    progress = session.deferred.length < waiting.length;
  }
}

/** The v3 key (`namespace/name`) of a converted object. */
export function keyOfConverted(c: ConvertedObject): string {
  return objectKey(c.v3.metadata.namespace, c.v3.metadata.name ?? "");
}

/** Handles one converted v1 object against the v3 object indexed at its key (if any): skip, create, refresh, defer or report a conflict. */
export async function processObject(
  opts: EngineOptions,
  session: SyncSession,
  c: ConvertedObject,
  result: KindResult,
  schema: JsonSchema,
  index: Map<string, V3Entry>,
  mode: SyncMode,
  mayDefer: boolean,
): Promise<void> {
  const kind = c.kind;
  const key = keyOfConverted(c);
  const viewUid = c.v3.metadata.uid ?? "";
  const hash = specHash(kind.kind, c.v3.spec, schema);
  const existing = index.get(key);
  // A v3 list answered by the Calico API server (a lagging kube-apiserver) shows the v1 objects
  // themselves: the whole index is untrustworthy, and the pass starts again (runPass).
  if (existing && isAggregatedView(existing.uid, c.source.uid)) {
    throw new AggregatedAnswerError(`listing v3 ${kind.v3Plural}: the answer came from the Calico API server, not from v3 CRD storage`);
  }
  const stale = existing !== undefined && isStaleCopy(opts, existing, c, hash);
  if (existing && !stale) {
    await classifyExisting(opts, session, c, result, schema, existing, hash);
    return;
  }
  if (mode === "detect") return;

  const refs = c.v3.metadata.ownerReferences ?? [];
  const calicoRefs = refs.filter((r) => isCalicoApiVersion(r.apiVersion));
  if (calicoRefs.some((r) => session.conflicting.has(r.uid))) {
    session.conflicting.add(viewUid);
    const conflict = {
      kind: kind.kind, namespace: c.v3.metadata.namespace, name: c.v3.metadata.name ?? "", diffs: [],
      reason: "its Calico owner is in conflict; it is created once the owner's conflict is resolved",
    };
    result.conflicts.push(conflict);
    opts.onConflict?.(conflict, c, undefined);
    return;
  }
  if (mayDefer && calicoRefs.some((r) => !session.uidMap.has(r.uid))) {
    session.deferred.push({ converted: c, result, schema, index });
    return;
  }
  const ownerReferences: OwnerReference[] = [];
  for (const r of refs) {
    if (!isCalicoApiVersion(r.apiVersion)) {
      ownerReferences.push(r);
      continue;
    }
    const uid = session.uidMap.get(r.uid) ?? (await resolveOwner(opts, session, r, c.v3.metadata.namespace, result));
    if (uid) ownerReferences.push({ ...r, uid });
    else result.droppedOwnerReferences.push({ kind: kind.kind, namespace: c.v3.metadata.namespace, name: c.v3.metadata.name ?? "", owner: { kind: r.kind, name: r.name, uid: r.uid } });
  }
  const body = copyBody(opts, c, schema, ownerReferences);
  if (stale) {
    await refreshCopy(opts, session, c, result, schema, body, index, hash);
    return;
  }
  const what = `${kind.kind} ${key}`;
  let outcome: { created: KubeObject } | { current: KubeObject };
  try {
    outcome = await withRetries(async () => {
      try {
        const ref = v3Of(opts, kind);
        const created = await session.slots.run(() => opts.client.create(ref, { ...body, apiVersion: apiVersionOf(ref) }, { fieldManager: fieldManagerOf(opts), signal: opts.signal }));
        if (c.renamedFrom !== undefined) await guardRenamedCreate(opts, kind, created);
        await opts.afterWrite?.(ref, created);
        return { created };
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
      // Created meanwhile (an earlier run that crashed after the create, or a user): read back. An
      // AlreadyExists the Calico API server gave (the v1 object exists) finds nothing in v3
      // storage, or finds the Calico API server's view again: both are retried.
      let current: KubeObject;
      try {
        current = await session.slots.run(() => opts.client.get(v3Of(opts, kind), c.v3.metadata.name ?? "", c.v3.metadata.namespace));
      } catch (err) {
        if (isNotFound(err)) throw new AggregatedAnswerError(`${what}: the create answered AlreadyExists but v3 storage has no such object (answered by the Calico API server)`, { cause: err });
        throw err;
      }
      assertFromV3Storage(what, current.metadata.uid, c.source.uid);
      return { current };
    }, syncRetryOptions(opts, result));
  } catch (err) {
    opts.onOutcome?.(kind.kind, "error");
    if (refusalOf(err)) throw new CreateRefusedError(kind, c.source, err as ApiError);
    throw new Error(`creating ${what}: ${(err as Error).message}`, { cause: err });
  }
  if ("created" in outcome) {
    const created = outcome.created;
    session.uidMap.set(viewUid, created.metadata.uid ?? "");
    index.set(key, { uid: created.metadata.uid ?? "", hash, migratedBy: opts.migrationUid });
    result.migrated++;
    opts.onOutcome?.(kind.kind, "migrated");
    return;
  }
  const current = outcome.current;
  const entry = v3Entry(kind, current, schema, fieldManagerOf(opts));
  index.set(key, entry);
  // Created meanwhile by an earlier run of this migration, from an older v1 version: brought up to date.
  if (isStaleCopy(opts, entry, c, hash)) await refreshCopy(opts, session, c, result, schema, body, index, hash);
  else await classifyExisting(opts, session, c, result, schema, entry, hash, current);
}

/**
 * The v3 uid of a Calico owner that nothing in this pass put in the uid map. A metadata-first
 * pass reads nothing of the objects in step with their copies, so an owner among them is looked
 * up when a dependent read in full needs it: the copy at the reference's name must be ours,
 * untouched and made from the current version of a v1 object whose v3-view uid is the
 * reference's. Anything else is not an owner in step (undefined: the reference is dropped and
 * reported, as for an owner missing from v1).
 */
async function resolveOwner(opts: EngineOptions, session: SyncSession, ref: OwnerReference, namespace: string | undefined, result: KindResult): Promise<string | undefined> {
  const kind = opts.metadataFirst ? kindByName(ref.kind) : undefined;
  if (!kind) return undefined;
  const ns = kind.namespaced ? namespace : undefined;
  const get = (resource: ResourceRef, name: string) => withRetries(async () => {
    try {
      return await session.slots.run(() => opts.client.get(resource, name, ns, opts.signal));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }, syncRetryOptions(opts, result));
  const copy = await get(v3Of(opts, kind), ref.name);
  const a = copy?.metadata.annotations ?? {};
  if (!copy || !isOurCopy(opts, { migratedBy: a[Names.migratedBy], sourceRv: a[Names.sourceResourceVersion] }) || !ownedOnlyBy(copy, fieldManagerOf(opts))) return undefined;
  const source = await get(v1Resource(kind), a[Names.sourceName] ?? ref.name);
  if (!source || source.metadata.resourceVersion !== a[Names.sourceResourceVersion] || viewUidOf(source.metadata.uid) !== ref.uid) return undefined;
  session.uidMap.set(ref.uid, copy.metadata.uid ?? "");
  return copy.metadata.uid;
}

async function classifyExisting(
  opts: EngineOptions,
  session: SyncSession,
  c: ConvertedObject,
  result: KindResult,
  schema: JsonSchema,
  existing: V3Entry,
  hash: string,
  current?: KubeObject,
): Promise<void> {
  const viewUid = c.v3.metadata.uid ?? "";
  if (existing.hash === hash) {
    session.uidMap.set(viewUid, existing.uid);
    result.skipped++;
    if (isOurCopy(opts, existing)) result.alreadyCopied++;
    opts.onOutcome?.(c.kind.kind, "skipped");
    return;
  }
  session.conflicting.add(viewUid);
  let v3Spec = current?.spec;
  if (v3Spec === undefined) {
    try {
      v3Spec = (await withRetries(async () => {
        const got = await session.slots.run(() => opts.client.get(v3Of(opts, c.kind), c.v3.metadata.name ?? "", c.v3.metadata.namespace));
        assertFromV3Storage(`${c.kind.kind} ${c.v3.metadata.name ?? ""}`, got.metadata.uid, c.source.uid);
        return got;
      }, syncRetryOptions(opts, result))).spec;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  const conflict = {
    kind: c.kind.kind,
    namespace: c.v3.metadata.namespace,
    name: c.v3.metadata.name ?? "",
    diffs: specDiff(c.kind.kind, c.v3.spec, v3Spec ?? {}, schema),
  };
  result.conflicts.push(conflict);
  opts.onConflict?.(conflict, c, v3Spec);
  opts.onOutcome?.(c.kind.kind, "conflict");
}

/** Retry options of a pass's requests, accounting retries and transitional time to `result`. */
export function syncRetryOptions(opts: EngineOptions, result: KindResult): WriteRetryOptions {
  return {
    clock: opts.clock,
    signal: opts.signal,
    transitionalBoundMs: opts.transitionalBoundMs,
    onRetry: () => opts.onRetry?.(result.kind),
    onTransitional: (ms) => (result.transitionalRetryMs += ms),
  };
}
