/**
 * Rewriting a foreign dependent's owner references without losing anyone else's: each rewrite
 * starts from the object as it is now and is written with its resourceVersion as precondition;
 * a 409 means someone wrote in between (an owner reference added, the GC trimming one), so read
 * again and recompute. Only the Calico references the migration manages are ever replaced.
 */
import { isCalicoApiVersion } from "../calico/kinds.js";
import type { KubeClient } from "../kube/client.js";
import { isConflict, isNotFound } from "../kube/errors.js";
import type { KubeObject, OwnerReference } from "../kube/object.js";
import type { ResourceRef } from "../kube/resource.js";

/** The object a rewrite targets: one name, and the uid it must still have. */
export interface RewriteTarget {
  resource: ResourceRef;
  namespace?: string;
  name: string;
  uid: string;
}

/** How many times a rewrite meets a conflicting write before it gives up (the reconcile comes back). */
const ATTEMPTS = 10;

/**
 * Reads the target, asks `change` for the metadata to merge-patch (undefined: nothing to do) and
 * writes it under the resourceVersion just read, again from a fresh read after each 409. False
 * when the object is gone or is another object by now (a different uid): it is not ours to edit.
 */
export async function rewriteMetadata(
  client: KubeClient,
  target: RewriteTarget,
  change: (current: KubeObject) => Record<string, unknown> | undefined,
): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    let current: KubeObject;
    try {
      current = await client.get(target.resource, target.name, target.namespace);
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
    if (target.uid && current.metadata.uid !== target.uid) return false;
    const metadata = change(current);
    if (!metadata) return true;
    try {
      await client.patch(target.resource, target.name, { metadata: { ...metadata, resourceVersion: current.metadata.resourceVersion } }, "merge", target.namespace);
      return true;
    } catch (err) {
      if (!isConflict(err) || attempt >= ATTEMPTS) throw err;
    }
  }
}

/** True when both name the same Calico object (any Calico apiVersion, any uid). */
function sameCalicoOwner(a: OwnerReference, b: OwnerReference): boolean {
  return isCalicoApiVersion(a.apiVersion) && isCalicoApiVersion(b.apiVersion) && a.kind === b.kind && a.name === b.name;
}

/**
 * The owner references an object should have once its recorded `originals` are put back, each
 * Calico original as `calico` maps it (itself on restore, the v3 owner on re-attach, undefined to
 * leave it out). The originals keep their order; every current reference stays, except a Calico
 * one naming a recorded Calico owner (ours: an earlier re-attach), which the mapped one replaces.
 * The server allows one controller reference: a controller added meanwhile keeps that role.
 */
export function rebuildOwnerReferences(
  current: readonly OwnerReference[],
  originals: readonly OwnerReference[],
  calico: (original: OwnerReference) => OwnerReference | undefined,
): OwnerReference[] {
  const ours = (r: OwnerReference) => originals.some((o) => sameCalicoOwner(o, r));
  const othersController = current.some((r) => !ours(r) && r.controller);
  const out: OwnerReference[] = [];
  const add = (r: OwnerReference) => {
    if (!out.some((o) => o.uid === r.uid)) out.push(r);
  };
  for (const original of originals) {
    if (!isCalicoApiVersion(original.apiVersion)) {
      // Never taken off by the detach: kept only while still there (someone may have removed it).
      const still = current.find((r) => r.uid === original.uid);
      if (still) add(still);
      continue;
    }
    const mapped = calico(original);
    if (mapped) add(othersController && mapped.controller ? { ...mapped, controller: false } : mapped);
  }
  for (const r of current) if (!ours(r)) add(r);
  return out;
}
