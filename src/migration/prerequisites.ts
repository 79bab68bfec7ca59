/**
 * The cheap checks that decide whether a migration may start: v1 CRDs to migrate, v3 CRDs to
 * migrate into, MutatingAdmissionPolicy served with Calico's policies bound, RBAC to list every
 * v1 kind, the v1 ClusterInformation to lock. Each failed check names its fix.
 */
import { CALICO_KINDS, CLUSTER_INFORMATION_V1, V1_GROUP, V3_GROUP, v1Resource } from "../calico/kinds.js";
import type { KubeClient } from "../kube/client.js";
import type { Discovery } from "../kube/discovery.js";
import { isForbidden, isNotFound } from "../kube/errors.js";
import type { KubeObject } from "../kube/object.js";
import type { ResourceRef } from "../kube/resource.js";
import { APISERVICE, APISERVICE_NAME, getAggregatedApiService, isAutomanaged, isAvailable } from "./apiservice.js";

export const CRDS: ResourceRef = {
  group: "apiextensions.k8s.io", version: "v1", plural: "customresourcedefinitions", namespaced: false, kind: "CustomResourceDefinition",
};

/** Calico's admission policies and bindings the v3 CRDs rely on. */
export const CALICO_ADMISSION = {
  policies: ["policytypes.policy.projectcalico.org", "tierlabel.policy.projectcalico.org"],
  bindings: ["set-policytypes-binding", "set-tier-label-binding"],
} as const;

/** Where the aggregated API stands. */
export type ApiServiceState = "aggregated" | "automanaged" | "absent";

/** What the prerequisite checks found. */
export interface Prerequisites {
  v1Crds: string[];
  v3Crds: string[];
  /** v3 CRDs of migrated kinds (or ClusterInformation) that are missing. */
  missingV3Crds: string[];
  mapVersion: "v1" | "v1beta1" | null;
  missingAdmission: string[];
  /** v1 kinds the caller may not list. */
  forbiddenKinds: string[];
  v1ClusterInformation: "ready" | "locked" | "missing";
  apiService: ApiServiceState;
  /** The aggregator calls the aggregated APIService Available (its Calico API server answers). */
  apiServiceAvailable: boolean;
}

/** CRD names by group. */
export async function crdNames(client: KubeClient, group: string): Promise<string[]> {
  const out: string[] = [];
  for await (const crd of client.listItems(CRDS)) {
    if ((crd.spec as { group?: string }).group === group) out.push(crd.metadata.name ?? "");
  }
  return out.sort();
}

/** Where the aggregated APIService stands. */
export async function apiServiceState(client: KubeClient): Promise<ApiServiceState> {
  try {
    return isAutomanaged(await client.get(APISERVICE, APISERVICE_NAME)) ? "automanaged" : "aggregated";
  } catch (err) {
    if (isNotFound(err)) return "absent";
    throw err;
  }
}

/** True when the aggregated APIService exists and its Available condition is True. */
export async function apiServiceAvailable(client: KubeClient): Promise<boolean> {
  const svc = await getAggregatedApiService(client);
  return svc !== undefined && isAvailable(svc);
}

/** v1 kinds the client may not list (an RBAC probe: one `limit=1` list per kind). */
export async function forbiddenV1Kinds(client: KubeClient): Promise<string[]> {
  const out: string[] = [];
  for (const kind of [...CALICO_KINDS.map(v1Resource), CLUSTER_INFORMATION_V1]) {
    try {
      await client.list(kind, { limit: 1 });
    } catch (err) {
      if (isForbidden(err)) out.push(`${kind.plural}.${V1_GROUP}`);
      else if (!isNotFound(err)) throw err;
    }
  }
  return out;
}

/** The MutatingAdmissionPolicy API version served, preferring v1. */
export async function mapVersion(discovery: Discovery): Promise<"v1" | "v1beta1" | null> {
  for (const v of ["v1", "v1beta1"] as const) {
    if (await discovery.serves(`admissionregistration.k8s.io/${v}`, "mutatingadmissionpolicies")) return v;
  }
  return null;
}

async function missingAdmissionObjects(client: KubeClient, version: "v1" | "v1beta1"): Promise<string[]> {
  const missing: string[] = [];
  const check = async (plural: string, kind: string, name: string) => {
    try {
      await client.get({ group: "admissionregistration.k8s.io", version, plural, namespaced: false, kind }, name);
    } catch (err) {
      if (isNotFound(err)) missing.push(`${kind} ${name}`);
      else if (!isForbidden(err)) throw err;
    }
  };
  for (const p of CALICO_ADMISSION.policies) await check("mutatingadmissionpolicies", "MutatingAdmissionPolicy", p);
  for (const b of CALICO_ADMISSION.bindings) await check("mutatingadmissionpolicybindings", "MutatingAdmissionPolicyBinding", b);
  return missing;
}

/** Runs every prerequisite check. */
export async function checkPrerequisites(client: KubeClient, discovery: Discovery): Promise<Prerequisites> {
  const v1Crds = await crdNames(client, V1_GROUP);
  const v3Crds = await crdNames(client, V3_GROUP);
  const wanted = [...CALICO_KINDS.map((c) => `${c.v3Plural}.${V3_GROUP}`), `clusterinformations.${V3_GROUP}`];
  const mv = await mapVersion(discovery);
  let ci: KubeObject | undefined;
  try {
    ci = await client.get(CLUSTER_INFORMATION_V1, "default");
  } catch (err) {
    if (!isNotFound(err) && !isForbidden(err)) throw err;
  }
  const ready = (ci?.spec as { datastoreReady?: boolean } | undefined)?.datastoreReady;
  return {
    v1Crds,
    v3Crds,
    missingV3Crds: wanted.filter((n) => !v3Crds.includes(n)),
    mapVersion: mv,
    missingAdmission: mv ? await missingAdmissionObjects(client, mv) : [],
    forbiddenKinds: await forbiddenV1Kinds(client),
    v1ClusterInformation: ci ? (ready === false ? "locked" : "ready") : "missing",
    apiService: await apiServiceState(client),
    apiServiceAvailable: await apiServiceAvailable(client),
  };
}
