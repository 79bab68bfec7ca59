/**
 * The pre-copy (issue 11, `--precopy`): every kind is copied through the door before the lock, while the
 * Calico API server keeps serving users; what changes after (here: during a long drain, as a
 * component that ignored the lock would) is brought into step inside the locked window. Objects
 * changed, deleted, deleted and re-created, and added after the pre-copy all end in v3 exactly as
 * in v1; the door is closed with storedVersions [v3] and no managedFields naming it; an abort
 * after the pre-copy removes only our copies and changes nothing else; foreign dependents are
 * detached before the door opens and restored by an abort; a door the controller may not open
 * falls back to the locked copy and says why.
 */
import { after, before, describe, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import assert from "node:assert/strict";
import { ConditionType, Names, type DatastoreMigration } from "../../src/api/datastore-migration.js";
import { CALICO_KINDS, kindByName, v1Resource, v3Resource } from "../../src/calico/kinds.js";
import type { KubeClient } from "../../src/kube/client.js";
import { isNotFound } from "../../src/kube/errors.js";
import { DETACHED_ANNOTATION, DETACHED_LABEL } from "../../src/migration/foreign-owners.js";
import { closeDoor, DOOR_VERSION, doorResource, doorServed, openDoor, v3CrdName } from "../../src/migration/precopy-door.js";
import { CRDS } from "../../src/migration/prerequisites.js";
import { resetApiServerMode } from "../harness/api-server-mode.js";
import { CORE_ROLE_OPT_OUT, installControllerManifests, startController, type RunningController } from "../harness/controller.js";
import { compareDatastores, describeComparison } from "../harness/datastore-compare.js";
import { eventually } from "../harness/eventually.js";
import { assertAggregatedApiService, CONFIGMAPS, createMigration, deleteMigration, eventsFor, v1Lock, waitGone, waitPhase } from "../harness/migration-cr.js";
import { createThroughApi } from "../harness/sample-cluster.js";
import { sharedCluster, type TestCluster } from "../harness/shared-cluster.js";
import { switchComponentsToV3 } from "../harness/switch-components.js";
import { ownerRefTo, writeV1 } from "../harness/v1-writer.js";

const DOOR_UID = "00000000-0000-4000-8000-0000000000dd";
const CLUSTER_ROLE = { group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterroles", namespaced: false, kind: "ClusterRole" } as const;
const ref = (kind: string) => v3Resource(kindByName(kind)!);

/** Seeds the objects the scenarios change, through the live Calico API server where users would. */
async function seed(admin: KubeClient): Promise<void> {
  await writeV1(admin, { kind: "Tier", metadata: { name: "default" }, spec: { order: 1_000_000, defaultAction: "Deny" } });
  for (const name of ["gns-changed", "gns-deleted", "gns-kept"]) {
    await createThroughApi(admin, { kind: "GlobalNetworkSet", metadata: { name, labels: { a: "1" } }, spec: { nets: ["10.0.0.0/8"] } });
  }
  await createThroughApi(admin, { kind: "HostEndpoint", metadata: { name: "hep-recreated" }, spec: { node: "node-1", interfaceName: "eth0", expectedIPs: ["192.0.2.10"] } });
  await createThroughApi(admin, { kind: "GlobalNetworkPolicy", metadata: { name: "gnp-kept" }, spec: { tier: "default", selector: "all()", ingress: [{ action: "Allow" }] } });
  await writeV1(admin, { kind: "IPAMHandle", metadata: { name: "handle-kept" }, spec: { handleID: "handle-kept", block: { "10.244.0.0/26": 1 } } });
  await writeV1(admin, { kind: "IPAMHandle", metadata: { name: "handle-released" }, spec: { handleID: "handle-released", block: { "10.244.0.0/26": 1 } } });
}

/** What a component that ignores the lock does after the pre-copy: every kind of change. */
async function changeAfterPrecopy(admin: KubeClient): Promise<void> {
  await admin.patch(ref("GlobalNetworkSet"), "gns-changed", { metadata: { labels: { a: "2" } }, spec: { nets: ["10.1.0.0/16"] } }, "merge");
  await admin.delete(ref("GlobalNetworkSet"), "gns-deleted");
  await admin.delete(ref("HostEndpoint"), "hep-recreated");
  await createThroughApi(admin, { kind: "HostEndpoint", metadata: { name: "hep-recreated" }, spec: { node: "node-1", interfaceName: "eth1", expectedIPs: ["192.0.2.11"] } });
  await createThroughApi(admin, { kind: "GlobalNetworkSet", metadata: { name: "gns-new" }, spec: { nets: ["172.16.0.0/12"] } });
  // IPAM is written to v1 storage directly, as calico-node's IPAM code does.
  await admin.delete(v1Resource(kindByName("IPAMHandle")!), "handle-released");
  await writeV1(admin, { kind: "IPAMHandle", metadata: { name: "handle-new" }, spec: { handleID: "handle-new", block: { "10.244.0.64/26": 2 } } });
}

function condition(dm: DatastoreMigration, type: string): { status: string; reason: string; message: string } | undefined {
  return dm.status?.conditions?.find((c) => c.type === type);
}

/** Waits until the pre-copy is done and the lock taken (the drain runs). */
async function waitPrecopiedAndLocked(admin: KubeClient): Promise<DatastoreMigration> {
  return eventually(async () => {
    const dm = await waitPhase(admin, "Pending", { timeoutMs: 5_000 });
    assert.equal(condition(dm, ConditionType.PreCopy)?.status, "True", `pre-copy (message: ${dm.status?.message})`);
    assert.ok(dm.status?.datastoreLockedAt, "locked");
    return dm;
  }, { timeoutMs: 90_000, message: "pre-copied and locked" });
}

/** Lists our copies in v3 storage through the door (opened and closed around the read). */
async function copiesInV3Storage(admin: KubeClient, uid: string): Promise<string[]> {
  assert.deepEqual(await openDoor(admin, DOOR_UID), { open: true });
  await eventually(async () => assert.ok(await doorServed(admin)), { timeoutMs: 30_000, message: "door served" });
  const out: string[] = [];
  for (const kind of CALICO_KINDS) {
    for await (const o of admin.listItems(doorResource(kind), { metadataOnly: true })) {
      if (o.metadata.annotations?.[Names.migratedBy] === uid) out.push(`${kind.kind}/${o.metadata.name ?? ""}`);
    }
  }
  await closeDoor(admin);
  return out;
}

describe("pre-copy before the lock", () => {
  let cluster: TestCluster;
  let controller: RunningController | undefined;

  before(async () => {
    cluster = await sharedCluster();
    await resetApiServerMode(cluster.admin);
    await installControllerManifests(cluster.admin);
  });

  after(async () => {
    await controller?.stop();
    await installControllerManifests(cluster.admin);
  });

  test("changes made after the pre-copy end in v3 exactly as in v1, and the door is closed cleanly", async () => {
    await seed(cluster.admin);
    controller = await startController(cluster, { drainPeriodMs: 12_000, precopy: true });
    await createMigration(cluster.admin, { annotations: CORE_ROLE_OPT_OUT });
    const pre = await waitPrecopiedAndLocked(cluster.admin);
    assert.match(condition(pre, ConditionType.PreCopy)?.message ?? "", /copied before the lock: \d+ v1 objects: [1-9]\d* copied/);
    await changeAfterPrecopy(cluster.admin);
    const dm = await waitPhase(cluster.admin, "Converged", { timeoutMs: 120_000 });
    assert.notEqual(dm.metadata.annotations?.[Names.precopy], "closed", "the door stays until Complete (rollback safety watches v3 from the copy)");
    // The final delta replayed every kind's changes since the last catch-up pass rather than listing them.
    const applied = controller.log.lines.filter((l) => l.includes("final delta applied"));
    assert.ok(applied.some((l) => l.includes(`"replayedKinds":${CALICO_KINDS.length}`)), `every kind replayed: ${applied.join("\n")} ${controller.log.lines.filter((l) => l.includes("listed again instead of replayed")).join("\n")}`);
    // Nothing but the final delta's writes since its fence: verified by the watch, with the controller's own RBAC.
    const verified = controller.log.lines.filter((l) => l.includes("verification finished"));
    assert.ok(verified.some((l) => l.includes('"byFence":true')), `verified by fence: ${verified.join("\n")} ${controller.log.lines.filter((l) => l.includes("changes since the final delta")).join("\n")}`);
    // On the way to Complete the copies' managedFields are relabelled v3, then the door is removed.
    await switchComponentsToV3(cluster.admin);
    const complete = await waitPhase(cluster.admin, "Complete", { timeoutMs: 120_000 });
    assert.equal(complete.metadata.annotations?.[Names.precopy], "closed");
    await controller.stop();
    controller = undefined;

    const c = await compareDatastores(cluster.admin);
    assert.deepEqual({ missing: c.missing, different: c.different, extras: c.extras, duplicated: c.duplicated }, { missing: [], different: [], extras: [], duplicated: [] }, describeComparison(c));
    const gns = await cluster.admin.get(ref("GlobalNetworkSet"), "gns-changed");
    assert.deepEqual([gns.metadata.labels?.a, (gns.spec as { nets: string[] }).nets], ["2", ["10.1.0.0/16"]]);
    await assert.rejects(cluster.admin.get(ref("GlobalNetworkSet"), "gns-deleted"), (err) => isNotFound(err));
    assert.equal(((await cluster.admin.get(ref("HostEndpoint"), "hep-recreated")).spec as { interfaceName?: string }).interfaceName, "eth1");
    await assert.rejects(cluster.admin.get(ref("IPAMHandle"), "handle-released"), (err) => isNotFound(err));
    assert.ok(await cluster.admin.get(ref("IPAMHandle"), "handle-new"));
    assert.equal(dm.status?.progress?.conflicts ?? 0, 0);
    assert.equal((dm.status?.progress?.migrated ?? 0) + (dm.status?.progress?.skipped ?? 0), c.v1Total, "every v1 object counted once");
    assert.equal(dm.status?.progress?.migrated, c.v1Total, "copies made before the lock count as migrated");
    assert.equal((await eventsFor(cluster.admin, dm, "PreCopied")).length, 1);

    for (const kind of CALICO_KINDS) {
      const crd = await cluster.admin.get(CRDS, v3CrdName(kind));
      assert.deepEqual((crd.spec as { versions: { name: string }[] }).versions.map((v) => v.name), ["v3"], kind.kind);
      assert.deepEqual((crd.status as { storedVersions?: string[] }).storedVersions, ["v3"], kind.kind);
      for await (const o of cluster.admin.listItems(v3Resource(kind))) {
        const v1 = await cluster.admin.get(v1Resource(kind), o.metadata.name ?? "", o.metadata.namespace).catch(() => undefined);
        const door = (o.metadata.managedFields as { apiVersion?: string }[] | undefined)?.filter((m) => m.apiVersion === `projectcalico.org/${DOOR_VERSION}`) ?? [];
        assert.deepEqual(door, [], `${kind.kind}/${o.metadata.name ?? ""}: no managedFields entry names the removed door`);
        if (v1) assert.equal(o.metadata.annotations?.[Names.sourceResourceVersion], v1.metadata.resourceVersion, `${kind.kind}/${o.metadata.name ?? ""} made from the current v1 object`);
      }
    }
  });

  test("an abort after the pre-copy removes only our copies and leaves API-server mode as it was", async () => {
    await resetApiServerMode(cluster.admin);
    await seed(cluster.admin);
    controller = await startController(cluster, { drainPeriodMs: 60_000, precopy: true });
    const created = await createMigration(cluster.admin, { annotations: CORE_ROLE_OPT_OUT });
    await waitPrecopiedAndLocked(cluster.admin);
    assert.ok((await copiesInV3Storage(cluster.admin, created.metadata.uid ?? "")).length > 0, "copies were made before the lock");
    await deleteMigration(cluster.admin);
    await waitGone(cluster.admin);
    await controller.stop();
    controller = undefined;
    // Calico's admission policy protects the built-in tiers from deletion, as for an abort after
    // the lock: they are the only copies left, and the abort says so.
    assert.deepEqual(await copiesInV3Storage(cluster.admin, created.metadata.uid ?? ""), ["Tier/default"]);
    const aborted = await eventsFor(cluster.admin, created, "Aborted");
    assert.match(aborted[0]?.message ?? "", /built-in tiers left in v3 \(protected from deletion\): default/);
    assert.equal((await v1Lock(cluster.admin)).ready, true, "v1 unlocked");
    await assertAggregatedApiService(cluster.admin);
    for (const kind of CALICO_KINDS) {
      const crd = await cluster.admin.get(CRDS, v3CrdName(kind));
      assert.deepEqual((crd.spec as { versions: { name: string }[] }).versions.map((v) => v.name), ["v3"], `${kind.kind}: door closed`);
    }
    // The v1 objects are untouched and users still read them through the Calico API server.
    assert.equal(((await cluster.admin.get(ref("GlobalNetworkSet"), "gns-kept")).spec as { nets: string[] }).nets[0], "10.0.0.0/8");
  });

  test("a foreign dependent loses its Calico owner before the door opens, and an abort puts the reference back exactly", async () => {
    await resetApiServerMode(cluster.admin);
    await seed(cluster.admin);
    await installControllerManifests(cluster.admin, { foreignOwnerRole: true });
    const owner = await createThroughApi(cluster.admin, { kind: "GlobalNetworkSet", metadata: { name: "gns-owner" }, spec: { nets: ["192.0.2.0/24"] } });
    const original = [ownerRefTo(owner, "GlobalNetworkSet")];
    await cluster.admin.create(CONFIGMAPS, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "gns-owner-runbook", namespace: "default", ownerReferences: original }, data: { k: "v" } });
    try {
      controller = await startController(cluster, { drainPeriodMs: 60_000, precopy: true });
      const created = await createMigration(cluster.admin);
      // Pre-copied and draining: the lock's own detach comes only after the 60 s drain.
      await waitPrecopiedAndLocked(cluster.admin);
      const during = await cluster.admin.get(CONFIGMAPS, "gns-owner-runbook", "default");
      assert.equal(during.metadata.ownerReferences, undefined, "no Calico owner while the door is open");
      assert.equal(during.metadata.labels?.[DETACHED_LABEL], created.metadata.uid);
      assert.match((await eventsFor(cluster.admin, created, "ForeignOwnersDetached"))[0]?.message ?? "", /before the pre-copy opened its door/);
      await deleteMigration(cluster.admin);
      await waitGone(cluster.admin);
      const after = await cluster.admin.get(CONFIGMAPS, "gns-owner-runbook", "default");
      assert.deepEqual(after.metadata.ownerReferences, original, "the original reference is back");
      assert.equal(after.metadata.labels?.[DETACHED_LABEL], undefined);
      assert.equal(after.metadata.annotations?.[DETACHED_ANNOTATION], undefined);
    } finally {
      await controller?.stop();
      controller = undefined;
      await cluster.admin.delete(CONFIGMAPS, "gns-owner-runbook", "default").catch(() => undefined);
      await installControllerManifests(cluster.admin);
    }
  });

  test("a Calico object owned by a Calico object loses the reference from its v1 annotation before the door opens, its copy carries it, and an abort puts the annotation back byte for byte", async () => {
    await resetApiServerMode(cluster.admin);
    await seed(cluster.admin);
    const tier = await cluster.admin.get(v1Resource(kindByName("Tier")!), "default");
    const owned = await createThroughApi(cluster.admin, { kind: "GlobalNetworkPolicy", metadata: { name: "gnp-owned", ownerReferences: [ownerRefTo(tier, "Tier")] }, spec: { tier: "default", selector: "all()", types: ["Ingress"] } });
    const v1Gnp = v1Resource(kindByName("GlobalNetworkPolicy")!);
    const originalAnnotation = owned.metadata.annotations?.[Names.calicoMetadata];
    assert.match(originalAnnotation ?? "", /ownerReferences/, "the stand-in keeps owner references in the metadata annotation, as Calico does");
    try {
      controller = await startController(cluster, { drainPeriodMs: 60_000, precopy: true });
      const created = await createMigration(cluster.admin, { annotations: CORE_ROLE_OPT_OUT });
      await waitPrecopiedAndLocked(cluster.admin);
      const during = await cluster.admin.get(v1Gnp, owned.metadata.name ?? "");
      assert.doesNotMatch(during.metadata.annotations?.[Names.calicoMetadata] ?? "", /ownerReferences/, "no Calico owner in v1 while the door is open");
      assert.equal(during.metadata.annotations?.[Names.detachedMetadata], originalAnnotation, "the annotation as it was, recorded");
      assert.equal(during.metadata.labels?.[Names.detachedBy], created.metadata.uid);
      assert.equal((await cluster.admin.get(ref("GlobalNetworkPolicy"), "gnp-owned")).metadata.ownerReferences, undefined, "the garbage collector's view through the Calico API server names no owner");
      assert.match((await eventsFor(cluster.admin, created, "CalicoOwnersDetached"))[0]?.message ?? "", /before the pre-copy opened its door/);
      const tierCopy = await cluster.admin.get(doorResource(kindByName("Tier")!), "default");
      const copy = await cluster.admin.get(doorResource(kindByName("GlobalNetworkPolicy")!), "gnp-owned");
      assert.deepEqual(copy.metadata.ownerReferences?.map((r) => [r.kind, r.name, r.uid]), [["Tier", "default", tierCopy.metadata.uid]], "the copy points at the owner's copy");
      await deleteMigration(cluster.admin);
      await waitGone(cluster.admin);
      const after = await cluster.admin.get(v1Gnp, owned.metadata.name ?? "");
      assert.equal(after.metadata.annotations?.[Names.calicoMetadata], originalAnnotation, "the annotation is back exactly");
      assert.equal(after.metadata.annotations?.[Names.detachedMetadata], undefined);
      assert.equal(after.metadata.labels?.[Names.detachedBy], undefined);
      assert.deepEqual((await cluster.admin.get(ref("GlobalNetworkPolicy"), "gnp-owned")).metadata.ownerReferences, [ownerRefTo(tier, "Tier")], "and the Calico API server shows the owner again");
    } finally {
      await controller?.stop();
      controller = undefined;
    }
  });

  test("a door another writer keeps removing is given up: the copy falls back to the lock, says why, and loses nothing", async () => {
    await resetApiServerMode(cluster.admin);
    await seed(cluster.admin);
    controller = await startController(cluster, { drainPeriodMs: 12_000, precopy: true });
    await createMigration(cluster.admin, { annotations: CORE_ROLE_OPT_OUT });
    await waitPrecopiedAndLocked(cluster.admin);
    // An operator reconciling the v3 CRDs back to its manifests takes the door away, again and again.
    const stop = new AbortController();
    const remover = (async () => {
      while (!stop.signal.aborted) {
        await closeDoor(cluster.admin).catch(() => undefined);
        await delay(100, undefined, { signal: stop.signal }).catch(() => undefined);
      }
    })();
    try {
      await changeAfterPrecopy(cluster.admin);
      const dm = await waitPhase(cluster.admin, "Converged", { timeoutMs: 150_000 });
      assert.equal(condition(dm, ConditionType.PreCopy)?.reason, "DoorRefused");
      assert.match(condition(dm, ConditionType.PreCopy)?.message ?? "", /removed from the v3 CRDs by another writer.*copied inside the locked window/);
      assert.equal((await eventsFor(cluster.admin, dm, "PreCopyUnavailable")).length, 1);
    } finally {
      stop.abort();
      await remover;
    }
    await controller.stop();
    controller = undefined;
    const c = await compareDatastores(cluster.admin);
    assert.deepEqual({ missing: c.missing, different: c.different, extras: c.extras, duplicated: c.duplicated }, { missing: [], different: [], extras: [], duplicated: [] }, describeComparison(c));
    for (const kind of CALICO_KINDS) {
      const crd = await cluster.admin.get(CRDS, v3CrdName(kind));
      assert.deepEqual((crd.status as { storedVersions?: string[] }).storedVersions, ["v3"], kind.kind);
    }
  });

  test("without update on the v3 CRDs the migration copies inside the lock and says why", async () => {
    await resetApiServerMode(cluster.admin);
    await seed(cluster.admin);
    const role = await cluster.admin.get(CLUSTER_ROLE, "calico-datastore-migration");
    const rules = (role as unknown as { rules: { resourceNames?: string[] }[] }).rules;
    await cluster.admin.update(CLUSTER_ROLE, { ...role, rules: rules.filter((r) => !r.resourceNames?.includes(v3CrdName(CALICO_KINDS[0]!))) });
    controller = await startController(cluster, { precopy: true });
    await createMigration(cluster.admin, { annotations: CORE_ROLE_OPT_OUT });
    const dm = await waitPhase(cluster.admin, "Converged", { timeoutMs: 120_000 });
    assert.equal(condition(dm, ConditionType.PreCopy)?.status, "False");
    assert.equal(condition(dm, ConditionType.PreCopy)?.reason, "DoorRefused");
    assert.match(condition(dm, ConditionType.PreCopy)?.message ?? "", /grant the controller update on the v3 CRDs.*copied inside the locked window/);
    assert.equal((await eventsFor(cluster.admin, dm, "PreCopyUnavailable")).length, 1);
    const c = await compareDatastores(cluster.admin);
    assert.equal(c.matched, c.v1Total, describeComparison(c));
  });
});
