/**
 * What blocks a migration before the lock: the cluster stays as it was (v1 unlocked, the
 * APIService registered, phase Pending) and status.message names the problem, until it is fixed.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { migrationResource, Names } from "../../src/api/datastore-migration.js";
import { kindByName, v1Resource, v3Resource, type CalicoKind } from "../../src/calico/kinds.js";
import type { KubeClient } from "../../src/kube/client.js";
import { Discovery } from "../../src/kube/discovery.js";
import { isNotFound } from "../../src/kube/errors.js";
import type { KubeObject } from "../../src/kube/object.js";
import { CRDS } from "../../src/migration/prerequisites.js";
import { resetApiServerMode, v3Crds, withoutV1Validation } from "../harness/api-server-mode.js";
import { applyAll, waitEstablished } from "../harness/apply.js";
import { CONTROLLER_NAMESPACE, CONTROLLER_SA, installControllerManifests, loadManifests, startController, type RunningController, CORE_ROLE_OPT_OUT } from "../harness/controller.js";
import { consistently, eventually } from "../harness/eventually.js";
import {
  assertAggregatedApiService, CONFIGMAPS, createMigration, deleteMigration, getMigration, v1Lock, waitMigration, waitPhase,
} from "../harness/migration-cr.js";
import { denyRequests } from "../harness/admission.js";
import { sharedCluster, type TestCluster } from "../harness/shared-cluster.js";
import { ownerRefTo, writeV1 } from "../harness/v1-writer.js";

const CLUSTER_ROLES = { group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterroles", namespaced: false, kind: "ClusterRole" } as const;
const CLUSTER_ROLE_BINDINGS = { ...CLUSTER_ROLES, plural: "clusterrolebindings", kind: "ClusterRoleBinding" } as const;
const TIER_V1 = v1Resource(kindByName("Tier") as CalicoKind);
const IPPOOL_V1 = v1Resource(kindByName("IPPool") as CalicoKind);

async function deleteIgnoringMissing(admin: KubeClient, ref: typeof CLUSTER_ROLES | typeof CRDS | typeof CONFIGMAPS, name: string, namespace?: string): Promise<void> {
  try {
    await admin.delete(ref, name, namespace);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

describe("controller: blocked before the lock", () => {
  let cluster: TestCluster;
  let controller: RunningController;
  let apiServiceVersion = "";

  /** Waits for the message, then checks that nothing was locked or unregistered, for a while. */
  async function blockedWith(check: (message: string) => void): Promise<string> {
    const dm = await waitMigration(cluster.admin, (d) => check(d.status?.message ?? ""), { message: "blocked with the expected message" });
    await consistently(async () => {
      const d = await getMigration(cluster.admin);
      assert.equal(d?.status?.phase, "Pending");
      assert.equal(d.status?.datastoreLockedAt, undefined, "no lock taken");
      assert.deepEqual(await v1Lock(cluster.admin), { ready: true, lockedBy: undefined });
      const svc = await assertAggregatedApiService(cluster.admin);
      assert.equal(svc.metadata.resourceVersion, apiServiceVersion, "the APIService is untouched");
    }, { durationMs: 2_000, message: "still blocked and unlocked" });
    return dm.status?.message ?? "";
  }

  before(async () => {
    cluster = await sharedCluster();
    await resetApiServerMode(cluster.admin);
    await installControllerManifests(cluster.admin);
    await writeV1(cluster.admin, { kind: "Tier", metadata: { name: "security" }, spec: { order: 200 } });
    await writeV1(cluster.admin, { kind: "GlobalNetworkPolicy", metadata: { name: "security.allow-dns" }, spec: { tier: "security", selector: "all()", types: ["Egress"], egress: [{ action: "Allow" }] } });
    apiServiceVersion = (await assertAggregatedApiService(cluster.admin)).metadata.resourceVersion ?? "";
    controller = await startController(cluster);
  });

  after(async () => {
    await controller?.stop();
  });

  test("without RBAC on crd.projectcalico.org it waits for migration RBAC permissions", async () => {
    const role = loadManifests("rbac").find((o) => o.kind === "ClusterRole") as KubeObject & { rules: { apiGroups: string[] }[] };
    const reduced = { ...role, metadata: { name: "calico-datastore-migration-reduced" }, rules: role.rules.filter((r) => !r.apiGroups.includes("crd.projectcalico.org")) };
    // The optional foreign-owner role would grant list on every group as well.
    await deleteIgnoringMissing(cluster.admin, CLUSTER_ROLE_BINDINGS, "calico-datastore-migration-foreign-owners");
    await deleteIgnoringMissing(cluster.admin, CLUSTER_ROLE_BINDINGS, "calico-datastore-migration");
    await cluster.admin.create(CLUSTER_ROLES, reduced);
    await cluster.admin.create(CLUSTER_ROLE_BINDINGS, {
      apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", metadata: { name: "calico-datastore-migration-reduced" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "calico-datastore-migration-reduced" },
      subjects: [{ kind: "ServiceAccount", name: CONTROLLER_SA, namespace: CONTROLLER_NAMESPACE }],
    });
    try {
      await createMigration(cluster.admin, { annotations: CORE_ROLE_OPT_OUT });
      const message = await blockedWith((m) => assert.match(m, /^Waiting for migration RBAC permissions/));
      assert.equal(message, "Waiting for migration RBAC permissions");
    } finally {
      // RBAC first: the abort reads the v1 lock.
      await deleteIgnoringMissing(cluster.admin, CLUSTER_ROLE_BINDINGS, "calico-datastore-migration-reduced");
      await deleteIgnoringMissing(cluster.admin, CLUSTER_ROLES, "calico-datastore-migration-reduced");
      await installControllerManifests(cluster.admin);
      await deleteMigration(cluster.admin);
    }
  });

  test("without the v3 CRDs it says they are not installed", async () => {
    const name = "tiers.projectcalico.org";
    const crd = v3Crds().find((c) => c.metadata.name === name) as KubeObject;
    await cluster.admin.delete(CRDS, name);
    await eventually(() => cluster.admin.get(CRDS, name).then(() => false, (e: unknown) => isNotFound(e)), { timeoutMs: 60_000, message: "v3 tiers CRD deleted" });
    try {
      await createMigration(cluster.admin, { annotations: CORE_ROLE_OPT_OUT });
      await blockedWith((m) => assert.match(m, /^v3 CRDs \(projectcalico\.org\) not installed — apply them before starting migration \(missing: tiers\.projectcalico\.org\)/));
    } finally {
      await deleteMigration(cluster.admin);
      await applyAll(cluster.admin, new Discovery(cluster.admin), [crd]);
      await waitEstablished(cluster.admin, [name], { storage: false });
    }
  });

  test("a v1 object the v3 API would reject is named, found by the server-side validation", async () => {
    await withoutV1Validation(cluster.admin, "ippools", () => writeV1(cluster.admin, { kind: "IPPool", metadata: { name: "unmasked" }, spec: { cidr: "10.0.0.1/24" } }));
    try {
      await createMigration(cluster.admin, { annotations: CORE_ROLE_OPT_OUT });
      await blockedWith((m) => assert.match(m, /^IPPool "unmasked" would be rejected by the v3 API at spec\b.*\. Fix: correct it in v1: kubectl edit ippools\.crd\.projectcalico\.org unmasked/));
    } finally {
      await deleteMigration(cluster.admin);
      await cluster.admin.delete(IPPOOL_V1, "unmasked");
    }
  });

  test("a ConfigMap owned by a Calico object blocks without the optional foreign-owner RBAC, and the opt-out annotation lets it proceed", async () => {
    const security = await cluster.admin.get(TIER_V1, "security");
    await cluster.admin.create(CONFIGMAPS, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "prechecks-owned-by-security", namespace: "default", ownerReferences: [ownerRefTo(security, "Tier")] }, data: {} });
    await deleteIgnoringMissing(cluster.admin, CLUSTER_ROLE_BINDINGS, "calico-datastore-migration-foreign-owners");
    try {
      await createMigration(cluster.admin);
      await blockedWith((m) => assert.match(m, /^could not scan \d+ resource\(s\) for Calico owner references: .*configmaps \(forbidden\)/));
      await cluster.admin.patch(migrationResource("v1"), "v1-to-v3",
        { metadata: { annotations: { [Names.remapForeignOwnerReferences]: "false" } } }, "merge");
      await waitPhase(cluster.admin, "Converged");
    } finally {
      await deleteMigration(cluster.admin);
      await deleteIgnoringMissing(cluster.admin, CONFIGMAPS, "prechecks-owned-by-security", "default");
      await installControllerManifests(cluster.admin);
    }
    await assertAggregatedApiService(cluster.admin);
    apiServiceVersion = (await assertAggregatedApiService(cluster.admin)).metadata.resourceVersion ?? "";
  });

  test("a v1 lock the API server refuses is retried with the error in status.message, and nothing is copied", async () => {
    const allow = await denyRequests(cluster.admin, { apiGroup: "crd.projectcalico.org", apiVersion: "v1", resource: "clusterinformations", operations: ["UPDATE"], message: "v1 lock refused by the test" });
    try {
      await createMigration(cluster.admin, { annotations: CORE_ROLE_OPT_OUT });
      await blockedWith((m) => assert.match(m, /^locking v1 ClusterInformation: .*v1 lock refused by the test/));
      assert.equal((await getMigration(cluster.admin))?.status?.progress, undefined, "no copy started");
    } finally {
      await allow();
      await deleteMigration(cluster.admin);
    }
  });

  test("a drifted built-in tier blocks with Calico's message until the v1 tier is corrected, then the migration converges", async () => {
    // default with neither order nor defaultAction is conformant (defaults on read); kube-baseline is as pinned.
    await withoutV1Validation(cluster.admin, "tiers", () => writeV1(cluster.admin, { kind: "Tier", metadata: { name: "default" }, spec: {} }));
    await writeV1(cluster.admin, { kind: "Tier", metadata: { name: "kube-baseline" }, spec: { order: 10_000_000, defaultAction: "Pass" } });
    await withoutV1Validation(cluster.admin, "tiers", () => writeV1(cluster.admin, { kind: "Tier", metadata: { name: "kube-admin" }, spec: { order: 42, defaultAction: "Pass" } }));
    await createMigration(cluster.admin, { annotations: CORE_ROLE_OPT_OUT });
    const message = await blockedWith((m) => assert.match(m, /tier "kube-admin" must have order 1000/));
    assert.equal(message, 'Correct the following v1 tiers before migration can start: tier "kube-admin" must have order 1000');

    const tier = await cluster.admin.get(TIER_V1, "kube-admin");
    await cluster.admin.update(TIER_V1, { ...tier, spec: { ...(tier.spec as object), order: 1000 } });
    const dm = await waitPhase(cluster.admin, "Converged", { timeoutMs: 45_000 });
    assert.doesNotMatch(dm.status?.message ?? "", /must have order/);
    const tiers = new Map((await cluster.admin.listAll(v3Resource(kindByName("Tier") as CalicoKind))).map((t) => [t.metadata.name, t.spec as { order: number; defaultAction: string }]));
    assert.deepEqual([tiers.get("default"), tiers.get("kube-admin"), tiers.get("kube-baseline")].map((t) => [t?.order, t?.defaultAction]),
      [[1_000_000, "Deny"], [1000, "Pass"], [10_000_000, "Pass"]], "the three built-in tiers exist in v3 as pinned");
  });
});
