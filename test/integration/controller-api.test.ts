/**
 * The DatastoreMigration API as the controller meets it: a cluster that serves only Calico's
 * pre-GA v1beta1, DatastoreMigrations with another name, an unsupported spec.type, and a cluster
 * without v1 CRDs. One controller runs throughout and follows the CRD being replaced.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ConditionType, DATASTORE_MIGRATION_CRD, migrationResource, Names, type DatastoreMigration } from "../../src/api/datastore-migration.js";
import { kindByName, V1_GROUP, v3Resource, type CalicoKind } from "../../src/calico/kinds.js";
import type { KubeClient } from "../../src/kube/client.js";
import { Discovery } from "../../src/kube/discovery.js";
import { isNotFound } from "../../src/kube/errors.js";
import type { KubeObject } from "../../src/kube/object.js";
import { CRDS } from "../../src/migration/prerequisites.js";
import { APISERVICE, APISERVICE_NAME, registerApiService, resetApiServerMode } from "../harness/api-server-mode.js";
import { applyAll, waitEstablished } from "../harness/apply.js";
import { installControllerManifests, loadManifests, startController, type RunningController, CORE_ROLE_OPT_OUT } from "../harness/controller.js";
import { consistently, eventually } from "../harness/eventually.js";
import {
  assertAggregatedApiService, assertApiServiceUnregistered, createMigration, deleteMigration, getMigration, v1Lock, waitEvent, waitGone, waitMigration, waitPhase,
} from "../harness/migration-cr.js";
import { sharedCluster, type TestCluster } from "../harness/shared-cluster.js";
import { loadShared, SHARED_FILES } from "../harness/shared-manifests.js";
import { writeV1 } from "../harness/v1-writer.js";
import { createV3, waitAggregated, waitV3Served, withV3Storage } from "../harness/v3-storage.js";

const TIERS = v3Resource(kindByName("Tier") as CalicoKind);
type CrdVersion = { name: string; served: boolean; storage: boolean; deprecated?: boolean; schema: { openAPIV3Schema: { properties: { spec: { properties: { type: Record<string, unknown> } } } } } };

async function deleteCrd(admin: KubeClient, name: string): Promise<void> {
  try {
    await admin.delete(CRDS, name);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  await eventually(() => admin.get(CRDS, name).then(() => false, (e: unknown) => isNotFound(e)), { timeoutMs: 120_000, message: `CRD ${name} deleted` });
}

/** Replaces the DatastoreMigration CRD with `crd` (deleting the current one first when `recreate`). */
async function installCrd(admin: KubeClient, crd: KubeObject, recreate: boolean): Promise<void> {
  if (recreate) await deleteCrd(admin, DATASTORE_MIGRATION_CRD);
  await applyAll(admin, new Discovery(admin), [crd]);
  await waitEstablished(admin, [DATASTORE_MIGRATION_CRD]);
}

