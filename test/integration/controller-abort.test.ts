/**
 * Abort: deleting the DatastoreMigration before Converged puts the cluster back in API-server
 * mode — from the drain in Pending, from WaitingForConflictResolution reached from Pending, and
 * from Migrating with a copy that keeps failing — removing only what this migration created and
 * never letting the garbage collector take a non-Calico object owned by a Calico one.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { migrationResource, Names } from "../../src/api/datastore-migration.js";
import { CALICO_KINDS, CLUSTER_INFORMATION_V1, CLUSTER_INFORMATION_V3, kindByName, v1Resource, v3Resource, type CalicoKind } from "../../src/calico/kinds.js";
import type { KubeClient } from "../../src/kube/client.js";
import { isNotFound } from "../../src/kube/errors.js";
import { DETACHED_ANNOTATION, DETACHED_LABEL } from "../../src/migration/foreign-owners.js";
import { resetApiServerMode, seedClusterInformation } from "../harness/api-server-mode.js";
import { denyCreates, denyRequests } from "../harness/admission.js";
import { installControllerManifests, startController, type RunningController, CORE_ROLE_OPT_OUT } from "../harness/controller.js";
import { consistently } from "../harness/eventually.js";
import { gcBarrier } from "../harness/gc-barrier.js";
import {
  assertAggregatedApiService, CONFIGMAPS, createMigration, deleteMigration, v1Lock, waitEvent, waitGone, waitMigration, waitPhase,
} from "../harness/migration-cr.js";
import { sharedCluster, type TestCluster } from "../harness/shared-cluster.js";
import { ownerRefTo, writeV1 } from "../harness/v1-writer.js";
import { createV3, listAllV3, withV3Storage } from "../harness/v3-storage.js";

const TIERS = v3Resource(kindByName("Tier") as CalicoKind);

/** What abort must leave exactly as it was on every v1 object. */
async function v1Snapshot(admin: KubeClient): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const ref of [...CALICO_KINDS.map(v1Resource), CLUSTER_INFORMATION_V1]) {
    for (const o of await admin.listAll(ref)) {
      const m = o.metadata;
      out[`${ref.kind}/${m.namespace ?? ""}/${m.name}`] = { uid: m.uid, labels: m.labels, annotations: m.annotations, spec: o.spec };
    }
  }
  return out;
}

