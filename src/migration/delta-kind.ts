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
import { convertUid } from "../convert/uid.js";
import { isNotFound } from "../kube/errors.js";
import type { KubeObject } from "../kube/object.js";
import type { EngineOptions } from "./engine-options.js";
import { fieldManagerOf, v3Of } from "./copy-writes.js";
import { forEachConcurrent } from "./pool.js";
import { keyOfConverted, processObject, settleSourceless, syncKind, syncRetryOptions, whereOf, type SyncMode, type SyncSession } from "./sync-kind.js";
import { emptyKindResult, type KindResult } from "./types.js";
import { KindMetadata, listKindMetadata, type V3Meta } from "./kind-metadata.js";
import { v3Entry, type V3Entry } from "./v3-index.js";
import { assertFromV3Storage } from "./v3-origin.js";
import { withRetries } from "./write-retry.js";

/** Out-of-step objects above which a kind is handled by the full pass (reading each in full costs two GETs). */
export function fullPassThreshold(total: number): number {
  return Math.max(1000, Math.floor(total / 10));
}

/** The v3-view uid a v1 object's references carry, or undefined when its uid has none (the full read reports it). */
function viewUid(v1Uid: string | undefined): string | undefined {
  try {
    return convertUid(v1Uid ?? "");
  } catch {
    return undefined;
  }
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
  const inStep: { v3: V3Meta; viewUid: string; key: string }[] = [];
  for (const [key, cr] of meta.v1) {
    const copy = meta.copies.get(key);
    const uid = viewUid(cr.uid);
    if (copy && copy.untouched && copy.sourceRv === cr.rv && uid !== undefined) inStep.push({ v3: copy, viewUid: uid, key });
    else outOfStep.push(key);
  }

  const total = inStep.length + outOfStep.length;
  if (outOfStep.length > fullPassThreshold(total)) {
    opts.log?.info({ kind: kind.kind, total, outOfStep: outOfStep.length }, "most of the kind changed since its copy: full pass");
    return syncKind(opts, session, kind, schema, mode, onPage);
  }

  for (const s of inStep) {
    seenV3.add(s.v3.key);
    session.uidMap.set(s.viewUid, s.v3.uid);
    const from = whereOf(s.key);
    const v3Name = whereOf(s.v3.key).name;
    if (v3Name !== from.name) result.renames.push({ kind: kind.kind, namespace: from.namespace, from: from.name, to: v3Name });
    opts.onOutcome?.(kind.kind, "skipped");
  }
  result.total = total;
  result.skipped = inStep.length;
  result.alreadyCopied = inStep.length;
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
    if (meta.v3.has(target)) {
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
  await settleSourceless(opts, session, kind, schema, mode, result, meta.v3, seenV3);
  result.durationMs = Date.now() - started;
  return result;
}
