/**
 * What an abort (or a refused migration) must leave exactly as it found it: every v1 object's
 * name, uid, labels, annotations, owner references and spec; v1 ClusterInformation's
 * datastoreReady and annotations; the aggregated APIService; and the owner references, labels
 * and annotations of non-Calico objects that have Calico owners. Taken before, compared after.
 */
import { CALICO_KINDS, CLUSTER_INFORMATION_V1, v1Resource } from "../../src/calico/kinds.js";
import type { KubeClient } from "../../src/kube/client.js";
import { isNotFound } from "../../src/kube/errors.js";
import { objectKey } from "../../src/kube/resource.js";
import { APISERVICE, APISERVICE_NAME } from "../../src/migration/apiservice.js";

const CONFIGMAPS = { group: "", version: "v1", plural: "configmaps", namespaced: true, kind: "ConfigMap" } as const;

/** The comparable state. */
export interface ClusterSnapshot {
  /** `Kind/ns/name` → JSON of {uid, labels, annotations, ownerReferences, spec}. */
  v1: Map<string, string>;
  clusterInformation: string;
  /** The APIService as saved (labels, spec), or "absent". */
  apiService: string;
  /** `ns/name` of ConfigMaps with owner references → JSON of {uid, ownerReferences, labels, annotations}. */
  dependents: Map<string, string>;
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : v);
}

/** Reads the state (the dependents: every ConfigMap in `namespaces` that has owner references). */
export async function takeSnapshot(admin: KubeClient, namespaces: readonly string[]): Promise<ClusterSnapshot> {
  const v1 = new Map<string, string>();
  for (const kind of CALICO_KINDS) {
    try {
      for await (const o of admin.listItems(v1Resource(kind))) {
        const m = o.metadata;
        v1.set(`${kind.kind}/${objectKey(m.namespace, m.name ?? "")}`, canonical({ uid: m.uid, labels: m.labels ?? {}, annotations: m.annotations ?? {}, ownerReferences: m.ownerReferences ?? [], spec: o.spec ?? {} }));
      }
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  let clusterInformation = "absent";
  try {
    const ci = await admin.get(CLUSTER_INFORMATION_V1, "default");
    // Not its uid: a test that deletes and restores it (as calico-node would) gives it a new one.
    clusterInformation = canonical({ annotations: ci.metadata.annotations ?? {}, labels: ci.metadata.labels ?? {}, spec: ci.spec });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  let apiService = "absent";
  try {
    const svc = await admin.get(APISERVICE, APISERVICE_NAME);
    apiService = canonical({ labels: svc.metadata.labels ?? {}, spec: svc.spec });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  const dependents = new Map<string, string>();
  for (const ns of namespaces) {
    for (const cm of await admin.listAll(CONFIGMAPS, { namespace: ns })) {
      if (!cm.metadata.ownerReferences?.length && !cm.metadata.labels?.["migration.projectcalico.org/detached-by"]) continue;
      dependents.set(`${ns}/${cm.metadata.name}`, canonical({ uid: cm.metadata.uid, ownerReferences: cm.metadata.ownerReferences ?? [], labels: cm.metadata.labels ?? {}, annotations: cm.metadata.annotations ?? {} }));
    }
  }
  return { v1, clusterInformation, apiService, dependents };
}

/** Every difference between two snapshots, as readable lines (empty when equal). */
export function snapshotDifferences(before: ClusterSnapshot, after: ClusterSnapshot): string[] {
  const out: string[] = [];
  const maps = (what: string, a: Map<string, string>, b: Map<string, string>) => {
    for (const [k, v] of a) {
      const w = b.get(k);
      if (w === undefined) out.push(`${what} ${k} is gone`);
      else if (w !== v) out.push(`${what} ${k} changed: ${v} → ${w}`);
    }
    for (const k of b.keys()) if (!a.has(k)) out.push(`${what} ${k} appeared`);
  };
  maps("v1", before.v1, after.v1);
  maps("dependent", before.dependents, after.dependents);
  if (before.clusterInformation !== after.clusterInformation) out.push(`v1 ClusterInformation changed: ${before.clusterInformation} → ${after.clusterInformation}`);
  if (before.apiService !== after.apiService) out.push(`APIService changed: ${before.apiService} → ${after.apiService}`);
  return out;
}
