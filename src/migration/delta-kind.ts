/**
 * One pass over one kind that reads metadata only: after a pre-copy, most v1 objects have a copy of
 * ours in v3 storage that records the v1 resourceVersion it was made from. Both sides are listed
 * as PartialObjectMetadata (no specs); a v1 object whose copy is ours, untouched since we wrote it
 * (managedFields) and made from its current resourceVersion is in step and costs nothing more. Only
 * the others are read in full and handled by the same rules as the full pass (create, refresh,
 * classify as equal or conflict), and copies of ours whose source is gone are removed. The work is
 * proportional to what changed since the copy, not to what exists; when most of a kind changed, the
 * full pass is cheaper and is used instead.
 */
import { v1Resource, type CalicoKind } from "../calico/kinds.js";
import { convertV1ToV3 } from "../convert/convert.js";
import type { JsonSchema } from "../convert/schema.js";
import { isNotFound } from "../kube/errors.js";
import type { KubeObject } from "../kube/object.js";
import type { EngineOptions } from "./engine-options.js";
import { fieldManagerOf, v3Of } from "./copy-writes.js";
import { forEachConcurrent } from "./pool.js";
import { keyOfConverted, processObject, settleSourceless, syncKind, syncRetryOptions, whereOf, type SyncMode, type SyncSession } from "./sync-kind.js";
import { emptyKindResult, type KindResult } from "./types.js";
import { KindMetadata, listKindMetadata } from "./kind-metadata.js";
import { v3Entry, type V3Entry } from "./v3-index.js";
import { assertFromV3Storage } from "./v3-origin.js";
import { withRetries } from "./write-retry.js";

/** Out-of-step objects above which a kind is handled by the full pass (reading each in full costs two GETs). */
export function fullPassThreshold(total: number): number {
  return Math.max(1000, Math.floor(total / 10));
}

/** Runs one metadata-first pass over a kind (modes "copy" and "verify"; "detect" uses the full pass). */
export async function deltaKind(
  opts: EngineOptions,
  session: SyncSession,
  kind: CalicoKind,
  schema: JsonSchema,
  mode: Exclude<SyncMode, "detect">,
  onPage?: (partial: KindResult) => void,
): Promise<KindResult> {
  const started = Date.now();
  const pageSize = opts.pageSize ?? 500;
  const manager = fieldManagerOf(opts);
  const result = emptyKindResult(kind.kind);
  const retry = syncRetryOptions(opts, result);

  // Both sides, metadata only: as the last catch-up pass listed them and a replay brought them up
  // to date (the final delta), or listed now (both at once).
  const known = opts.knownMetadata?.(kind);
  const meta = known ?? (await withRetries(() => listKindMetadata(opts.client, v1Resource(kind), v3Of(opts, kind), kind.namespaced, new KindMetadata(opts.migrationUid, manager), pageSize, opts.signal), retry));
  if (!known) opts.keepMetadata?.(kind, meta);

  // In step, or to be read in full.
  const seenV3 = new Set<string>();
  const outOfStep: string[] = [];
  let inStep = 0;
  for (const [key, copy] of meta.v1()) {
    if (copy !== undefined) inStep++;
    else outOfStep.push(key);
  }

  const total = inStep + outOfStep.length;
  if (outOfStep.length > fullPassThreshold(total)) {
    opts.log?.info({ kind: kind.kind, total, outOfStep: outOfStep.length }, "most of the kind changed since its copy: full pass");
    return syncKind(opts, session, kind, schema, mode, onPage);
  }

  // In step: nothing is read. Their uids are not known here; an owner among them that something
  // read in full references is looked up then (resolveOwner).
  for (const [key, copy] of meta.v1()) {
    if (copy === undefined) continue;
    seenV3.add(copy);
    if (copy !== key) {
      const from = whereOf(key);
      result.renames.push({ kind: kind.kind, namespace: from.namespace, from: from.name, to: whereOf(copy).name });
    }
    opts.onOutcome?.(kind.kind, "skipped");
  }
  result.total = total;
  result.skipped = inStep;
  result.alreadyCopied = inStep;
  onPage?.(result);

  // What changed since its copy (or has none): read in full, both sides, and handled as the full pass would.
  await forEachConcurrent(outOfStep, opts.concurrency ?? 16, async (key) => {
    const where = whereOf(key);
    let cr: KubeObject;
    try {
      cr = await withRetries(() => session.slots.run(() => opts.client.get(v1Resource(kind), where.name, where.namespace, opts.signal)), retry);
    } catch (err) {
      // Deleted since the list (only while v1 is not locked): its copy, if any, is removed below.
      if (isNotFound(err)) {
        result.total--;
        return;
      }
      throw err;
    }
    const c = convertV1ToV3(kind, cr);
    const target = keyOfConverted(c);
    seenV3.add(target);
    if (c.renamedFrom !== undefined) result.renames.push({ kind: kind.kind, namespace: c.v3.metadata.namespace, from: c.renamedFrom, to: c.v3.metadata.name ?? "" });
    const index = new Map<string, V3Entry>();
    if (meta.hasV3(target)) {
      const current = await withRetries(async () => {
        try {
          const got = await session.slots.run(() => opts.client.get(v3Of(opts, kind), c.v3.metadata.name ?? "", c.v3.metadata.namespace, opts.signal));
          assertFromV3Storage(`${kind.kind} ${target}`, got.metadata.uid, c.source.uid);
          return got;
        } catch (err) {
          if (isNotFound(err)) return undefined;
          throw err;
        }
      }, retry);
      if (current) index.set(target, v3Entry(kind, current, schema, manager));
    }
    await processObject(opts, session, c, result, schema, index, mode, true);
  });
  onPage?.(result);

  // v3 objects that no v1 object maps to: copies of ours (untouched) are removed, the rest reported in verify mode.
  await settleSourceless(opts, session, kind, schema, mode, result, meta.v3(), seenV3);
  result.durationMs = Date.now() - started;
  return result;
}
