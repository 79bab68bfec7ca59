/**
 * managedFields of objects written through the pre-copy door name the door's version. Once that
 * version is removed from the CRD, Kubernetes fails every server-side apply of such an object
 * ("request to convert CR to an invalid group/version", kubernetes/kubernetes#111937) — a GitOps
 * tool would be locked out of the copies. The door has exactly v3's schema, so an entry's field
 * set means the same under v3: relabelling the entries, while the door still exists, is exact.
 */
import type { KubeClient } from "../kube/client.js";
import { isConflict, isNotFound } from "../kube/errors.js";
import type { KubeObject } from "../kube/object.js";
import type { ResourceRef } from "../kube/resource.js";

interface ManagedFieldsEntry {
  apiVersion?: string;
  [field: string]: unknown;
}

/** The object's managedFields with every `from` entry relabelled `to`, or undefined when none names `from`. */
export function relabelledManagedFields(obj: KubeObject, from: string, to: string): ManagedFieldsEntry[] | undefined {
  const entries = (obj.metadata.managedFields ?? []) as ManagedFieldsEntry[];
  if (!entries.some((e) => e.apiVersion === from)) return undefined;
  return entries.map((e) => (e.apiVersion === from ? { ...e, apiVersion: to } : e));
}

/**
 * Rewrites one object's managedFields entries from apiVersion `from` to `to`, with the object's
 * resourceVersion as precondition (re-read and retried when someone wrote it meanwhile). A patch
 * that changes only managedFields adds no entry of its own. Returns false when there was nothing
 * to relabel or the object is gone.
 */
export async function relabelManagedFields(client: KubeClient, ref: ResourceRef, obj: KubeObject, from: string, to: string): Promise<boolean> {
  let current = obj;
  for (let attempt = 0; ; attempt++) {
    const entries = relabelledManagedFields(current, from, to);
    if (!entries) return false;
    try {
      await client.patch(ref, current.metadata.name ?? "", { metadata: { resourceVersion: current.metadata.resourceVersion, managedFields: entries } }, "merge", current.metadata.namespace);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      if (!isConflict(err) || attempt >= 10) throw err;
    }
    try {
      current = await client.get(ref, current.metadata.name ?? "", current.metadata.namespace);
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }
}
