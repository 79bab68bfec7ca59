/**
 * Deleting the DatastoreMigration at Converged: rolled back when it is provably safe (no
 * component on the v3 API group, nothing written to v3 since the copy); otherwise the deletion
 * waits for Complete and then removes the v1 CRDs. The decision is taken once and recorded on the
 * CR: a rollback interrupted half-way is carried on, and `calico-migrate abort` reports what the
 * controller decided, not its own earlier judgement.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { DeletionDecision, migrationResource, Names } from "../../src/api/datastore-migration.js";
import { runAbort } from "../../src/cli/commands/abort.js";
import { run } from "../../src/cli/run.js";
import { isNotFound } from "../../src/kube/errors.js";
import { CLUSTER_INFORMATION_V3, kindByName, V1_GROUP, v3Resource, type CalicoKind } from "../../src/calico/kinds.js";
import { CRDS } from "../../src/migration/prerequisites.js";
import { denyRequests } from "../harness/admission.js";
import { INSTALLATIONS, resetApiServerMode } from "../harness/api-server-mode.js";
import { captureIo } from "../harness/cli.js";
import { installControllerManifests, startController, type RunningController, CORE_ROLE_OPT_OUT } from "../harness/controller.js";
import { consistently, eventually } from "../harness/eventually.js";
import {
  assertAggregatedApiService, createMigration, eventsFor, getMigration, setV3ApiGroup, switchAllComponents, v1Lock, waitEvent, waitGone, waitMigration, waitPhase,
} from "../harness/migration-cr.js";
import { sharedCluster, type TestCluster } from "../harness/shared-cluster.js";
import { writeV1 } from "../harness/v1-writer.js";
import { createV3, listAllV3, withV3Storage } from "../harness/v3-storage.js";

const TIERS = v3Resource(kindByName("Tier") as CalicoKind);
const GNS = v3Resource(kindByName("GlobalNetworkSet") as CalicoKind);
const GNP = v3Resource(kindByName("GlobalNetworkPolicy") as CalicoKind);

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
    const created = await createMigration(cluster.admin, { annotations: CORE_ROLE_OPT_OUT });
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

  test("a rollback at Converged that fails half-way is carried on when it can, never turned into a drive on to Complete", async () => {
    const created = await createMigration(cluster.admin, { annotations: CORE_ROLE_OPT_OUT });
    await waitPhase(cluster.admin, "Converged");
    // The rollback deletes its v3 copies in reverse copy order: the GlobalNetworkSet goes, then
    // the GlobalNetworkPolicy is refused. Those deletions are v3 writes since the copy.
    const lift = await denyRequests(cluster.admin, { apiGroup: "projectcalico.org", apiVersion: "v3", resource: "globalnetworkpolicies", operations: ["DELETE"], message: "test: v3 policy deletes refused" });
    try {
      await cluster.admin.delete(migrationResource("v1"), "v1-to-v3");
      const failing = await waitMigration(cluster.admin, (d) => assert.match(d.status?.message ?? "", /test: v3 policy deletes refused/), { message: "the rollback fails at the policy" });
      assert.equal(failing.metadata.annotations?.[Names.deletionDecision], DeletionDecision.Rollback, "the decision is recorded");
      await assert.rejects(cluster.admin.get(GNS, "external"), (e) => isNotFound(e), "the rollback had begun");
      await consistently(async () => {
        const d = await getMigration(cluster.admin);
        assert.equal(d?.metadata.annotations?.[Names.deletionDecision], DeletionDecision.Rollback);
        assert.doesNotMatch(d?.status?.message ?? "", /cannot be rolled back/, "its own deletions are not judged as writes");
      }, { durationMs: 3_000, message: "still rolling back" });
    } finally {
      await lift();
    }
    await waitGone(cluster.admin);
    await assertAggregatedApiService(cluster.admin);
    assert.deepEqual(await v1Lock(cluster.admin), { ready: true, lockedBy: undefined });
    const v1Crds = (await cluster.admin.listAll(CRDS)).filter((c) => (c.spec as { group: string }).group === V1_GROUP);
    assert.ok(v1Crds.length >= 20, `the v1 CRDs stay (${v1Crds.length})`);
    await withV3Storage(cluster.admin, async () => {
      const ours = (await listAllV3(cluster.admin)).filter((o) => o.metadata.annotations?.[Names.migratedBy] === created.metadata.uid);
      assert.deepEqual(ours.map((o) => `${o.kind}/${o.metadata.name}`), [], "every migrated v3 object is deleted");
      await assert.rejects(cluster.admin.get(GNP, "security.allow-dns"), (e) => isNotFound(e));
    });
  });

  test("abort at Converged reports the controller's decision when it differs from the CLI's own check; the deletion then waits for Complete", async () => {
    await createMigration(cluster.admin, { annotations: CORE_ROLE_OPT_OUT });
    await waitPhase(cluster.admin, "Converged");
    await controller.stop();
    // The CLI judges the rollback safe and deletes the CR; a v3 write lands before the controller
    // sees the deletion, so the controller decides to drive on to Complete.
    const io = captureIo();
    const aborting = run(io, () => runAbort({ kubeconfig: cluster.kubeconfigPath, color: false, yes: true, timeoutMs: 120_000, intervalMs: 200 }, io));
    await eventually(async () => assert.ok((await getMigration(cluster.admin))?.metadata.deletionTimestamp, "deleted"), { timeoutMs: 30_000 });
    const tier = await cluster.admin.get(TIERS, "security");
    // A user's write (their own field manager: the test client shares the controller's).
    await cluster.admin.update(TIERS, { ...tier, metadata: { ...tier.metadata, labels: { ...(tier.metadata.labels ?? {}), "written-after-copy": "true" } } }, { fieldManager: "kubectl-edit" });
    controller = await startController(cluster);
    assert.equal(await aborting, 1, io.out());
    assert.match(io.err(), /the controller did not roll back: Tier security was written in v3 since the copy\. The deletion drives the migration on to Complete once every component runs with the v3 API group/);
    assert.doesNotMatch(io.out(), /API server mode restored/);
    const dm = await waitMigration(cluster.admin, (d) => assert.match(d.status?.message ?? "", /cannot be rolled back \(Tier security was written in v3 since the copy\)/), { message: "deletion pending" });
    assert.ok(dm.metadata.deletionTimestamp);
    assert.equal(dm.status?.phase, "Converged");
    assert.equal(dm.metadata.annotations?.[Names.deletionDecision], DeletionDecision.Complete);
    assert.ok((await eventsFor(cluster.admin, dm)).some((e) => e.reason === "DeletionDrivesOnToComplete"), "a Warning event says so");
  });

  test("once decided, the deletion waits for Complete (the recorded reason stays), then removes the v1 CRDs and the CR", async () => {
    await setV3ApiGroup(cluster.admin, "calico-node");
    const dm = await waitMigration(cluster.admin, (d) => assert.match(d.status?.message ?? "", /on calico-typha and calico-kube-controllers/), { message: "deletion pending" });
    // The reason is the one recorded at the decision; the controller was restarted since the
    // Installation went, so it asks the user (not the operator) to switch the rest.
    assert.equal(dm.status?.message, "Deletion pending: migration is Converged and cannot be rolled back (Tier security was written in v3 since the copy). Waiting for completion. " +
      "Waiting for user to set CALICO_API_GROUP=projectcalico.org/v3 on calico-typha and calico-kube-controllers (calico-migrate switch-components)");
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
