/**
 * A terminal error at Converged or later (here: spec.type made invalid, past a relaxed CRD) must
 * never cost v3 data: at Converged the migration is rolled back only when the rollback-safety
 * check says it is safe (the decision recorded as for a deletion), after Complete never; the
 * Failed status says what was and was not restored, and deleting the CR honours the decision.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { DeletionDecision, Names } from "../../src/api/datastore-migration.js";
import { CLUSTER_INFORMATION_V3, kindByName, V1_GROUP, v3Resource, type CalicoKind } from "../../src/calico/kinds.js";
import { v3CrdName } from "../../src/migration/precopy-door.js";
import { CRDS } from "../../src/migration/prerequisites.js";
import { resetApiServerMode } from "../harness/api-server-mode.js";
import { CORE_ROLE_OPT_OUT, installControllerManifests, startController, type RunningController } from "../harness/controller.js";
import { consistently } from "../harness/eventually.js";
import {
  assertAggregatedApiService, assertApiServiceUnregistered, createMigration, deleteMigration, getMigration, installRelaxedTypeCrd, makeTypeInvalid,
  switchAllComponents, v1Lock, waitEvent, waitMigration, waitPhase,
} from "../harness/migration-cr.js";
import { sharedCluster, type TestCluster } from "../harness/shared-cluster.js";
import { writeV1 } from "../harness/v1-writer.js";
import { listAllV3, withV3Storage } from "../harness/v3-storage.js";

const TIERS = v3Resource(kindByName("Tier") as CalicoKind);
const TYPE_ERROR = 'unsupported migration type: "Bogus" (only "APIServerToCRDs" is supported)';

async function seedV1(cluster: TestCluster): Promise<void> {
  await writeV1(cluster.admin, { kind: "Tier", metadata: { name: "security" }, spec: { order: 200 } });
  await writeV1(cluster.admin, { kind: "GlobalNetworkSet", metadata: { name: "external" }, spec: { nets: ["192.0.2.0/24"] } });
}

describe("controller: a terminal error at Converged or later", () => {
  let cluster: TestCluster;
  let controller: RunningController | undefined;

  before(async () => {
    cluster = await sharedCluster();
    await resetApiServerMode(cluster.admin);
    await installControllerManifests(cluster.admin);
    await installRelaxedTypeCrd(cluster.admin);
    await seedV1(cluster);
    controller = await startController(cluster);
  });

  after(async () => {
    await controller?.stop();
    await installControllerManifests(cluster.admin);
  });

  test("at Converged with nothing written to v3 since the copy it rolls back, records the decision and says so", async (t) => {
    t.after(() => deleteMigration(cluster.admin));
    const created = await createMigration(cluster.admin, { annotations: CORE_ROLE_OPT_OUT });
    await waitPhase(cluster.admin, "Converged");
    await makeTypeInvalid(cluster.admin);
    const dm = await waitMigration(cluster.admin, (d) => {
      assert.equal(d.status?.phase, "Failed");
      assert.equal(d.metadata.annotations?.[Names.restorePending], undefined, "the restore finished");
    }, { message: "Failed and rolled back" });
    assert.equal(dm.metadata.annotations?.[Names.deletionDecision], DeletionDecision.Rollback);
    assert.equal(dm.status?.message, `${TYPE_ERROR}. Rolled back at Converged (no component uses the v3 API group and nothing was written to v3 since the copy): API server mode is restored and the v1 datastore unlocked`);
    await assertAggregatedApiService(cluster.admin);
    assert.deepEqual(await v1Lock(cluster.admin), { ready: true, lockedBy: undefined });
    await waitEvent(cluster.admin, dm, "RollbackAtConverged");
    await withV3Storage(cluster.admin, async () => {
      const ours = (await listAllV3(cluster.admin)).filter((o) => o.metadata.annotations?.[Names.migratedBy] === created.metadata.uid);
      assert.deepEqual(ours.map((o) => `${o.kind}/${o.metadata.name}`), [], "the copies are deleted");
    });
  });

  test("at Converged after a v3 write nothing is restored: the Failed status says so, the v3 data stays, also when the CR is deleted", async (t) => {
    t.after(() => deleteMigration(cluster.admin));
    const created = await createMigration(cluster.admin, { annotations: CORE_ROLE_OPT_OUT });
    await waitPhase(cluster.admin, "Converged");
    const tier = await cluster.admin.get(TIERS, "security");
    // A user's write (their own field manager: the test client shares the controller's).
    await cluster.admin.update(TIERS, { ...tier, metadata: { ...tier.metadata, labels: { ...(tier.metadata.labels ?? {}), "written-after-copy": "true" } } }, { fieldManager: "kubectl-edit" });
    await makeTypeInvalid(cluster.admin);
    const dm = await waitPhase(cluster.admin, "Failed");
    assert.equal(dm.status?.message, `${TYPE_ERROR}. Nothing was restored (Tier security was written in v3 since the copy): the v3 data is kept, ` +
      "the aggregated APIService stays unregistered and the v1 datastore stays locked; deleting this DatastoreMigration leaves them so");
    assert.equal(dm.metadata.annotations?.[Names.deletionDecision], DeletionDecision.Complete);
    assert.equal(dm.metadata.annotations?.[Names.restorePending], undefined);
    assert.equal((await waitEvent(cluster.admin, dm, "NotRolledBack")).type, "Warning");
    await consistently(async () => {
      assert.equal((await cluster.admin.get(TIERS, "security")).metadata.annotations?.[Names.migratedBy], created.metadata.uid);
      await assertApiServiceUnregistered(cluster.admin);
      assert.deepEqual(await v1Lock(cluster.admin), { ready: false, lockedBy: created.metadata.uid });
    }, { durationMs: 3_000, message: "nothing is rolled back" });
    // What is kept is the v3 data, not the pre-copy's temporary version: it goes as on the way to Complete.
    await waitMigration(cluster.admin, (d) => assert.equal(d.metadata.annotations?.[Names.precopy], "closed"), { message: "the pre-copy door closed" });
    const tierCrd = await cluster.admin.get(CRDS, v3CrdName(kindByName("Tier") as CalicoKind));
    assert.deepEqual((tierCrd.spec as { versions: { name: string }[] }).versions.map((v) => v.name), ["v3"]);
    const copy = await cluster.admin.get(v3Resource(kindByName("GlobalNetworkSet") as CalicoKind), "external");
    assert.deepEqual((copy.metadata.managedFields ?? []).map((m) => (m as { apiVersion?: string }).apiVersion).filter((v) => v !== "projectcalico.org/v3"), [], "the copy's managedFields are relabelled v3");

    await deleteMigration(cluster.admin);
    await waitEvent(cluster.admin, dm, "DeletedWithoutRollback");
    const ours = (await listAllV3(cluster.admin)).filter((o) => o.metadata.annotations?.[Names.migratedBy] === created.metadata.uid);
    assert.deepEqual(ours.map((o) => `${o.kind}/${o.metadata.name}`).sort(), ["GlobalNetworkSet/external", "Tier/security"], "the v3 copies stay");
    await cluster.admin.get(CLUSTER_INFORMATION_V3, "default");
    const v1Crds = (await cluster.admin.listAll(CRDS)).filter((c) => (c.spec as { group: string }).group === V1_GROUP);
    assert.ok(v1Crds.length >= 20, `the v1 CRDs stay (${v1Crds.length})`);
  });

  test("after Complete nothing is ever restored", async () => {
    await resetApiServerMode(cluster.admin);
    await seedV1(cluster);
    const created = await createMigration(cluster.admin, { annotations: CORE_ROLE_OPT_OUT });
    await waitPhase(cluster.admin, "Converged");
    await switchAllComponents(cluster.admin);
    await waitPhase(cluster.admin, "Complete");
    await makeTypeInvalid(cluster.admin);
    const dm = await waitPhase(cluster.admin, "Failed");
    assert.match(dm.status?.message ?? "", /^unsupported migration type: "Bogus" .*\. Nothing was restored \(the migration is Complete: every component runs with the v3 API group\): the v3 data is kept/);
    assert.equal(dm.metadata.annotations?.[Names.deletionDecision], DeletionDecision.Complete);
    await consistently(async () => {
      assert.equal((await cluster.admin.get(TIERS, "security")).metadata.annotations?.[Names.migratedBy], created.metadata.uid);
      await assertApiServiceUnregistered(cluster.admin);
      assert.equal((await getMigration(cluster.admin))?.metadata.annotations?.[Names.restorePending], undefined);
    }, { durationMs: 3_000, message: "nothing is restored" });
    await deleteMigration(cluster.admin);
    assert.equal((await cluster.admin.get(TIERS, "security")).metadata.annotations?.[Names.migratedBy], created.metadata.uid, "the v3 data stays after the deletion");
  });
});
