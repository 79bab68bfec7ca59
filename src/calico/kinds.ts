/**
 * The Calico kinds this migration knows, as data: v1 storage plural, v3 plural, scope, order band,
 * and which odd conversion a kind needs. Everything else about a kind follows from this table.
 */
import type { ResourceRef } from "../kube/resource.js";

/** The API group of the aggregated API server's backing CRDs. */
export const V1_GROUP = "crd.projectcalico.org";
/** The API group of native v3 CRDs (and of the aggregated API). */
export const V3_GROUP = "projectcalico.org";
export const V1_VERSION = "v1";
export const V3_VERSION = "v3";

/** Odd conversions; every other kind takes the generic path. */
export type Converter = "generic" | "policy" | "tier" | "ipamConfig" | "blockAffinity" | "ipamBlock" | "ipamHandle";

/** One migrated kind. */
export interface CalicoKind {
  /** v3 kind name (as reported in status). */
  readonly kind: string;
  /** v1 CRD kind name (differs only for IPAMConfig). */
  readonly v1Kind: string;
  readonly v1Plural: string;
  readonly v3Plural: string;
  readonly namespaced: boolean;
  /** Lower bands are copied first; IPAM is last. */
  readonly order: number;
  readonly converter: Converter;
  /** The v3 CRD has a status subresource: status is not copied. */
  readonly v3Status: boolean;
}

function k(
  kind: string,
  v1Plural: string,
  order: number,
  opts: { namespaced?: boolean; converter?: Converter; v3Status?: boolean; v1Kind?: string; v3Plural?: string } = {},
): CalicoKind {
  return {
    kind,
    v1Kind: opts.v1Kind ?? kind,
    v1Plural,
    v3Plural: opts.v3Plural ?? v1Plural,
    namespaced: opts.namespaced ?? false,
    order,
    converter: opts.converter ?? "generic",
    v3Status: opts.v3Status ?? false,
  };
}

/** The 21 migrated kinds, in copy order (band, then table order). ClusterInformation is the lock, not a kind. */
export const CALICO_KINDS: readonly CalicoKind[] = [
  k("Tier", "tiers", 10, { converter: "tier", v3Status: true }),
  k("FelixConfiguration", "felixconfigurations", 20),
  k("BGPConfiguration", "bgpconfigurations", 20),
  k("KubeControllersConfiguration", "kubecontrollersconfigurations", 20, { v3Status: true }),
  k("IPPool", "ippools", 40, { v3Status: true }),
  k("IPReservation", "ipreservations", 40),
  k("BGPPeer", "bgppeers", 40),
  k("BGPFilter", "bgpfilters", 40),
  k("GlobalNetworkPolicy", "globalnetworkpolicies", 50, { converter: "policy" }),
  k("NetworkPolicy", "networkpolicies", 50, { converter: "policy", namespaced: true }),
  k("StagedGlobalNetworkPolicy", "stagedglobalnetworkpolicies", 50, { converter: "policy" }),
  k("StagedNetworkPolicy", "stagednetworkpolicies", 50, { converter: "policy", namespaced: true }),
  k("StagedKubernetesNetworkPolicy", "stagedkubernetesnetworkpolicies", 50, { namespaced: true }),
  k("HostEndpoint", "hostendpoints", 60),
  k("GlobalNetworkSet", "globalnetworksets", 60),
  k("NetworkSet", "networksets", 60, { namespaced: true }),
  k("IPAMConfiguration", "ipamconfigs", 100, { converter: "ipamConfig", v1Kind: "IPAMConfig", v3Plural: "ipamconfigurations" }),
  k("BlockAffinity", "blockaffinities", 100, { converter: "blockAffinity" }),
  k("IPAMBlock", "ipamblocks", 100, { converter: "ipamBlock" }),
  k("IPAMHandle", "ipamhandles", 100, { converter: "ipamHandle" }),
  k("CalicoNodeStatus", "caliconodestatuses", 110, { v3Status: true }),
];

/** The kind row for a v3 kind name, or undefined. */
export function kindByName(kind: string): CalicoKind | undefined {
  return CALICO_KINDS.find((c) => c.kind === kind);
}

/** The v1 (storage) resource of a kind. */
export function v1Resource(c: CalicoKind): ResourceRef {
  return { group: V1_GROUP, version: V1_VERSION, plural: c.v1Plural, namespaced: c.namespaced, kind: c.v1Kind };
}

/** The v3 (native CRD) resource of a kind. */
export function v3Resource(c: CalicoKind): ResourceRef {
  return { group: V3_GROUP, version: V3_VERSION, plural: c.v3Plural, namespaced: c.namespaced, kind: c.kind };
}

/** ClusterInformation, the datastore lock, in both groups. */
export const CLUSTER_INFORMATION_V1: ResourceRef = {
  group: V1_GROUP, version: V1_VERSION, plural: "clusterinformations", namespaced: false, kind: "ClusterInformation",
};
export const CLUSTER_INFORMATION_V3: ResourceRef = {
  group: V3_GROUP, version: V3_VERSION, plural: "clusterinformations", namespaced: false, kind: "ClusterInformation",
};

/** True for an apiVersion of either Calico group (`projectcalico.org`, `crd.projectcalico.org`, with or without version). */
export function isCalicoApiVersion(apiVersion: string | undefined): boolean {
  if (!apiVersion) return false;
  const group = apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.indexOf("/")) : apiVersion;
  return group === V3_GROUP || group === V1_GROUP;
}

/** Kinds grouped into their order bands, lowest band first. */
export function kindBands(kinds: readonly CalicoKind[] = CALICO_KINDS): CalicoKind[][] {
  const bands = new Map<number, CalicoKind[]>();
  for (const c of kinds) bands.set(c.order, [...(bands.get(c.order) ?? []), c]);
  return [...bands.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}
