/**
 * A copy the v3 API refuses as invalid inside the locked window (here: validation was skipped and
 * a v1 object breaks a v3 rule) must not hold the datastore locked while it retries for ever: the
 * controller ends the window — API-server mode restored, v1 unlocked, its copies deleted — and
 * fails with the object and the command that fixes it.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ConditionReason, Names } from "../../src/api/datastore-migration.js";
import { resetApiServerMode } from "../harness/api-server-mode.js";
import { legacyV1 } from "../harness/bad-input-table.js";
import { snapshotDifferences, takeSnapshot } from "../harness/cluster-snapshot.js";
import { installControllerManifests, startController, type RunningController } from "../harness/controller.js";
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
    // Server-side validation off: nothing stops the object before the lock.
    controller = await startController(cluster, { validate: false });
  });

  after(async () => {
    await controller?.stop();
    await undo?.();
  });

  test("ends the window: Failed with the object and its fix, API-server mode restored, v1 unlocked, nothing left in v3", async () => {
    const snapshot = await takeSnapshot(cluster.admin, ["default"]);
    const created = await createMigration(cluster.admin);
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
