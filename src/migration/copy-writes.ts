/**
 * How a copy is written to v3 CRD storage: the body created from a converted v1 object (it records
 * who made it and from which v1 resourceVersion), the update that brings a copy of ours up to date
 * when its v1 source changed after it was made (the pre-copy runs while v1 keeps changing), the
 * removal of a copy of ours whose source is gone, and the guard against a create that a lagging
 * HA kube-apiserver handed to the Calico API server. A copy someone else has changed is never
 * written: it is classified (equal or conflict) like any user object.
 */
import { Names } from "../api/datastore-migration.js";
import { v1Resource, v3Resource, type CalicoKind } from "../calico/kinds.js";
import type { ConvertedObject } from "../convert/convert.js";
import type { JsonSchema } from "../convert/schema.js";
import { isConflict, isNotFound } from "../kube/errors.js";
import type { KubeObject, OwnerReference } from "../kube/object.js";
import { apiVersionOf, type ResourceRef } from "../kube/resource.js";
import type { EngineOptions } from "./engine-options.js";
import type { Limiter } from "./pool.js";
import { v3Body } from "./v3-body.js";
import { v3Entry, type V3Entry } from "./v3-index.js";
import { AggregatedAnswerError, assertFromV3Storage, isAggregatedView } from "./v3-origin.js";

/** The field manager of the copy's writes unless the engine is given another. */
export const COPY_FIELD_MANAGER = "calico-datastore-migration";

/** The field manager of every write of the copy. */
export function fieldManagerOf(opts: EngineOptions): string {
  return opts.fieldManager ?? COPY_FIELD_MANAGER;
}

/** Where v3 CRD storage of a kind is read and written in this run. */
export function v3Of(opts: EngineOptions, kind: CalicoKind): ResourceRef {
  return (opts.v3Storage ?? v3Resource)(kind);
}

/** A copy this migration made (it records its v1 source's resourceVersion). */
export function isOurCopy(opts: EngineOptions, e: Pick<V3Entry, "migratedBy" | "sourceRv">): boolean {
  return e.migratedBy === opts.migrationUid && e.sourceRv !== undefined;
}

/**
 * A copy of ours that nobody else has changed, made from an older version of its v1 source (or
 * whose spec no longer matches it): brought up to date rather than reported as a conflict.
 */
export function isStaleCopy(opts: EngineOptions, e: V3Entry, c: ConvertedObject, hash: string): boolean {
  return isOurCopy(opts, e) && e.untouched === true && (e.sourceRv !== (c.source.resourceVersion ?? "") || e.hash !== hash);
}

/** The v3 object to write for a converted v1 object (owner references already mapped): it records who made it and from which v1 resourceVersion. */
export function copyBody(opts: EngineOptions, c: ConvertedObject, schema: JsonSchema, ownerReferences: OwnerReference[]): KubeObject {
  const source = { [Names.migratedBy]: opts.migrationUid, [Names.sourceResourceVersion]: c.source.resourceVersion ?? "" };
  // A renamed object (legacy policy names, IPAM names from the spec) records its CR name, so that a metadata-only list finds its source.
  if (c.renamedFrom !== undefined) Object.assign(source, { [Names.sourceName]: c.renamedFrom });
  return v3Body(c, schema, { annotations: source, ownerReferences });
}

/** What an update of a stale copy came to. */
export type UpdateOutcome = { updated: KubeObject } | { current: KubeObject } | { gone: true };

/**
 * Replaces a stale copy of ours with `body`, re-reading it first: if someone else has changed it
 * meanwhile it is not written (`current` is returned for classification); a write conflict
 * re-reads and tries again.
 */
export async function updateCopy(opts: EngineOptions, slots: Limiter, c: ConvertedObject, body: KubeObject, schema: JsonSchema): Promise<UpdateOutcome> {
  const ref = v3Of(opts, c.kind);
  const name = c.v3.metadata.name ?? "";
  const namespace = c.v3.metadata.namespace;
  for (let attempt = 0; ; attempt++) {
    let current: KubeObject;
    try {
      current = await slots.run(() => opts.client.get(ref, name, namespace, opts.signal));
    } catch (err) {
      if (isNotFound(err)) return { gone: true };
      throw err;
    }
    assertFromV3Storage(`${c.kind.kind} ${name}`, current.metadata.uid, c.source.uid);
    const entry = v3Entry(c.kind, current, schema, fieldManagerOf(opts));
    if (!isOurCopy(opts, entry) || !entry.untouched) return { current };
    const next: KubeObject = { ...body, apiVersion: apiVersionOf(ref), metadata: { ...body.metadata, uid: current.metadata.uid, resourceVersion: current.metadata.resourceVersion } };
    try {
      return { updated: await slots.run(() => opts.client.update(ref, next, { fieldManager: fieldManagerOf(opts), signal: opts.signal })) };
    } catch (err) {
      if (isNotFound(err)) return { gone: true };
      if (!isConflict(err) || attempt >= 5) throw err;
    }
  }
}

/**
 * Deletes a copy of ours whose v1 source is gone, if it is still untouched (re-read; deleted with
 * its resourceVersion as precondition). Returns false when it was changed by someone else.
 */
export async function removeStaleCopy(opts: EngineOptions, slots: Limiter, kind: CalicoKind, where: { namespace?: string; name: string }, schema: JsonSchema): Promise<boolean> {
  const ref = v3Of(opts, kind);
  for (let attempt = 0; ; attempt++) {
    let current: KubeObject;
    try {
      current = await slots.run(() => opts.client.get(ref, where.name, where.namespace, opts.signal));
    } catch (err) {
      if (isNotFound(err)) return true;
      throw err;
    }
    const entry = v3Entry(kind, current, schema, fieldManagerOf(opts));
    if (!isOurCopy(opts, entry) || !entry.untouched) return false;
    try {
      await slots.run(() => opts.client.delete(ref, where.name, where.namespace, { uid: current.metadata.uid, resourceVersion: current.metadata.resourceVersion }));
      return true;
    } catch (err) {
      if (isNotFound(err)) return true;
      if (!isConflict(err) || attempt >= 5) throw err;
    }
  }
}

/**
 * A renamed object (legacy `default.foo` → `foo`) has no v1 CR of its v3 name, so a create the
 * Calico API server answered succeeds there: it stored our copy in v1 under the new name. That CR
 * (recognised by its uid, and carrying our migrated-by) is removed again and the create retried.
 */
export async function guardRenamedCreate(opts: EngineOptions, kind: CalicoKind, created: KubeObject): Promise<void> {
  const name = created.metadata.name ?? "";
  let cr: KubeObject;
  try {
    cr = await opts.client.get(v1Resource(kind), name, created.metadata.namespace);
  } catch (err) {
    if (isNotFound(err)) return;
    throw err;
  }
  if (!isAggregatedView(created.metadata.uid, cr.metadata.uid)) return;
  try {
    await opts.client.delete(v1Resource(kind), name, created.metadata.namespace, { uid: cr.metadata.uid });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  throw new AggregatedAnswerError(`${kind.kind} ${name}: the create reached the Calico API server, which stored it in v1; that v1 object was removed again`);
}
