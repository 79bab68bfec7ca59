/**
 * Fidelity, as a user sees it: for every kind, what a user reads through the live Calico API
 * server (projectcalico.org/v3, aggregated) before the migration equals what they read from the v3
 * CRDs after it, except the documented differences listed here. Objects are created through the
 * live API where users create them; legacy `default.` policies and IPAM objects are written to v1
 * storage the way old releases and libcalico's IPAM code did.
 *
 * Measured on the Calico API server stand-in (test/harness/calico-apiserver.ts): Calico's own
 * server cannot be built from the Go module proxy (docs/architecture.md).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { CALICO_KINDS, V3_GROUP, type CalicoKind } from "../../src/calico/kinds.js";
import type { KubeObject } from "../../src/kube/object.js";
import { objectKey, type ResourceRef } from "../../src/kube/resource.js";
import { resetApiServerMode } from "../harness/api-server-mode.js";
import { installControllerManifests, startController, type RunningController } from "../harness/controller.js";
import { createMigration, switchAllComponents, waitPhase } from "../harness/migration-cr.js";
import { createThroughApi, seedSampleCluster } from "../harness/sample-cluster.js";
import { sharedCluster, type TestCluster } from "../harness/shared-cluster.js";

/**
 * The documented differences between a v3 object read through the Calico API server and the same
 * object read from the v3 CRDs after the migration (docs/architecture.md, "Fidelity").
 */
const DOCUMENTED = {
  /** Legacy default-tier policies stored as `default.<name>` keep their v3 name; nothing else is renamed. */
  renames: true,
  /** A new uid (CRD storage assigns it); Calico owner references point at the owner's new uid. */
  uid: true,
  /** resourceVersion, creationTimestamp, generation and managedFields are the CRD object's own. */
  serverMetadata: ["resourceVersion", "creationTimestamp", "generation", "managedFields"],
  /** Our annotations on every copy: who made it, and from which v1 resourceVersion. */
  annotations: ["migration.projectcalico.org/migrated-by", "migration.projectcalico.org/source-resource-version", "migration.projectcalico.org/source-name"],
  /** Calico's tier admission policy labels tiered policies with their tier. */
  labels: ["projectcalico.org/tier"],
  /**
   * Policies stored without `types` (written by old releases straight to v1) get them from
   * Calico's admission defaulting; one created through the API has them already (libcalico's client).
   */
  specAddedByAdmission: ["types"],
} as const;

function v3Ref(kind: CalicoKind): ResourceRef {
  return { group: V3_GROUP, version: "v3", plural: kind.v3Plural, namespaced: kind.namespaced, kind: kind.kind };
}

/** Reads every object of every kind through projectcalico.org/v3, keyed `Kind/ns/name`. */
async function readAll(cluster: TestCluster): Promise<Map<string, KubeObject>> {
  const out = new Map<string, KubeObject>();
  for (const kind of CALICO_KINDS) {
    for await (const obj of cluster.admin.listItems(v3Ref(kind))) out.set(`${kind.kind}/${objectKey(obj.metadata.namespace, obj.metadata.name ?? "")}`, obj);
  }
  return out;
}

function without(map: Record<string, string> | undefined, keys: readonly string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(map ?? {}).filter(([k]) => !keys.includes(k)).sort(([a], [b]) => a.localeCompare(b)));
}

/** Every path where two JSON values differ. */
function diffPaths(a: unknown, b: unknown, path = ""): string[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    return [...new Set([...Object.keys(a), ...Object.keys(b)])].sort().flatMap((k) => diffPaths(a[k], b[k], `${path}.${k}`));
  }
  return [path || "."];
}

