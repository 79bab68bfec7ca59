/**
 * What an abort must not skip or rush: an aggregated APIService re-created in front of the
 * migration's v3 objects (taken away for the cleanup, then restored), resources the controller
 * cannot list (the finalizer waits, with a condition naming them), and another controller writing
 * the CR's status (it stands back, also during deletion). The report says what was left.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ConditionType, migrationResource, MIGRATION_NAME, Names } from "../../src/api/datastore-migration.js";
import { CLUSTER_INFORMATION_V3, kindByName, v3Resource, type CalicoKind } from "../../src/calico/kinds.js";
import { ReportStore } from "../../src/migration/report-store.js";
import type { KubeClient } from "../../src/kube/client.js";
import { isNotFound } from "../../src/kube/errors.js";
import type { ResourceRef } from "../../src/kube/resource.js";
import { denyCreates } from "../harness/admission.js";
import { registerApiService, resetApiServerMode, waitApiServiceAvailable } from "../harness/api-server-mode.js";
import { snapshotDifferences, takeSnapshot } from "../harness/cluster-snapshot.js";
import { CONTROLLER_NAMESPACE, installControllerManifests, memoryLogger, startController, type RunningController } from "../harness/controller.js";
import { consistently, eventually } from "../harness/eventually.js";
import { gcBarrier } from "../harness/gc-barrier.js";
import {
  assertAggregatedApiService, assertApiServiceUnregistered, CONFIGMAPS, createMigration, getMigration, v1Lock, waitEvent, waitGone, waitMigration, waitPhase,
} from "../harness/migration-cr.js";
import { sharedCluster, type TestCluster } from "../harness/shared-cluster.js";
import { ownerRefTo, writeV1 } from "../harness/v1-writer.js";
import { createV3, listAllV3, waitAggregated, withV3Storage } from "../harness/v3-storage.js";

const TIERS = v3Resource(kindByName("Tier") as CalicoKind);
const BINDINGS: ResourceRef = { group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterrolebindings", namespaced: false, kind: "ClusterRoleBinding" };
const BUILT_IN = ["default", "kube-admin", "kube-baseline"];

function report(admin: KubeClient) {
  return new ReportStore(admin, CONTROLLER_NAMESPACE, memoryLogger()).load();
}

describe("abort: what it must not skip or rush", () => {
  let cluster: TestCluster;
  let controller: RunningController | undefined;

  before(async () => {
    cluster = await sharedCluster();
    await resetApiServerMode(cluster.admin);
    // The optional role: the scenarios hold foreign dependents (and one takes the role away).
    await installControllerManifests(cluster.admin, { foreignOwnerRole: true });
    for (const [name, order, action] of [["default", 1_000_000, "Deny"], ["kube-admin", 1_000, "Pass"], ["kube-baseline", 10_000_000, "Pass"]] as const) {
      await writeV1(cluster.admin, { kind: "Tier", metadata: { name }, spec: { order, defaultAction: action } });
    }
    await writeV1(cluster.admin, { kind: "Tier", metadata: { name: "extra" }, spec: { order: 300 } });
    await writeV1(cluster.admin, { kind: "IPPool", metadata: { name: "pool-1" }, spec: { cidr: "10.1.0.0/16", blockSize: 26, ipipMode: "Never", vxlanMode: "Always", natOutgoing: true, nodeSelector: "all()" } });
    await withV3Storage(cluster.admin, () => createV3(cluster.admin, { kind: "Tier", metadata: { name: "preexisting" }, spec: { order: 50 } }));
    // A copy held inside the locked window by a denied create: the locked copy (--no-precopy).
    controller = await startController(cluster, { precopy: false });
  });

  after(async () => {
    await controller?.stop();
    await installControllerManifests(cluster.admin);
  });

  test("an APIService re-created while waiting on conflicts is taken away for the v3 cleanup and restored; nothing else is lost", async (t) => {
    const security = await writeV1(cluster.admin, { kind: "Tier", metadata: { name: "security" }, spec: { order: 200 } });
    await cluster.admin.create(CONFIGMAPS, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "held-owned-by-security", namespace: "default", ownerReferences: [ownerRefTo(security, "Tier")] }, data: { k: "v" } });
    t.after(() => cluster.admin.delete(CONFIGMAPS, "held-owned-by-security", "default").catch(() => undefined));
    const snapshot = await takeSnapshot(cluster.admin, ["default"]);

    // The copy stops at the IPPool; meanwhile a copied Tier is edited (by a user: another field
    // manager), so the verification pass finds a conflict: WaitingForConflictResolution with this
    // migration's copies in v3.
    const undeny = await denyCreates(cluster.admin, "ippools", "ippool creation denied by the test");
    const created = await createMigration(cluster.admin);
    const uid = created.metadata.uid ?? "";
    try {
      await waitMigration(cluster.admin, (d) => assert.match(d.status?.message ?? "", /ippool creation denied by the test/), { message: "the copy stopped at the IPPool" });
      const extra = await cluster.admin.get(TIERS, "extra");
      await cluster.admin.update(TIERS, { ...extra, spec: { ...(extra.spec as object), order: 333 } }, { fieldManager: "kubectl-edit" });
    } finally {
      await undeny();
    }
    await waitPhase(cluster.admin, "WaitingForConflictResolution");

    // An operator re-applies the APIService; the CR is deleted before the controller sees it.
    await controller?.stop();
    await registerApiService(cluster.admin);
    await waitAggregated(cluster.admin);
    await cluster.admin.delete(migrationResource("v1"), MIGRATION_NAME);
    controller = await startController(cluster, { precopy: false });
    await waitGone(cluster.admin);

    const event = await waitEvent(cluster.admin, created, "APIServiceRecreated");
    assert.match(event.message, /registered again before the v3 objects of this migration were removed; it is unregistered for the cleanup and restored afterwards/);
    await assertAggregatedApiService(cluster.admin);
    await waitApiServiceAvailable(cluster.admin);
    assert.deepEqual(await v1Lock(cluster.admin), { ready: true, lockedBy: undefined });
    // The dependent has its owner back and outlives the garbage collector.
    await gcBarrier(cluster.admin);
    assert.deepEqual(snapshotDifferences(snapshot, await takeSnapshot(cluster.admin, ["default"])), [], "v1 objects, v1 ClusterInformation, APIService and the dependent as before");

    const saved = await report(cluster.admin);
    assert.deepEqual([saved?.migration.uid, saved?.phase, saved?.protectedTiersLeft, saved?.notScanned], [uid, "Aborted", BUILT_IN, []], "the report says which built-in tiers were left");

    await cluster.admin.delete(CONFIGMAPS, "held-owned-by-security", "default");
    await withV3Storage(cluster.admin, async () => {
      const ours = (await listAllV3(cluster.admin)).filter((o) => o.metadata.annotations?.[Names.migratedBy] === uid);
      assert.deepEqual(ours.map((o) => `${o.kind}/${o.metadata.name}`).sort(), BUILT_IN.map((n) => `Tier/${n}`), "only the protected built-in tiers remain of the copies");
      assert.ok((await cluster.admin.listAll(TIERS)).some((o) => o.metadata.name === "preexisting"), "the user's v3 object stays");
      await assert.rejects(cluster.admin.get(CLUSTER_INFORMATION_V3, "default"), (e) => isNotFound(e), "the v3 ClusterInformation it created is gone");
    });
  });

  test("an abort that cannot list every resource keeps the finalizer, names them in a condition and the report, and finishes once they can be listed", async () => {
    await writeV1(cluster.admin, { kind: "Tier", metadata: { name: "held" }, spec: { order: 400 } });
    await withV3Storage(cluster.admin, () => createV3(cluster.admin, { kind: "Tier", metadata: { name: "held" }, spec: { order: 999 } }));
    const created = await createMigration(cluster.admin);
    await waitPhase(cluster.admin, "WaitingForConflictResolution");
    // The optional role goes: the core role cannot list ConfigMaps (or most else).
    await cluster.admin.delete(BINDINGS, "calico-datastore-migration-foreign-owners");
    try {
      await cluster.admin.delete(migrationResource("v1"), MIGRATION_NAME);
      const held = await waitMigration(cluster.admin, (d) => {
        assert.match(d.status?.message ?? "", /^Aborting: Restoring API server mode waits: cannot list \d+ resource\(s\) to find the objects whose Calico owner references this migration detached: .*Grant the controller list on them, or apply the optional ClusterRole/);
        assert.ok(d.status?.conditions?.some((c) => c.type === ConditionType.ForeignOwnersNotScanned), "the condition");
      }, { message: "the abort waits" });
      assert.match(held.status?.conditions?.find((c) => c.type === ConditionType.ForeignOwnersNotScanned)?.message ?? "", /\(forbidden\)/);
      await consistently(async () => {
        const d = await getMigration(cluster.admin);
        assert.ok(d?.metadata.finalizers?.includes(Names.finalizer), "the finalizer stays");
        assert.deepEqual(await v1Lock(cluster.admin), { ready: false, lockedBy: created.metadata.uid }, "nothing restored yet");
        await assertApiServiceUnregistered(cluster.admin);
      }, { durationMs: 3_000, message: "the abort waits" });
      const saved = await report(cluster.admin);
      assert.equal(saved?.migration.uid, created.metadata.uid);
      assert.ok(saved?.notScanned.some((n) => n.resource === "configmaps" && n.reason === "forbidden"), JSON.stringify(saved?.notScanned));
    } finally {
      await installControllerManifests(cluster.admin, { foreignOwnerRole: true });
    }
    await waitGone(cluster.admin);
    assert.deepEqual(await v1Lock(cluster.admin), { ready: true, lockedBy: undefined });
    await assertAggregatedApiService(cluster.admin);
    assert.deepEqual((await report(cluster.admin))?.notScanned, [], "the finished abort's report");
  });

  test("another writer of the CR's status makes the controller stand back, with a condition and an Event, also during deletion", async () => {
    // The conflicting v3 Tier "held" of the test above is still there: the migration waits on it.
    const created = await createMigration(cluster.admin);
    await waitPhase(cluster.admin, "WaitingForConflictResolution");
    // Another field manager writes status (retried: the controller writes it at every poll).
    await eventually(async () => {
      const current = await getMigration(cluster.admin);
      await cluster.admin.update(migrationResource("v1"), { ...current!, status: { ...current!.status, message: "migrating (calico-kube-controllers)" } },
        { subresource: "status", fieldManager: "calico-kube-controllers" });
    }, { timeoutMs: 30_000, message: "the other writer's status write" });
    const flagged = await waitMigration(cluster.admin, (d) => assert.ok(d.status?.conditions?.some((c) => c.type === ConditionType.AnotherWriter)), { message: "AnotherWriter condition" });
    assert.match(flagged.status?.conditions?.find((c) => c.type === ConditionType.AnotherWriter)?.message ?? "", /^another controller \("calico-kube-controllers"\) is writing this migration's status; standing back until it stops\. /);
    assert.equal((await waitEvent(cluster.admin, created, "AnotherWriter")).type, "Warning");

    await cluster.admin.delete(migrationResource("v1"), MIGRATION_NAME);
    await waitMigration(cluster.admin, (d) => assert.match(d.status?.conditions?.find((c) => c.type === ConditionType.AnotherWriter)?.message ?? "", /standing back until it stops; the deletion waits too\./),
      { message: "standing back during deletion" });
    await consistently(async () => {
      const d = await getMigration(cluster.admin);
      assert.ok(d?.metadata.deletionTimestamp && d.metadata.finalizers?.includes(Names.finalizer), "the finalizer stays");
      assert.equal(d.status?.message, "migrating (calico-kube-controllers)", "the other writer's message is not overwritten");
      assert.deepEqual(await v1Lock(cluster.admin), { ready: false, lockedBy: created.metadata.uid }, "no abort yet");
    }, { durationMs: 3_000, message: "standing back" });

    // The other writer's managed fields go (as when it has stopped long enough): the abort runs.
    // (The annotation makes it a change the controller is told about at once.)
    await cluster.admin.patch(migrationResource("v1"), MIGRATION_NAME, { metadata: { managedFields: [{}], annotations: { "test.example/other-writer": "stopped" } } }, "merge");
    await waitGone(cluster.admin);
    assert.deepEqual(await v1Lock(cluster.admin), { ready: true, lockedBy: undefined });
    await assertAggregatedApiService(cluster.admin);
    await withV3Storage(cluster.admin, () => cluster.admin.delete(TIERS, "held"));
  });
});
