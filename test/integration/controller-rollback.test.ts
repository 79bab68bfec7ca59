/**
 * Deleting the DatastoreMigration at Converged: rolled back when it is provably safe (no
 * component on the v3 API group, nothing written to v3 since the copy); otherwise the deletion
 * waits for Complete and then removes the v1 CRDs.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { migrationResource, Names } from "../../src/api/datastore-migration.js";
import { CLUSTER_INFORMATION_V3, kindByName, V1_GROUP, v3Resource, type CalicoKind } from "../../src/calico/kinds.js";
import { CRDS } from "../../src/migration/prerequisites.js";
import { INSTALLATIONS, resetApiServerMode } from "../harness/api-server-mode.js";
import { installControllerManifests, startController, type RunningController } from "../harness/controller.js";
import { consistently } from "../harness/eventually.js";
import {
  assertAggregatedApiService, createMigration, eventsFor, getMigration, setV3ApiGroup, switchAllComponents, v1Lock, waitEvent, waitGone, waitMigration, waitPhase,
} from "../harness/migration-cr.js";
import { sharedCluster, type TestCluster } from "../harness/shared-cluster.js";
import { writeV1 } from "../harness/v1-writer.js";
import { createV3, listAllV3, withV3Storage } from "../harness/v3-storage.js";

const TIERS = v3Resource(kindByName("Tier") as CalicoKind);

describe("controller: deletion at Converged", () => {
  let cluster: TestCluster;
  let controller: RunningController;

  before(async () => {
    cluster = await sharedCluster();
    await resetApiServerMode(cluster.admin);
    await installControllerManifests(cluster.admin);
    await writeV1(cluster.admin, { kind: "Tier", metadata: { name: "security" }, spec: { order: 200 } });
    await writeV1(cluster.admin, { kind: "GlobalNetworkPolicy", metadata: { name: "security.allow-dns" }, spec: { tier: "security", selector: "all()", types: ["Egress"], egress: [{ action: "Allow" }] } });
    await writeV1(cluster.admin, { kind: "GlobalNetworkSet", metadata: { name: "external" }, spec: { nets: ["192.0.2.0/24"] } });
    controller = await startController(cluster);
  });

  after(async () => {
    await controller?.stop();
  });

  test("with no component on the v3 API group and no v3 write since the copy, deleting the CR rolls the migration back", async () => {
    // A v3 ClusterInformation an earlier migration created: this one only locks and unlocks it.
    await withV3Storage(cluster.admin, () => createV3(cluster.admin, { kind: "ClusterInformation", metadata: { name: "default", annotations: { [Names.migratedBy]: "migration-a" } }, spec: { clusterGUID: "from-migration-a", datastoreReady: true } }));
    const created = await createMigration(cluster.admin);
    const uid = created.metadata.uid ?? "";
    const dm = await waitPhase(cluster.admin, "Converged");
    assert.equal(dm.status?.progress?.migrated, 3);
    const ci = await cluster.admin.get(CLUSTER_INFORMATION_V3, "default");
    assert.deepEqual([(ci.spec as { datastoreReady: boolean }).datastoreReady, ci.metadata.annotations?.[Names.migratedBy], ci.metadata.annotations?.[Names.lockedBy]], [true, "migration-a", uid], "locked with locked-by, unlocked at Converged");

    // Operator-managed: an Installation that appears is noticed; once seen it stays noticed.
    const operatorMessage = "Waiting for operator to configure calico-node, calico-typha and calico-kube-controllers with v3 API group";
    await cluster.admin.create(INSTALLATIONS, { apiVersion: "operator.tigera.io/v1", kind: "Installation", metadata: { name: "default" }, spec: {} });
    await waitMigration(cluster.admin, (d) => assert.equal(d.status?.message, operatorMessage), { message: "operator mode noticed" });
    await cluster.admin.delete(INSTALLATIONS, "default");
    await consistently(async () => assert.equal((await getMigration(cluster.admin))?.status?.message, operatorMessage), { durationMs: 2_000, message: "operator mode stays" });

    await cluster.admin.delete(migrationResource("v1"), "v1-to-v3");
    await waitGone(cluster.admin);
    const event = await waitEvent(cluster.admin, dm, "RollbackAtConverged");
    assert.match(event.message, /rolling back/);
    await assertAggregatedApiService(cluster.admin);
    assert.deepEqual(await v1Lock(cluster.admin), { ready: true, lockedBy: undefined });
    await withV3Storage(cluster.admin, async () => {
      const ours = (await listAllV3(cluster.admin)).filter((o) => o.metadata.annotations?.[Names.migratedBy] === uid);
      assert.deepEqual(ours.map((o) => `${o.kind}/${o.metadata.name}`), [], "every migrated v3 object is deleted");
      const after = await cluster.admin.get(CLUSTER_INFORMATION_V3, "default");
      assert.deepEqual([(after.spec as { datastoreReady: boolean }).datastoreReady, after.metadata.annotations?.[Names.migratedBy], after.metadata.annotations?.[Names.lockedBy]],
        [true, "migration-a", undefined], "the earlier migration's ClusterInformation is unlocked, not deleted");
    });
  });

  test("after a v3 write since the copy, deleting the CR at Converged waits for Complete instead of rolling back", async () => {
    await createMigration(cluster.admin);
    await waitPhase(cluster.admin, "Converged");
    const tier = await cluster.admin.get(TIERS, "security");
    await cluster.admin.update(TIERS, { ...tier, metadata: { ...tier.metadata, labels: { ...(tier.metadata.labels ?? {}), "written-after-copy": "true" } } });
    await cluster.admin.delete(migrationResource("v1"), "v1-to-v3");
    const dm = await waitMigration(cluster.admin, (d) => assert.match(d.status?.message ?? "", /cannot be rolled back \(Tier security was written in v3 since the copy\)/), { message: "deletion pending" });
    assert.ok(dm.metadata.deletionTimestamp);
    assert.equal(dm.status?.phase, "Converged");
  });

  test("with a component already on the v3 API group, the deletion waits for Complete, then removes the v1 CRDs and the CR", async () => {
    await setV3ApiGroup(cluster.admin, "calico-node");
    const dm = await waitMigration(cluster.admin, (d) => assert.match(d.status?.message ?? "", /cannot be rolled back \(calico-node already run with the v3 API group\)/), { message: "deletion pending" });
    // Operator-managed since the first test saw an Installation: a true answer is kept for the process.
    assert.equal(dm.status?.message, "Deletion pending: migration is Converged and cannot be rolled back (calico-node already run with the v3 API group). Waiting for completion. " +
      "Waiting for operator to configure calico-typha and calico-kube-controllers with v3 API group");
    await consistently(async () => {
      const d = await getMigration(cluster.admin);
      assert.ok(d?.metadata.deletionTimestamp, "the CR stays, deleting");
      assert.equal(d.status?.phase, "Converged");
      assert.deepEqual(await v1Lock(cluster.admin), { ready: false, lockedBy: d.metadata.uid }, "no rollback: v1 stays locked");
    }, { durationMs: 3_000, message: "no rollback" });

    await switchAllComponents(cluster.admin);
    await waitGone(cluster.admin);
    const reasons = new Set((await eventsFor(cluster.admin, dm)).map((e) => e.reason));
    assert.ok(reasons.has("Complete") && reasons.has("CleanedUp"), `Complete then CleanedUp in ${[...reasons].join(", ")}`);
    const left = (await cluster.admin.listAll(CRDS)).filter((c) => (c.spec as { group: string }).group === V1_GROUP);
    assert.deepEqual(left.map((c) => c.metadata.name), [], "every crd.projectcalico.org CRD is deleted");
    const tier = await cluster.admin.get(TIERS, "security");
    assert.equal(tier.metadata.annotations?.[Names.migratedBy], dm.metadata.uid, "the migrated v3 objects stay");
  });
});