describe("controller: abort before Converged", () => {
  let cluster: TestCluster;
  let controller: RunningController | undefined;

  before(async () => {
    cluster = await sharedCluster();
    await resetApiServerMode(cluster.admin);
    await installControllerManifests(cluster.admin);
    await writeV1(cluster.admin, { kind: "Tier", metadata: { name: "security" }, spec: { order: 200 } });
  });

  after(async () => {
    await controller?.stop();
  });

  test("deleting the CR during the drain unlocks v1 (once the API server lets it) and leaves the APIService untouched", async () => {
    controller = await startController(cluster, { drainPeriodMs: 3_600_000 });
    const svc = await assertAggregatedApiService(cluster.admin);
    const created = await createMigration(cluster.admin, { annotations: CORE_ROLE_OPT_OUT });
    const dm = await waitMigration(cluster.admin, (d) => {
      assert.ok(d.status?.datastoreLockedAt, "datastoreLockedAt set");
      assert.equal(d.status?.message, "Waiting for in-flight datastore writes to drain");
    }, { message: "draining" });
    assert.equal(dm.status?.phase, "Pending");
    assert.deepEqual(await v1Lock(cluster.admin), { ready: false, lockedBy: created.metadata.uid });

    // An unlock the API server refuses keeps the finalizer (and the error in status) until it succeeds.
    const allow = await denyRequests(cluster.admin, { apiGroup: "crd.projectcalico.org", apiVersion: "v1", resource: "clusterinformations", operations: ["UPDATE"], message: "v1 unlock refused by the test" });
    try {
      await cluster.admin.delete(migrationResource("v1"), "v1-to-v3");
      const stuck = await waitMigration(cluster.admin, (d) => assert.match(d.status?.message ?? "", /^unlocking v1 ClusterInformation: .*v1 unlock refused by the test/), { message: "unlock failure in status" });
      assert.ok(stuck.metadata.deletionTimestamp && stuck.metadata.finalizers?.includes(Names.finalizer), "the finalizer stays");
      assert.deepEqual(await v1Lock(cluster.admin), { ready: false, lockedBy: created.metadata.uid });
    } finally {
      await allow();
    }
    await waitGone(cluster.admin);
    assert.deepEqual(await v1Lock(cluster.admin), { ready: true, lockedBy: undefined }, "v1 unlocked, locked-by removed");
    const after = await assertAggregatedApiService(cluster.admin);
    assert.equal(after.metadata.uid, svc.metadata.uid, "the same APIService object");
    assert.equal(after.metadata.resourceVersion, svc.metadata.resourceVersion, "the APIService was not written");
    await waitEvent(cluster.admin, dm, "Aborted");
  });

  test("deleting the CR during the drain leaves a v1 lock someone else took as it was", async () => {
    const ci = await cluster.admin.get(CLUSTER_INFORMATION_V1, "default");
    await cluster.admin.update(CLUSTER_INFORMATION_V1, { ...ci, spec: { ...(ci.spec as object), datastoreReady: false } });
    await createMigration(cluster.admin, { annotations: CORE_ROLE_OPT_OUT });
    await waitMigration(cluster.admin, (d) => assert.ok(d.status?.datastoreLockedAt), { message: "draining" });
    assert.deepEqual(await v1Lock(cluster.admin), { ready: false, lockedBy: undefined }, "the lock was already taken: not recorded as ours");
    await deleteMigration(cluster.admin);
    assert.deepEqual(await v1Lock(cluster.admin), { ready: false, lockedBy: undefined }, "not ours to unlock");
    const locked = await cluster.admin.get(CLUSTER_INFORMATION_V1, "default");
    await cluster.admin.update(CLUSTER_INFORMATION_V1, { ...locked, spec: { ...(locked.spec as object), datastoreReady: true } });
    await controller?.stop();
    controller = undefined;
  });

  test("deleting the CR while waiting on conflicts found in Pending restores the APIService, and it stays restored", async () => {
    controller = await startController(cluster);
    await withV3Storage(cluster.admin, () => createV3(cluster.admin, { kind: "Tier", metadata: { name: "security" }, spec: { order: 999 } }));
    await createMigration(cluster.admin, { annotations: CORE_ROLE_OPT_OUT });
    await waitPhase(cluster.admin, "WaitingForConflictResolution");

    await deleteMigration(cluster.admin);
    await assertAggregatedApiService(cluster.admin);
    assert.deepEqual(await v1Lock(cluster.admin), { ready: true, lockedBy: undefined });
    // Kubernetes' autoregister controller must not take the restored APIService back.
    await consistently(() => assertAggregatedApiService(cluster.admin), { durationMs: 30_000, intervalMs: 2_000, message: "the restored APIService keeps spec.service" });
    assert.deepEqual(await v1Lock(cluster.admin), { ready: true, lockedBy: undefined });
  });

  test("a v1 ClusterInformation deleted meanwhile leaves nothing to unlock and does not hold the abort", async () => {
    await createMigration(cluster.admin, { annotations: CORE_ROLE_OPT_OUT });
    await waitPhase(cluster.admin, "WaitingForConflictResolution");
    await cluster.admin.delete(CLUSTER_INFORMATION_V1, "default");
    await deleteMigration(cluster.admin);
    await assertAggregatedApiService(cluster.admin);
    await seedClusterInformation(cluster.admin);
  });

  test("deleting the CR while the copy keeps failing in Migrating removes only what this migration created and restores API-server mode", async (t) => {
    // The optional foreign-owner role for this test only: its ConfigMap, owned by a Calico Tier,
    // must be detached and restored (foreign owner references); the other tests run on the core role.
    await installControllerManifests(cluster.admin, { foreignOwnerRole: true });
    t.after(() => installControllerManifests(cluster.admin));
    // A copy failing inside the locked window: without the pre-copy (which would find the denial
    // before locking anything and stay Pending; controller-precopy covers that).
    await controller?.stop();
    controller = await startController(cluster, { precopy: false });
    // v1: the built-in tiers, a tier with a policy, an IPPool whose copy the API server refuses.
    for (const [name, order, action] of [["default", 1_000_000, "Deny"], ["kube-admin", 1_000, "Pass"], ["kube-baseline", 10_000_000, "Pass"]] as const) {
      await writeV1(cluster.admin, { kind: "Tier", metadata: { name }, spec: { order, defaultAction: action } });
    }
    const security = await cluster.admin.get(v1Resource(kindByName("Tier")!), "security");
    await writeV1(cluster.admin, { kind: "GlobalNetworkPolicy", metadata: { name: "security.allow-dns", labels: { app: "dns" } }, spec: { tier: "security", selector: "all()", types: ["Egress"], egress: [{ action: "Allow" }] } });
    await writeV1(cluster.admin, { kind: "IPPool", metadata: { name: "pool-1" }, spec: { cidr: "10.1.0.0/16", blockSize: 26, ipipMode: "Never", vxlanMode: "Always", natOutgoing: true, nodeSelector: "all()" } });
    // v3 before the migration: security equal to v1 (kept, skipped), one with no v1 source.
    await withV3Storage(cluster.admin, async () => {
      const v3Security = await cluster.admin.get(TIERS, "security");
      await cluster.admin.update(TIERS, { ...v3Security, spec: { ...(v3Security.spec as object), order: 200 } });
      await createV3(cluster.admin, { kind: "Tier", metadata: { name: "preexisting" }, spec: { order: 50 } });
      await createV3(cluster.admin, { kind: "Tier", metadata: { name: "from-earlier", annotations: { [Names.migratedBy]: "earlier-migration" } }, spec: { order: 60 } });
    });
    const ownerRefs = [ownerRefTo(security, "Tier")];
    const cm = await cluster.admin.create(CONFIGMAPS, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "abort-owned-by-security", namespace: "default", ownerReferences: ownerRefs }, data: { k: "v" } });
    t.after(() => cluster.admin.delete(CONFIGMAPS, "abort-owned-by-security", "default").catch(() => undefined));
    const undeny = await denyCreates(cluster.admin, "ippools", "ippool creation denied by the test");
    t.after(undeny);
    const v1Before = await v1Snapshot(cluster.admin);

    const created = await createMigration(cluster.admin);
    const uid = created.metadata.uid ?? "";
    const dm = await waitMigration(cluster.admin, (d) => {
      assert.equal(d.status?.phase, "Migrating");
      assert.match(d.status?.message ?? "", /^creating IPPool pool-1: .*ippool creation denied by the test/);
    }, { message: "Migrating with the copy error in status.message" });
    const v3Tiers = new Map((await cluster.admin.listAll(TIERS)).map((o) => [o.metadata.name, o.metadata.annotations?.[Names.migratedBy]]));
    assert.deepEqual(Object.fromEntries(v3Tiers), { default: uid, "from-earlier": "earlier-migration", "kube-admin": uid, "kube-baseline": uid, preexisting: undefined, security: undefined });
    // v3 locked with a ClusterInformation it created from the v1 spec.
    const v1Ci = await cluster.admin.get(CLUSTER_INFORMATION_V1, "default");
    const v3Ci = await cluster.admin.get(CLUSTER_INFORMATION_V3, "default");
    assert.deepEqual(v3Ci.spec, { ...(v1Ci.spec as object), datastoreReady: false });
    assert.deepEqual([v3Ci.metadata.annotations?.[Names.migratedBy], v3Ci.metadata.annotations?.[Names.lockedBy]], [uid, undefined]);
    const detached = await cluster.admin.get(CONFIGMAPS, "abort-owned-by-security", "default");
    assert.equal(detached.metadata.ownerReferences, undefined, "the dependent is detached while its owners change");

    await deleteMigration(cluster.admin);
    const aborted = await waitEvent(cluster.admin, dm, "Aborted");
    assert.match(aborted.message, /built-in tiers left in v3 \(protected from deletion\): default, kube-admin, kube-baseline$/);
    await assertAggregatedApiService(cluster.admin);
    assert.deepEqual(await v1Lock(cluster.admin), { ready: true, lockedBy: undefined });
    assert.deepEqual(await v1Snapshot(cluster.admin), v1Before, "every v1 object unchanged (name, uid, labels, annotations, spec)");

    const restored = await cluster.admin.get(CONFIGMAPS, "abort-owned-by-security", "default");
    assert.equal(restored.metadata.uid, cm.metadata.uid);
    assert.deepEqual(restored.metadata.ownerReferences, ownerRefs, "the original owner references are back");
    assert.equal(restored.metadata.annotations?.[DETACHED_ANNOTATION], undefined);
    assert.equal(restored.metadata.labels?.[DETACHED_LABEL], undefined);
    // The garbage collector has processed the restore once its canary is gone (gc-barrier.ts);
    // the dependent must outlive that, and a while after.
    await gcBarrier(cluster.admin);
    await consistently(async () => {
      const now = await cluster.admin.get(CONFIGMAPS, "abort-owned-by-security", "default");
      assert.equal(now.metadata.uid, cm.metadata.uid);
      assert.equal(now.metadata.deletionTimestamp, undefined);
    }, { durationMs: 10_000, intervalMs: 1_000, message: "the ConfigMap owned by a Calico Tier survives the garbage collector" });
    // Reading v3 storage below unregisters the APIService, and with it the owner the GC sees.
    await cluster.admin.delete(CONFIGMAPS, "abort-owned-by-security", "default");

    await withV3Storage(cluster.admin, async () => {
      const ours = (await listAllV3(cluster.admin)).filter((o) => o.metadata.annotations?.[Names.migratedBy] === uid);
      assert.deepEqual(ours.map((o) => `${o.kind}/${o.metadata.name}`).sort(), ["Tier/default", "Tier/kube-admin", "Tier/kube-baseline"], "only the protected built-in tiers remain of what the migration created");
      const tiers = (await cluster.admin.listAll(TIERS)).map((o) => o.metadata.name).sort();
      assert.deepEqual(tiers, ["default", "from-earlier", "kube-admin", "kube-baseline", "preexisting", "security"], "pre-existing v3 objects are kept, an earlier migration's too");
      await assert.rejects(cluster.admin.get(CLUSTER_INFORMATION_V3, "default"), (e) => isNotFound(e), "the v3 ClusterInformation it created is gone");
    });
  });
});
