/**
 * Crash safety: the controller is stopped and a new one started in every phase of a copy inside
 * the lock (--no-precopy) — during the drain, while waiting on a conflict, in Migrating with a copy
 * that keeps failing, at Converged —
 * and the migration ends exactly as an uninterrupted one would. Also the engine's verify pass on
 * its own: it re-creates a v3 object deleted after the copy and reports v3 objects without a source.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Names } from "../../src/api/datastore-migration.js";
import { kindByName, v1Resource, v3Resource, type CalicoKind } from "../../src/calico/kinds.js";
import { loadSchemas } from "../../src/migration/planner.js";
import { runPass } from "../../src/migration/run-kinds.js";
import { denyCreates } from "../harness/admission.js";
import { NAMESPACES, resetApiServerMode } from "../harness/api-server-mode.js";
import { installControllerManifests, startController, type RunningController } from "../harness/controller.js";
import { compareDatastores, describeComparison } from "../harness/datastore-compare.js";
import {
  CONFIGMAPS, createMigration, eventsFor, switchAllComponents, v1Lock, waitMigration, waitPhase,
} from "../harness/migration-cr.js";
import { sharedCluster, type TestCluster } from "../harness/shared-cluster.js";
import { ownerRefTo, writeV1 } from "../harness/v1-writer.js";
import { createV3, withV3Storage } from "../harness/v3-storage.js";

const TIERS = v3Resource(kindByName("Tier") as CalicoKind);

describe("controller: a new controller resumes in every phase", () => {
  let cluster: TestCluster;
  let controller: RunningController | undefined;
  let uid = "";
  let lockedAt = "";
  let undeny: (() => Promise<void>) | undefined;

  // Phases of the copy inside the lock (--no-precopy): a copy held in Migrating by a denied
  // create is the fallback's scenario; the pre-copy's restarts are crash.extended's steps.
  async function restart(config: Parameters<typeof startController>[1] = {}): Promise<RunningController> {
    await controller?.stop();
    controller = await startController(cluster, { precopy: false, ...config });
    return controller;
  }

  before(async () => {
    cluster = await sharedCluster();
    await resetApiServerMode(cluster.admin);
    // The optional foreign-owner role: foreign dependents must survive a restart at every step (foreign owner references).
    await installControllerManifests(cluster.admin, { foreignOwnerRole: true });
    // v3 storage first: while the APIService is unregistered for this, the garbage collector would
    // see every object owned by a v1 Tier (by its API-server uid) as orphaned and delete it.
    await withV3Storage(cluster.admin, () => createV3(cluster.admin, { kind: "Tier", metadata: { name: "custom" }, spec: { order: 999 } }));
    const security = await writeV1(cluster.admin, { kind: "Tier", metadata: { name: "security" }, spec: { order: 200 } });
    await writeV1(cluster.admin, { kind: "Tier", metadata: { name: "custom" }, spec: { order: 100 } });
    await writeV1(cluster.admin, { kind: "GlobalNetworkPolicy", metadata: { name: "security.allow-dns", ownerReferences: [ownerRefTo(security, "Tier")] }, spec: { tier: "security", selector: "all()", types: ["Egress"], egress: [{ action: "Allow" }] } });
    await writeV1(cluster.admin, { kind: "NetworkPolicy", metadata: { name: "allow-web", namespace: "default" }, spec: { tier: "custom", selector: "app == 'web'", types: ["Ingress"], ingress: [{ action: "Allow" }] } });
    await writeV1(cluster.admin, { kind: "IPPool", metadata: { name: "pool-1" }, spec: { cidr: "10.1.0.0/16", blockSize: 26, ipipMode: "Never", vxlanMode: "Always", natOutgoing: true, nodeSelector: "all()" } });
    await writeV1(cluster.admin, { kind: "GlobalNetworkSet", metadata: { name: "external" }, spec: { nets: ["192.0.2.0/24"] } });
    // Owned by its namespace and by a Calico object: only the Calico reference changes.
    const ns = await cluster.admin.get(NAMESPACES, "default");
    await writeV1(cluster.admin, {
      kind: "NetworkSet",
      metadata: { name: "trusted", namespace: "default", ownerReferences: [{ apiVersion: "v1", kind: "Namespace", name: "default", uid: ns.metadata.uid ?? "" }, ownerRefTo(security, "Tier")] },
      spec: { nets: ["198.51.100.0/24"] },
    });
    await writeV1(cluster.admin, { kind: "HostEndpoint", metadata: { name: "test-hep", labels: { role: "edge" } }, spec: { node: "node-1", interfaceName: "eth0", expectedIPs: ["10.0.0.5"] } });
    await writeV1(cluster.admin, { kind: "BGPPeer", metadata: { name: "test-peer" }, spec: { peerIP: "10.0.0.100", asNumber: 64512 } });
    await cluster.admin.create(CONFIGMAPS, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "resume-owned-by-security", namespace: "default", ownerReferences: [ownerRefTo(security, "Tier")] }, data: {} });
  });

  after(async () => {
    await controller?.stop();
    await undeny?.();
    await cluster.admin.delete(CONFIGMAPS, "resume-owned-by-security", "default").catch(() => undefined);
  });

  test("restarted during the drain, the new controller keeps the lock it found and finishes the drain", async () => {
    await restart({ drainPeriodMs: 4_000 });
    uid = (await createMigration(cluster.admin)).metadata.uid ?? "";
    const draining = await waitMigration(cluster.admin, (d) => assert.ok(d.status?.datastoreLockedAt), { message: "locked" });
    lockedAt = draining.status?.datastoreLockedAt ?? "";
    assert.equal(draining.status?.message, "Waiting for in-flight datastore writes to drain");

    const second = await restart({ drainPeriodMs: 4_000 });
    const dm = await waitPhase(cluster.admin, "WaitingForConflictResolution");
    assert.equal(dm.status?.datastoreLockedAt, lockedAt, "the lock is not taken again");
    assert.equal(second.log.lines.filter((l) => l.includes("plan finished")).length, 0, "no prechecks inside the locked window");
    assert.deepEqual(await v1Lock(cluster.admin), { ready: false, lockedBy: uid });
    assert.equal((await eventsFor(cluster.admin, dm, "DatastoreLocked")).length, 1);
  });

  test("restarted while waiting, with the conflicting v3 object deleted meanwhile, the copy re-creates it from v1", async () => {
    await controller?.stop();
    controller = undefined;
    await cluster.admin.delete(TIERS, "custom");
    // Hold the copy in Migrating: IPPool creates are refused from now on.
    undeny = await denyCreates(cluster.admin, "ippools", "ippool creation denied by the test");
    await restart();
    await waitMigration(cluster.admin, (d) => {
      assert.equal(d.status?.phase, "Migrating");
      assert.match(d.status?.message ?? "", /^creating IPPool pool-1: /);
    }, { message: "Migrating, held at IPPool" });
    const custom = await cluster.admin.get(TIERS, "custom");
    assert.equal((custom.spec as { order: number }).order, 100);
    assert.equal(custom.metadata.annotations?.[Names.migratedBy], uid, "re-created by this migration");
  });

  test("restarted in Migrating, the new controller copies the rest once the cause is gone and converges", async () => {
    await controller?.stop();
    controller = undefined;
    await undeny?.();
    undeny = undefined;
    await restart();
    const dm = await waitPhase(cluster.admin, "Converged");
    assert.deepEqual(dm.status?.conditions?.filter((c) => c.type === "Conflict") ?? [], []);
    assert.equal(dm.status?.datastoreLockedAt, lockedAt);
    // Progress restarts with each entry into Migrating: what the earlier run created counts as skipped.
    assert.equal((dm.status?.progress?.migrated ?? 0) + (dm.status?.progress?.skipped ?? 0), 9);
    assert.equal(dm.status?.progress?.conflicts, 0);
  });

  test("restarted at Converged, the new controller completes, with the same result as an uninterrupted run", async () => {
    await restart();
    await switchAllComponents(cluster.admin);
    const dm = await waitPhase(cluster.admin, "Complete", { timeoutMs: 60_000 });
    assert.equal(dm.status?.message, "Migration complete");
    const comparison = await compareDatastores(cluster.admin);
    assert.equal(comparison.matched, comparison.v1Total, describeComparison(comparison));
    assert.equal(comparison.v1Total, 9);
    const trusted = await cluster.admin.get(v3Resource(kindByName("NetworkSet") as CalicoKind), "trusted", "default");
    assert.deepEqual(trusted.metadata.ownerReferences?.map((r) => `${r.kind}/${r.uid}`),
      [`Namespace/${(await cluster.admin.get(NAMESPACES, "default")).metadata.uid}`, `Tier/${(await cluster.admin.get(TIERS, "security")).metadata.uid}`], "the Namespace reference is copied as is, the Tier one remapped");
    assert.deepEqual([comparison.missing, comparison.different, comparison.extras, comparison.duplicated], [[], [], [], []], describeComparison(comparison));
    const security = await cluster.admin.get(TIERS, "security");
    const cm = await cluster.admin.get(CONFIGMAPS, "resume-owned-by-security", "default");
    assert.deepEqual(cm.metadata.ownerReferences?.map((r) => r.uid), [security.metadata.uid], "the foreign dependent points at the v3 owner");
    const reasons = (await eventsFor(cluster.admin, dm)).map((e) => e.reason);
    assert.equal(reasons.filter((r) => r === "DatastoreLocked").length, 1, "locked once");
    assert.equal(reasons.filter((r) => r === "APIServiceUnregistered").length, 1, "unregistered once");
  });
});

describe("engine: the verify pass", () => {
  let cluster: TestCluster;

  before(async () => {
    cluster = await sharedCluster();
    await resetApiServerMode(cluster.admin);
    await writeV1(cluster.admin, { kind: "Tier", metadata: { name: "alpha" }, spec: { order: 100 } });
    await writeV1(cluster.admin, { kind: "Tier", metadata: { name: "beta" }, spec: { order: 200 } });
    await writeV1(cluster.admin, { kind: "GlobalNetworkSet", metadata: { name: "external" }, spec: { nets: ["192.0.2.0/24"] } });
    await writeV1(cluster.admin, {
      kind: "GlobalNetworkSet",
      metadata: { name: "orphan", ownerReferences: [{ apiVersion: "projectcalico.org/v3", kind: "Tier", name: "gone", uid: "7d5d3c0c-1b63-4f4e-9a55-2b1f6f0e9a01" }] },
      spec: { nets: ["203.0.113.0/24"] },
    });
  });

  test("copies an object whose Calico owner is not in v1 without that reference, and reports it", async () => {
    await withV3Storage(cluster.admin, async () => {
      const opts = { client: cluster.admin, schemas: await loadSchemas(cluster.admin), migrationUid: "engine-verify" };
      const copy = await runPass(opts, "copy");
      assert.equal(copy.kinds.reduce((n, k) => n + k.migrated, 0), 4);
      const sets = copy.kinds.find((k) => k.kind === "GlobalNetworkSet");
      assert.deepEqual(sets?.droppedOwnerReferences.map((d) => [d.name, d.owner.kind, d.owner.name]), [["orphan", "Tier", "gone"]]);
      const orphan = await cluster.admin.get(v3Resource(kindByName("GlobalNetworkSet") as CalicoKind), "orphan");
      assert.equal(orphan.metadata.ownerReferences, undefined, "no dangling reference for the garbage collector to act on");
    });
  });

  test("re-creates a v3 object deleted after the copy and reports v3 objects without a v1 source", async () => {
    await withV3Storage(cluster.admin, async () => {
      const opts = { client: cluster.admin, schemas: await loadSchemas(cluster.admin), migrationUid: "engine-verify" };
      await cluster.admin.delete(TIERS, "beta");
      await createV3(cluster.admin, { kind: "Tier", metadata: { name: "no-source" }, spec: { order: 300 } });

      const verify = await runPass(opts, "verify");
      const tiers = verify.kinds.find((k) => k.kind === "Tier");
      assert.deepEqual({ migrated: tiers?.migrated, skipped: tiers?.skipped, extras: tiers?.extras }, { migrated: 1, skipped: 1, extras: [{ name: "no-source", migratedByUs: false }] });
      assert.deepEqual(verify.kinds.find((k) => k.kind === "GlobalNetworkSet")?.skipped, 2);
      assert.deepEqual(verify.conflicts, []);
      const beta = await cluster.admin.get(TIERS, "beta");
      assert.equal((beta.spec as { order: number }).order, 200);
      assert.equal(beta.metadata.annotations?.[Names.migratedBy], "engine-verify");
      // The v1 side is only read.
      assert.equal((await cluster.admin.listAll(v1Resource(kindByName("Tier") as CalicoKind))).length, 2);
    });
  });
});
