/**
 * A copy the v3 API refuses inside the locked window must not hold the datastore locked while it
 * retries for ever. Refused as invalid (here: validation was skipped and a v1 object breaks a v3
 * rule) the controller ends the window at once — API-server mode restored, v1 unlocked, its copies
 * deleted — and fails with the object and the command that fixes it; refused as forbidden (an
 * admission policy's denial, which may be lifted) it does so after a grace period. And an object
 * changed after the plan validated it is validated again right after the drain, while only the v1
 * lock is held: refused, the lock is given back and the migration stays Pending.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ConditionReason, ConditionType, Names } from "../../src/api/datastore-migration.js";
import { kindByName, v1Resource, type CalicoKind } from "../../src/calico/kinds.js";
import { isNotFound } from "../../src/kube/errors.js";
import { denyCreates } from "../harness/admission.js";
import { resetApiServerMode, withoutV1Validation } from "../harness/api-server-mode.js";
import { legacyV1 } from "../harness/bad-input-table.js";
import { snapshotDifferences, takeSnapshot } from "../harness/cluster-snapshot.js";
import { CORE_ROLE_OPT_OUT, installControllerManifests, startController, type RunningController } from "../harness/controller.js";
import { assertAggregatedApiService, createMigration, deleteMigration, eventsFor, v1Lock, waitGone, waitMigration } from "../harness/migration-cr.js";
import { sharedCluster, type TestCluster } from "../harness/shared-cluster.js";
import { writeV1 } from "../harness/v1-writer.js";
import { listAllV3, withV3Storage } from "../harness/v3-storage.js";

describe("a copy refused as invalid inside the locked window", () => {
  let cluster: TestCluster;
  let controller: RunningController | undefined;
  let undo: (() => Promise<void>) | undefined;

  before(async () => {
    cluster = await sharedCluster();
    await resetApiServerMode(cluster.admin);
    // The optional foreign-owner role: its migration scans for foreign owner references (the CR does not opt out).
    await installControllerManifests(cluster.admin, { foreignOwnerRole: true });
    await writeV1(cluster.admin, { kind: "Tier", metadata: { name: "security" }, spec: { order: 200 } });
    await writeV1(cluster.admin, { kind: "GlobalNetworkSet", metadata: { name: "external" }, spec: { nets: ["192.0.2.0/24"] } });
    undo = await legacyV1(cluster.admin, "BGPPeer", "node-and-selector", { node: "node-0", nodeSelector: "all()", peerIP: "192.0.2.2", asNumber: 64514 });
    // Server-side validation off and the copy inside the lock (--no-precopy): nothing stops the
    // object before the lock (the pre-copy's own create would: bad-input's rows).
    controller = await startController(cluster, { validate: false, precopy: false });
  });

  after(async () => {
    await controller?.stop();
    await undo?.();
  });

  test("ends the window: Failed with the object and its fix, API-server mode restored, v1 unlocked, nothing left in v3", async () => {
    const snapshot = await takeSnapshot(cluster.admin, ["default"]);
    const created = await createMigration(cluster.admin, { annotations: CORE_ROLE_OPT_OUT });
    const dm = await waitMigration(cluster.admin, (d) => {
      assert.equal(d.status?.phase, "Failed", d.status?.message);
      assert.equal(d.metadata.annotations?.[Names.restorePending], undefined, "the restore finished");
    }, { timeoutMs: 120_000, message: "Failed and restored" });
    assert.ok(dm.status?.datastoreLockedAt, "it had locked the datastore");
    assert.match(dm.status?.message ?? "", /^BGPPeer node-and-selector was refused by the v3 API: .*node and nodeSelector cannot both be set.*\. The locked window was ended: API server mode is restored and the v1 datastore unlocked; nothing in v1 was changed\. Fix the v1 object \(kubectl edit bgppeers\.crd\.projectcalico\.org node-and-selector\) until calico-migrate plan passes/);
    assert.equal(dm.status?.conditions?.at(-1)?.reason, ConditionReason.CopyRefused);
    assert.equal(dm.metadata.annotations?.[Names.restorePending], undefined, "the restore finished");
    await assertAggregatedApiService(cluster.admin);
    assert.deepEqual(await v1Lock(cluster.admin), { ready: true, lockedBy: undefined });
    const reasons = (await eventsFor(cluster.admin, dm)).map((e) => e.reason);
    assert.ok(reasons.includes("CopyRefused") && reasons.includes("Failed"), reasons.join(", "));
    await withV3Storage(cluster.admin, async () => {
      const ours = (await listAllV3(cluster.admin)).filter((o) => o.metadata.annotations?.[Names.migratedBy] === created.metadata.uid && !["default", "kube-admin", "kube-baseline"].includes(o.metadata.name ?? ""));
      assert.deepEqual(ours.map((o) => `${o.kind}/${o.metadata.name}`), [], "the copies are deleted");
    });

    // Deleting the Failed migration changes nothing more: the cluster is as before.
    await deleteMigration(cluster.admin);
    await waitGone(cluster.admin);
    assert.deepEqual(snapshotDifferences(snapshot, await takeSnapshot(cluster.admin, ["default"])), [], "the cluster is as before");
  });
});

const BGPPEERS = v1Resource(kindByName("BGPPeer") as CalicoKind);

describe("an object changed after the plan validated it, to one the v3 API refuses", () => {
  let cluster: TestCluster;
  let controller: RunningController | undefined;

  before(async () => {
    cluster = await sharedCluster();
    await resetApiServerMode(cluster.admin);
    await installControllerManifests(cluster.admin);
    await writeV1(cluster.admin, { kind: "BGPPeer", metadata: { name: "changed-peer" }, spec: { node: "node-0", peerIP: "192.0.2.3", asNumber: 64515 } });
    // A drain long enough to change the object in it (the plan, before the lock, saw it valid). The
    // re-validation after the drain is the locked copy's (--no-precopy); with the pre-copy the
    // final delta catches it (the next test).
    controller = await startController(cluster, { drainPeriodMs: 15_000, precopy: false });
  });

  after(async () => {
    await controller?.stop();
    await cluster.admin.delete(BGPPEERS, "changed-peer").catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  });

  test("is caught after the drain: v1 unlocked again, Pending with the object and its fix, the APIService never taken", async () => {
    await createMigration(cluster.admin, { annotations: CORE_ROLE_OPT_OUT });
    await waitMigration(cluster.admin, (d) => assert.ok(d.status?.datastoreLockedAt), { message: "locked and draining" });
    await withoutV1Validation(cluster.admin, "bgppeers", async () => {
      const peer = await cluster.admin.get(BGPPEERS, "changed-peer");
      await cluster.admin.update(BGPPEERS, { ...peer, spec: { ...(peer.spec as object), nodeSelector: "all()" } });
    });
    assert.ok((await cluster.admin.get(BGPPEERS, "changed-peer")).metadata.resourceVersion);
    const dm = await waitMigration(cluster.admin, (d) => {
      assert.equal(d.status?.phase, "Pending", d.status?.message);
      assert.equal(d.status?.datastoreLockedAt, undefined, "the lock is given back");
      assert.match(d.status?.message ?? "", /^BGPPeer "changed-peer" would be rejected by the v3 API.*node and nodeSelector cannot both be set.*\. Fix: correct it in v1: kubectl edit bgppeers\.crd\.projectcalico\.org changed-peer/);
    }, { timeoutMs: 90_000, message: "Pending again, unlocked, naming the changed object" });
    assert.deepEqual(await v1Lock(cluster.admin), { ready: true, lockedBy: undefined });
    await assertAggregatedApiService(cluster.admin);
    const reasons = (await eventsFor(cluster.admin, dm)).map((e) => e.reason);
    assert.ok(reasons.includes("ChangedObjectRefused"), reasons.join(", "));
    assert.ok(!reasons.includes("APIServiceUnregistered") && !reasons.includes("Migrating"), `nothing beyond the v1 lock was taken: ${reasons.join(", ")}`);
    // Only the changed object was validated again (the plan had seen every other one as it is).
    const revalidated = controller?.log.lines.filter((l) => l.includes("changed objects re-validated")) ?? [];
    assert.equal(revalidated.length, 1, revalidated.join("\n"));
    assert.match(revalidated[0] ?? "", /"changed":1,"rejected":1,/);

    await deleteMigration(cluster.admin);
    await waitGone(cluster.admin);
    assert.deepEqual(await v1Lock(cluster.admin), { ready: true, lockedBy: undefined });
  });

  test("with the pre-copy, the final delta catches it the same way: v1 unlocked again, Pending with the object and its fix", async () => {
    await controller?.stop();
    controller = await startController(cluster, { drainPeriodMs: 15_000 });
    await withoutV1Validation(cluster.admin, "bgppeers", async () => {
      const peer = await cluster.admin.get(BGPPEERS, "changed-peer");
      await cluster.admin.update(BGPPEERS, { ...peer, spec: { ...(peer.spec as Record<string, unknown>), nodeSelector: undefined } });
    });
    await createMigration(cluster.admin, { annotations: CORE_ROLE_OPT_OUT });
    await waitMigration(cluster.admin, (d) => assert.ok(d.status?.datastoreLockedAt), { timeoutMs: 90_000, message: "pre-copied, locked and draining" });
    await withoutV1Validation(cluster.admin, "bgppeers", async () => {
      const peer = await cluster.admin.get(BGPPEERS, "changed-peer");
      await cluster.admin.update(BGPPEERS, { ...peer, spec: { ...(peer.spec as object), nodeSelector: "all()" } });
    });
    const dm = await waitMigration(cluster.admin, (d) => {
      assert.equal(d.status?.phase, "Pending", d.status?.message);
      assert.equal(d.status?.datastoreLockedAt, undefined, "the lock is given back");
      assert.match(d.status?.message ?? "", /^BGPPeer "changed-peer" would be rejected by the v3 API.*node and nodeSelector cannot both be set.*\. Fix: correct it in v1: kubectl edit bgppeers\.crd\.projectcalico\.org changed-peer \(changed after it was copied: the v1 datastore was unlocked again/);
    }, { timeoutMs: 90_000, message: "Pending again, unlocked, naming the changed object" });
    assert.deepEqual(await v1Lock(cluster.admin), { ready: true, lockedBy: undefined });
    await assertAggregatedApiService(cluster.admin);
    const reasons = (await eventsFor(cluster.admin, dm)).map((e) => e.reason);
    assert.ok(reasons.includes("ChangedObjectRefused"), reasons.join(", "));
    assert.ok(!reasons.includes("APIServiceUnregistered") && !reasons.includes("Migrating"), `nothing beyond the v1 lock was taken: ${reasons.join(", ")}`);
    await deleteMigration(cluster.admin);
    await waitGone(cluster.admin);
    assert.deepEqual(await v1Lock(cluster.admin), { ready: true, lockedBy: undefined });
  });
});

describe("a copy refused as forbidden inside the locked window", () => {
  let cluster: TestCluster;
  let controller: RunningController | undefined;
  let undeny: (() => Promise<void>) | undefined;

  before(async () => {
    cluster = await sharedCluster();
    await resetApiServerMode(cluster.admin);
    await installControllerManifests(cluster.admin);
    await writeV1(cluster.admin, { kind: "GlobalNetworkSet", metadata: { name: "denied-set" }, spec: { nets: ["198.51.100.0/24"] } });
    // Not the transitional "failed to configure policy": a denial nobody lifts.
    undeny = await denyCreates(cluster.admin, "globalnetworksets", "globalnetworkset creates denied by the test");
    // Inside the locked window: the copy inside the lock (--no-precopy; the pre-copy meets the
    // denial before locking anything).
    controller = await startController(cluster, { refusalGraceMs: 3_000, precopy: false });
  });

  after(async () => {
    await controller?.stop();
    await undeny?.();
    await cluster.admin.delete(v1Resource(kindByName("GlobalNetworkSet") as CalicoKind), "denied-set").catch(() => undefined);
  });

  test("ends the window after the grace: Failed naming the object and the denial, API-server mode restored, v1 unlocked", async () => {
    await createMigration(cluster.admin, { annotations: CORE_ROLE_OPT_OUT });
    const dm = await waitMigration(cluster.admin, (d) => {
      assert.equal(d.status?.phase, "Failed", d.status?.message);
      assert.equal(d.metadata.annotations?.[Names.restorePending], undefined, "the restore finished");
    }, { timeoutMs: 120_000, message: "Failed and restored" });
    assert.match(dm.status?.message ?? "", /^GlobalNetworkSet \S+ was refused by the v3 API: .*globalnetworkset creates denied by the test.*\. The locked window was ended after the create was refused for \S+ \(longer than 3s\): API server mode is restored and the v1 datastore unlocked; nothing in v1 was changed\. Lift the denial/);
    const failed = dm.status?.conditions?.find((c) => c.type === ConditionType.Failed);
    assert.equal(failed?.reason, ConditionReason.CopyRefused);
    // Within the bound: the grace plus the work queue's backoff, not an endless retry.
    const lockedFor = Date.parse(failed?.lastTransitionTime ?? "") - Date.parse(dm.status?.startedAt ?? "");
    assert.ok(lockedFor <= 60_000, `the window ended ${lockedFor} ms after the copy started`);
    await assertAggregatedApiService(cluster.admin);
    assert.deepEqual(await v1Lock(cluster.admin), { ready: true, lockedBy: undefined });
    const reasons = (await eventsFor(cluster.admin, dm)).map((e) => e.reason);
    assert.ok(reasons.includes("CopyRefused") && reasons.includes("Failed"), reasons.join(", "));

    await deleteMigration(cluster.admin);
    await waitGone(cluster.admin);
  });
});
