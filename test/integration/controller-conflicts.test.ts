/**
 * Conflicts and their resolution on a real control plane: a v3 object that exists with another
 * spec stops the migration in WaitingForConflictResolution (datastore locked, nothing
 * overwritten); the controller keeps the APIService unregistered while it waits; once the user
 * resolves every conflict it goes back through Pending and Migrating to Converged.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ConditionType, Names, type DatastoreMigration } from "../../src/api/datastore-migration.js";
import { kindByName, v3Resource, type CalicoKind } from "../../src/calico/kinds.js";
import { resetApiServerMode, registerApiService } from "../harness/api-server-mode.js";
import { installControllerManifests, startController, type RunningController, CORE_ROLE_OPT_OUT } from "../harness/controller.js";
import { consistently, eventually } from "../harness/eventually.js";
import {
  assertApiServiceUnregistered, createMigration, eventsFor, getMigration, recordPhases, switchAllComponents, v1Lock, waitEvent, waitMigration, waitPhase,
} from "../harness/migration-cr.js";
import { sharedCluster, type TestCluster } from "../harness/shared-cluster.js";
import { writeV1 } from "../harness/v1-writer.js";
import { createV3, withV3Storage } from "../harness/v3-storage.js";

const TIERS = v3Resource(kindByName("Tier") as CalicoKind);
const CUSTOM_CONFLICT = "Tier/custom: v3 resource exists with different spec (differs at: spec.order)";
const SECOND_CONFLICT = "Tier/second: v3 resource exists with different spec (differs at: spec.order)";

function conflictMessages(dm: DatastoreMigration): string[] {
  return (dm.status?.conditions ?? []).filter((c) => c.type === ConditionType.Conflict).map((c) => c.message).sort();
}

describe("controller: conflicts and their resolution", () => {
  let cluster: TestCluster;
  let controller: RunningController;
  let uid = "";
  let userCustomUid = "";

  before(async () => {
    cluster = await sharedCluster();
    await resetApiServerMode(cluster.admin);
    await installControllerManifests(cluster.admin);
    await writeV1(cluster.admin, { kind: "Tier", metadata: { name: "custom" }, spec: { order: 100 } });
    await writeV1(cluster.admin, { kind: "Tier", metadata: { name: "second" }, spec: { order: 300 } });
    await writeV1(cluster.admin, { kind: "GlobalNetworkPolicy", metadata: { name: "custom.allow-dns" }, spec: { tier: "custom", selector: "all()", types: ["Egress"], egress: [{ action: "Allow", protocol: "UDP", destination: { ports: [53] } }] } });
    await withV3Storage(cluster.admin, () => createV3(cluster.admin, { kind: "Tier", metadata: { name: "custom" }, spec: { order: 999 } }));
    // Conflicts injected at the copy's first v3 reads and creates: the locked copy (--no-precopy).
    controller = await startController(cluster, { precopy: false });
  });

  after(async () => {
    await controller?.stop();
  });

  test("a v3 Tier with another order stops the migration in WaitingForConflictResolution with one Conflict condition", async () => {
    uid = (await createMigration(cluster.admin, { annotations: CORE_ROLE_OPT_OUT })).metadata.uid ?? "";
    const dm = await waitPhase(cluster.admin, "WaitingForConflictResolution");
    assert.equal(dm.status?.message, "Datastore is locked: resolve 1 resource conflicts to let the migration continue");
    assert.equal(dm.status?.conditions?.length, 1);
    const [c] = dm.status?.conditions ?? [];
    assert.deepEqual({ type: c?.type, status: c?.status, reason: c?.reason, message: c?.message },
      { type: "Conflict", status: "True", reason: "ResourceMismatch", message: CUSTOM_CONFLICT });
    assert.equal(dm.status?.startedAt, undefined, "the copy never started");
    assert.deepEqual(await v1Lock(cluster.admin), { ready: false, lockedBy: uid }, "v1 stays locked while waiting");
    await assertApiServiceUnregistered(cluster.admin);
    const v3 = await cluster.admin.get(TIERS, "custom");
    assert.equal((v3.spec as { order: number }).order, 999, "the conflicting v3 object is not overwritten");
    await waitEvent(cluster.admin, dm, "ConflictsFound");
  });

  test("an APIService registered again while waiting is unregistered again, with an APIServiceRecreated Event", async () => {
    const before = await getMigration(cluster.admin);
    await registerApiService(cluster.admin);
    const event = await waitEvent(cluster.admin, before!, "APIServiceRecreated");
    assert.equal(event.type, "Warning");
    await eventually(() => assertApiServiceUnregistered(cluster.admin), { message: "APIService unregistered again" });
    const dm = await waitMigration(cluster.admin, (d) => assert.deepEqual(conflictMessages(d), [CUSTOM_CONFLICT]), { message: "conflict read from CRD storage again" });
    assert.equal(dm.status?.phase, "WaitingForConflictResolution");
    assert.equal(dm.metadata.annotations?.[Names.savedApiService], before?.metadata.annotations?.[Names.savedApiService], "the saved APIService is not overwritten");
  });

  test("a conflicting object deleted and re-created while waiting is found again under its new uid", async () => {
    const recorder = await recordPhases(cluster.admin);
    try {
      // A second conflict keeps the migration waiting whenever the controller looks.
      await createV3(cluster.admin, { kind: "Tier", metadata: { name: "second" }, spec: { order: 301 } });
      await waitMigration(cluster.admin, (d) => assert.deepEqual(conflictMessages(d), [CUSTOM_CONFLICT, SECOND_CONFLICT]), { message: "two conflicts" });
      const old = await cluster.admin.get(TIERS, "custom");
      await cluster.admin.delete(TIERS, "custom");
      const recreated = await createV3(cluster.admin, { kind: "Tier", metadata: { name: "custom" }, spec: { order: 998 } });
      userCustomUid = recreated.metadata.uid ?? "";
      assert.notEqual(userCustomUid, old.metadata.uid);
      const dm = await waitMigration(cluster.admin, (d) => {
        assert.deepEqual(conflictMessages(d), [CUSTOM_CONFLICT, SECOND_CONFLICT]);
        assert.equal(d.status?.message, "Datastore is locked: resolve 2 resource conflicts to let the migration continue");
      }, { message: "both conflicts reported after the re-creation" });
      assert.equal(dm.status?.phase, "WaitingForConflictResolution");
      // Several polls later the user's object is still untouched.
      await consistently(async () => {
        const v3 = await cluster.admin.get(TIERS, "custom");
        assert.equal(v3.metadata.uid, userCustomUid);
        assert.equal((v3.spec as { order: number }).order, 998);
        assert.equal(v3.metadata.annotations?.[Names.migratedBy], undefined);
      }, { durationMs: 3000, message: "the re-created object is left alone" });
    } finally {
      await recorder.stop();
    }
    assert.deepEqual(recorder.phases, ["WaitingForConflictResolution"], "never left WaitingForConflictResolution");
  });

  test("resolving every conflict goes back through Pending and Migrating to Converged, keeping the user's objects", async () => {
    const recorder = await recordPhases(cluster.admin);
    let dm: DatastoreMigration;
    try {
      // custom: the user makes v3 equal to v1; second: the user deletes the v3 object, the copy re-creates it.
      const custom = await cluster.admin.get(TIERS, "custom");
      await cluster.admin.update(TIERS, { ...custom, spec: { ...(custom.spec as object), order: 100 } });
      await cluster.admin.delete(TIERS, "second");
      dm = await waitPhase(cluster.admin, "Converged");
      await recorder.until("Converged");
    } finally {
      await recorder.stop();
    }
    assert.deepEqual(recorder.phases, ["WaitingForConflictResolution", "Pending", "Migrating", "Converged"]);
    assert.deepEqual(conflictMessages(dm), [], "no Conflict conditions remain");
    assert.ok((dm.status?.progress?.skipped ?? 0) >= 1, "the resolved object counts as skipped");
    assert.equal(dm.status?.progress?.conflicts, 0);
    const tiers = dm.status?.progress?.typeDetails?.find((t) => t.kind === "Tier");
    assert.deepEqual(tiers, { kind: "Tier", migrated: 1, skipped: 1, conflicts: 0 });
    const custom = await cluster.admin.get(TIERS, "custom");
    assert.equal(custom.metadata.uid, userCustomUid, "the user's object is kept");
    assert.equal(custom.metadata.annotations?.[Names.migratedBy], undefined);
    const second = await cluster.admin.get(TIERS, "second");
    assert.equal((second.spec as { order: number }).order, 300, "the deleted object is copied from v1");
    assert.equal(second.metadata.annotations?.[Names.migratedBy], uid);
    const reasons = (await eventsFor(cluster.admin, dm)).map((e) => e.reason);
    for (const r of ["ConflictsFound", "ConflictsResolved", "Migrating", "Converged"]) assert.ok(reasons.includes(r), `Event ${r} in ${reasons.join(", ")}`);
  });

  test("the resolved migration completes once the components run with the v3 API group, and Complete is final", async () => {
    await switchAllComponents(cluster.admin);
    const dm = await waitPhase(cluster.admin, "Complete", { timeoutMs: 60_000 });
    assert.equal(dm.status?.message, "Migration complete");
    assert.ok(dm.status?.completedAt);
    // Complete is final: the controller writes nothing more.
    const settled = (await getMigration(cluster.admin))?.metadata.resourceVersion;
    await consistently(async () => assert.equal((await getMigration(cluster.admin))?.metadata.resourceVersion, settled), { durationMs: 3_000, message: "Complete is a no-op" });
  });
});