describe("controller: API versions and compatibility", () => {
  let cluster: TestCluster;
  let controller: RunningController;

  before(async () => {
    cluster = await sharedCluster();
    await resetApiServerMode(cluster.admin);
    await installControllerManifests(cluster.admin);
    await writeV1(cluster.admin, { kind: "Tier", metadata: { name: "security" }, spec: { order: 200 } });
    controller = await startController(cluster);
  });

  after(async () => {
    await controller?.stop();
    await installControllerManifests(cluster.admin);
  });

  test("a DatastoreMigration with another name is ignored and told so; v1-to-v3 carries an OtherMigrations condition until it is gone", async () => {
    await createMigration(cluster.admin, { name: "other" });
    const dm = await createMigration(cluster.admin, { annotations: CORE_ROLE_OPT_OUT });
    const other = await waitMigration(cluster.admin, (o) => assert.equal(o.status?.message,
      'ignored: only the DatastoreMigration named "v1-to-v3" is acted on; delete this one (kubectl delete datastoremigration other)'), { name: "other", message: "the other CR is told it is ignored" });
    assert.equal(other.status?.phase, undefined, "the other CR has no phase");
    assert.equal(other.metadata.finalizers, undefined, "and no finalizer");
    const flagged = await waitMigration(cluster.admin, (d) => assert.ok(d.status?.conditions?.some((c) => c.type === ConditionType.OtherMigrations)), { message: "OtherMigrations condition" });
    const condition = flagged.status?.conditions?.find((c) => c.type === ConditionType.OtherMigrations);
    assert.deepEqual({ status: condition?.status, reason: condition?.reason }, { status: "True", reason: "OtherMigrationsIgnored" });
    assert.match(condition?.message ?? "", /^other DatastoreMigrations exist and are ignored: other;/);
    assert.equal((await waitEvent(cluster.admin, dm, "OtherMigrations")).type, "Warning");

    await deleteMigration(cluster.admin, "other");
    await waitMigration(cluster.admin, (d) => assert.ok(!d.status?.conditions?.some((c) => c.type === ConditionType.OtherMigrations)), { message: "condition removed" });
    await deleteMigration(cluster.admin);
  });

  test("an unsupported spec.type fails the migration with Calico's message and a Failed condition, before any finalizer", async () => {
    // Our CRD refuses the value, so a copy without the enum stands in for a CR written some other way.
    const [ours] = loadManifests("crd");
    const relaxed = structuredClone(ours!) as KubeObject & { spec: { versions: CrdVersion[] } };
    for (const v of relaxed.spec.versions) delete v.schema.openAPIV3Schema.properties.spec.properties.type.enum;
    await installCrd(cluster.admin, relaxed, false);
    try {
      await createMigration(cluster.admin, { type: "Bogus", annotations: CORE_ROLE_OPT_OUT });
      const dm = await waitPhase(cluster.admin, "Failed");
      const message = 'unsupported migration type: "Bogus" (only "APIServerToCRDs" is supported)';
      assert.equal(dm.status?.message, message);
      const failed = dm.status?.conditions?.filter((c) => c.type === ConditionType.Failed) ?? [];
      assert.deepEqual(failed.map((c) => ({ status: c.status, reason: c.reason, message: c.message })), [{ status: "True", reason: "MigrationError", message }]);
      assert.equal(dm.metadata.finalizers, undefined, "no finalizer");
      await waitEvent(cluster.admin, dm, "Failed");
      // Failed is final: the controller writes nothing more.
      await consistently(async () => assert.equal((await getMigration(cluster.admin))?.metadata.resourceVersion, dm.metadata.resourceVersion), { durationMs: 2_000, message: "Failed is a no-op" });
      await deleteMigration(cluster.admin);
    } finally {
      await installControllerManifests(cluster.admin);
    }
  });

  test("a spec.type made invalid after the lock fails the migration and restores API-server mode; deleting the CR then completes", async () => {
    // As above, a CRD without the enum and without the immutability rule stands in for one that allows the change.
    const [ours] = loadManifests("crd");
    const relaxed = structuredClone(ours!) as KubeObject & { spec: { versions: CrdVersion[] } };
    for (const v of relaxed.spec.versions) {
      const type = v.schema.openAPIV3Schema.properties.spec.properties.type;
      delete type.enum;
      delete type["x-kubernetes-validations"];
    }
    await installCrd(cluster.admin, relaxed, false);
    try {
      // A conflict holds the migration locked, with the APIService unregistered.
      await withV3Storage(cluster.admin, () => createV3(cluster.admin, { kind: "Tier", metadata: { name: "security" }, spec: { order: 999 } }));
      const created = await createMigration(cluster.admin, { annotations: CORE_ROLE_OPT_OUT });
      await waitPhase(cluster.admin, "WaitingForConflictResolution");
      await assertApiServiceUnregistered(cluster.admin);
      await cluster.admin.patch(migrationResource("v1"), "v1-to-v3", { spec: { type: "Bogus" } }, "merge");
      const dm = await waitMigration(cluster.admin, (d) => {
        assert.equal(d.status?.phase, "Failed");
        assert.equal(d.status?.message, 'unsupported migration type: "Bogus" (only "APIServerToCRDs" is supported). API server mode is restored and the v1 datastore unlocked');
      }, { message: "Failed, then restored" });
      assert.equal(dm.metadata.annotations?.[Names.restorePending], undefined);
      assert.deepEqual(await v1Lock(cluster.admin), { ready: true, lockedBy: undefined }, "not left locked");
      await assertAggregatedApiService(cluster.admin);
      // The user's v3 object stays; nothing of this migration's is left.
      await withV3Storage(cluster.admin, async () => {
        const tier = await cluster.admin.get(TIERS, "security");
        assert.equal(tier.metadata.annotations?.[Names.migratedBy], undefined);
        await cluster.admin.delete(TIERS, "security");
      });
      // The CR with its invalid type can still be deleted (its finalizer removed).
      await deleteMigration(cluster.admin);
      await waitGone(cluster.admin);
      assert.ok(created.metadata.uid);
    } finally {
      await installControllerManifests(cluster.admin);
    }
  });

  test("on a cluster that serves only v1beta1 the controller migrates through it to Converged, with a DeprecatedAPIVersion Warning, and moves to v1 when the CRD is upgraded", async () => {
    const [calico] = loadShared(SHARED_FILES.migrationCrd);
    const preGa = structuredClone(calico!) as KubeObject & { spec: { versions: CrdVersion[] } };
    preGa.spec.versions = preGa.spec.versions.filter((v) => v.name === "v1beta1").map((v) => ({ ...v, storage: true }));
    await installCrd(cluster.admin, preGa, true);
    try {
      const created = await createMigration(cluster.admin, { version: "v1beta1", annotations: CORE_ROLE_OPT_OUT });
      const dm = await waitPhase(cluster.admin, "Converged", { version: "v1beta1" });
      assert.equal(dm.metadata.uid, created.metadata.uid);
      assert.ok(dm.metadata.finalizers?.includes(Names.finalizer));
      assert.equal(dm.status?.progress?.migrated, 1);
      const event = await waitEvent(cluster.admin, dm, "DeprecatedAPIVersion");
      assert.equal(event.type, "Warning");

      // Upgraded in place (v1 added as the storage version): the controller moves to v1 and carries on.
      await applyAll(cluster.admin, new Discovery(cluster.admin), [loadManifests("crd")[0]!]);
      await eventually(() => assert.ok(controller.log.lines.some((l) => l.includes("resolving the served version again") && l.includes('"served":["v1","v1beta1"]'))), { timeoutMs: 120_000, message: "the controller resolves the served version again" });
      await deleteMigration(cluster.admin);
    } finally {
      await installCrd(cluster.admin, loadManifests("crd")[0]!, true);
    }
  });

  test("without an aggregated APIService the migration proceeds and saves none, and an abort has none to restore", async () => {
    await cluster.admin.delete(APISERVICE, APISERVICE_NAME);
    await waitV3Served(cluster.admin);
    try {
      await createMigration(cluster.admin, { annotations: CORE_ROLE_OPT_OUT });
      const dm = await waitPhase(cluster.admin, "Converged");
      assert.equal(dm.metadata.annotations?.[Names.savedApiService], undefined, "nothing saved");
      await deleteMigration(cluster.admin);
      assert.ok(controller.log.lines.some((l) => l.includes("no saved APIService to restore")));
      await assertApiServiceUnregistered(cluster.admin);
    } finally {
      await registerApiService(cluster.admin);
      await waitAggregated(cluster.admin);
    }
  });

  test("without v1 CRDs the migration fails before its finalizer, and deleting it keeps every v3 object", async () => {
    // After the CRD swaps above, the same controller must be serving v1 again.
    await withV3Storage(cluster.admin, () => createV3(cluster.admin, { kind: "Tier", metadata: { name: "from-earlier", annotations: { [Names.migratedBy]: "first-migration" } }, spec: { order: 300 } }));
    for (const crd of await cluster.admin.listAll(CRDS)) {
      if ((crd.spec as { group: string }).group === V1_GROUP) await cluster.admin.delete(CRDS, crd.metadata.name ?? "");
    }
    await eventually(async () => {
      const left = (await cluster.admin.listAll(CRDS)).filter((c) => (c.spec as { group: string }).group === V1_GROUP);
      assert.deepEqual(left.map((c) => c.metadata.name), []);
    }, { timeoutMs: 180_000, message: "v1 CRDs deleted" });

    await createMigration(cluster.admin, { annotations: CORE_ROLE_OPT_OUT });
    const dm: DatastoreMigration = await waitPhase(cluster.admin, "Failed");
    assert.equal(dm.status?.message, "no v1 CRDs (crd.projectcalico.org) found - nothing to migrate");
    assert.ok(dm.status?.conditions?.some((c) => c.type === ConditionType.Failed && c.reason === "MigrationError"));
    assert.equal(dm.metadata.finalizers, undefined, "no finalizer");
    await cluster.admin.delete(migrationResource("v1"), "v1-to-v3");
    assert.equal(await getMigration(cluster.admin), undefined, "gone at once");
    await withV3Storage(cluster.admin, async () => {
      const tier = await cluster.admin.get(v3Resource(kindByName("Tier") as CalicoKind), "from-earlier");
      assert.equal(tier.metadata.annotations?.[Names.migratedBy], "first-migration");
    });
  });
});