describe("fidelity: read through the Calico API server before = read from the v3 CRDs after", () => {
  let cluster: TestCluster;
  let controller: RunningController;
  let before_: Map<string, KubeObject>;
  let after_: Map<string, KubeObject>;

  before(async () => {
    cluster = await sharedCluster();
    await resetApiServerMode(cluster.admin);
    // The optional foreign-owner role: the sample cluster's foreign dependent must keep its owner through the migration (foreign owner references).
    await installControllerManifests(cluster.admin, { foreignOwnerRole: true });
    await seedSampleCluster(cluster.admin, { throughApi: true });
    // Metadata users set: annotations of their own, and a Calico owner through the API's own uid.
    const tier = await cluster.admin.request<KubeObject>("GET", "/apis/projectcalico.org/v3/tiers/security");
    await createThroughApi(cluster.admin, {
      kind: "GlobalNetworkSet",
      metadata: {
        name: "owned-set", labels: { app: "x" }, annotations: { "example.com/note": "kept" },
        ownerReferences: [{ apiVersion: "projectcalico.org/v3", kind: "Tier", name: "security", uid: tier.metadata.uid ?? "" }],
      },
      spec: { nets: ["192.0.2.0/28"] },
    });
    before_ = await readAll(cluster);
    controller = await startController(cluster);
    await createMigration(cluster.admin);
    await waitPhase(cluster.admin, "Converged", { timeoutMs: 180_000 });
    after_ = await readAll(cluster);
    await switchAllComponents(cluster.admin);
    await waitPhase(cluster.admin, "Complete", { timeoutMs: 120_000 });
  });

  after(async () => {
    await controller?.stop();
  });

  test("every kind was read before the migration, IPAM included", () => {
    const kinds = new Set([...before_.keys()].map((k) => k.split("/")[0]));
    for (const k of ["Tier", "GlobalNetworkPolicy", "NetworkPolicy", "IPPool", "IPAMBlock", "IPAMHandle", "BlockAffinity", "IPAMConfiguration", "BGPPeer", "HostEndpoint"]) {
      assert.ok(kinds.has(k), `${k} read through the Calico API server (have: ${[...kinds].join(", ")})`);
    }
  });

  test("the same objects, under the same names", () => {
    assert.deepEqual([...after_.keys()].sort(), [...before_.keys()].sort());
  });

  test("the same spec, labels, annotations and owner references but for the documented differences", () => {
    const uidOf = (m: Map<string, KubeObject>) => new Map([...m.entries()].map(([k, o]) => [o.metadata.uid ?? "", k]));
    const beforeByUid = uidOf(before_);
    const afterKeyToUid = new Map([...after_.entries()].map(([k, o]) => [k, o.metadata.uid ?? ""]));
    const problems: string[] = [];
    for (const [key, b] of before_) {
      const a = after_.get(key);
      if (!a) continue;
      const added = DOCUMENTED.specAddedByAdmission.filter((f) => (b.spec as Record<string, unknown> | undefined)?.[f] === undefined);
      const spec = diffPaths(b.spec, a.spec).filter((p) => !added.some((f) => p === `.${f}`));
      if (spec.length) problems.push(`${key}: spec differs at ${spec.join(", ")}`);
      if (JSON.stringify(without(b.metadata.labels, DOCUMENTED.labels)) !== JSON.stringify(without(a.metadata.labels, DOCUMENTED.labels))) problems.push(`${key}: labels ${JSON.stringify(b.metadata.labels)} → ${JSON.stringify(a.metadata.labels)}`);
      if (JSON.stringify(without(b.metadata.annotations, DOCUMENTED.annotations)) !== JSON.stringify(without(a.metadata.annotations, DOCUMENTED.annotations))) problems.push(`${key}: annotations ${JSON.stringify(b.metadata.annotations)} → ${JSON.stringify(a.metadata.annotations)}`);
      if (a.metadata.uid === b.metadata.uid) problems.push(`${key}: uid unchanged (a copy must have CRD storage's own uid)`);
      // Owner references: the same owner by kind and name, its uid the owner's new one.
      const expected = (b.metadata.ownerReferences ?? []).map((r) => {
        const owner = beforeByUid.get(r.uid);
        return { ...r, uid: owner ? afterKeyToUid.get(owner) : r.uid };
      });
      if (JSON.stringify(expected) !== JSON.stringify(a.metadata.ownerReferences ?? [])) problems.push(`${key}: owner references ${JSON.stringify(b.metadata.ownerReferences)} → ${JSON.stringify(a.metadata.ownerReferences)}`);
      for (const field of Object.keys(a.metadata)) {
        if (["name", "namespace", "uid", "labels", "annotations", "ownerReferences", "finalizers", ...DOCUMENTED.serverMetadata].includes(field)) continue;
        if (JSON.stringify(a.metadata[field]) !== JSON.stringify(b.metadata[field])) problems.push(`${key}: metadata.${field} differs`);
      }
    }
    assert.deepEqual(problems, []);
  });

  test("the Calico owner reference set through the API points at the owner's copy", () => {
    const set = after_.get("GlobalNetworkSet/owned-set");
    const tier = after_.get("Tier/security");
    assert.equal(set?.metadata.ownerReferences?.[0]?.uid, tier?.metadata.uid);
  });
});
