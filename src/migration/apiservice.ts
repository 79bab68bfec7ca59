/**
 * The aggregated APIService `v3.projectcalico.org`: saved before it is unregistered (so an abort
 * can restore it exactly) and restored so that it stays (not replaced by an automanaged one).
 */
import type { KubeClient } from "../kube/client.js";
import { isAlreadyExists, isConflict, isNotFound } from "../kube/errors.js";
import type { KubeObject } from "../kube/object.js";
import type { ResourceRef } from "../kube/resource.js";

export const APISERVICE: ResourceRef = {
  group: "apiregistration.k8s.io", version: "v1", plural: "apiservices", namespaced: false, kind: "APIService",
};
export const APISERVICE_NAME = "v3.projectcalico.org";
export const AUTOMANAGED_LABEL = "kube-aggregator.kubernetes.io/automanaged";

/** True for the APIService Kubernetes registers itself for CRDs (not the Calico API server). */
export function isAutomanaged(svc: KubeObject): boolean {
  const v = svc.metadata.labels?.[AUTOMANAGED_LABEL];
  return v === "true" || v === "onstart";
}

/** True when the APIService's Available condition is True. */
export function isAvailable(svc: KubeObject): boolean {
  const conditions = (svc.status as { conditions?: { type?: string; status?: string }[] } | undefined)?.conditions ?? [];
  return conditions.some((c) => c.type === "Available" && c.status === "True");
}

/** The aggregated APIService, or undefined when absent or automanaged. */
export async function getAggregatedApiService(client: KubeClient): Promise<KubeObject | undefined> {
  try {
    const svc = await client.get(APISERVICE, APISERVICE_NAME);
    return isAutomanaged(svc) ? undefined : svc;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** The JSON to save: the object without server-set metadata and status. */
export function savedForm(svc: KubeObject): string {
  const metadata = { ...svc.metadata };
  for (const k of ["resourceVersion", "uid", "creationTimestamp", "managedFields", "generation", "selfLink"]) delete metadata[k];
  return JSON.stringify({ apiVersion: "apiregistration.k8s.io/v1", kind: "APIService", metadata, spec: svc.spec });
}

/**
 * Unregisters the aggregated APIService. `save` is called with its saved form first (the caller
 * persists it, e.g. in an annotation on the CR) unless `alreadySaved`. Absent or automanaged: nothing to do.
 */
export async function saveAndDeleteApiService(
  client: KubeClient,
  alreadySaved: boolean,
  save: (json: string) => Promise<void>,
): Promise<"deleted" | "absent"> {
  const svc = await getAggregatedApiService(client);
  if (!svc) return "absent";
  if (!alreadySaved) await save(savedForm(svc));
  try {
    await client.delete(APISERVICE, APISERVICE_NAME, undefined, { uid: svc.metadata.uid });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  return "deleted";
}

/**
 * Registers the saved APIService again. An automanaged one (Kubernetes re-creates it while the
 * v3 CRDs exist) is replaced; an existing user-managed one is left as it is.
 */
export async function restoreApiService(client: KubeClient, saved: string | undefined): Promise<"restored" | "present" | "nothing-saved"> {
  if (!saved) return "nothing-saved";
  const obj = JSON.parse(saved) as KubeObject;
  for (let attempt = 0; attempt < 20; attempt++) {
    let existing: KubeObject | undefined;
    try {
      existing = await client.get(APISERVICE, APISERVICE_NAME);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    try {
      if (!existing) {
        await client.create(APISERVICE, obj);
        return "restored";
      }
      if (!isAutomanaged(existing)) return attempt === 0 ? "present" : "restored";
      // Taking over the automanaged object in one update (label gone, service set) leaves
      // Kubernetes' autoregister controller nothing to reclaim; delete + create would race it.
      const labels = { ...(existing.metadata.labels ?? {}) };
      delete labels[AUTOMANAGED_LABEL];
      await client.update(APISERVICE, {
        ...obj,
        metadata: { ...obj.metadata, labels, resourceVersion: existing.metadata.resourceVersion },
      });
      return "restored";
    } catch (err) {
      if (!isAlreadyExists(err) && !isConflict(err)) throw err;
    }
  }
  throw new Error(`restoring APIService ${APISERVICE_NAME}: it kept changing under us`);
}
