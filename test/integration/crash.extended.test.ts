/**
 * The controller process SIGKILLed once in each step of a migration of ~1,200 mixed objects —
 * in the planner, during the pre-copy, during the drain, during the final delta, between the v1
 * lock and the APIService delete, during verification, while the temporary version is removed,
 * at Converged, and during the v1 CRD cleanup — and
 * restarted each time: the migration still reaches Complete with every v1 object exactly once
 * in v3, 0 conflicts, and no owner-referenced object collected by the garbage collector. Before
 * that, a migration deleted at Converged while a rollback is safe is killed half-way through
 * deleting its v3 copies: it must carry the rollback on (the recorded decision), never drive on.
 * (The long variant with random kill points is `npm run soak`.)
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ConditionType, DeletionDecision, MIGRATION_NAME, migrationResource, Names } from "../../src/api/datastore-migration.js";
import { CALICO_KINDS, kindByName, V1_GROUP, v3Resource } from "../../src/calico/kinds.js";
import { crdNames } from "../../src/migration/prerequisites.js";
import { resetApiServerMode } from "../harness/api-server-mode.js";
import { snapshotDifferences, takeSnapshot } from "../harness/cluster-snapshot.js";
import { installControllerManifests } from "../harness/controller.js";
import type { CrashStep } from "../harness/crash-classify.js";
import { CrashLoop } from "../harness/crash-loop.js";
import { compareDatastores, describeComparison } from "../harness/datastore-compare.js";
import { gcBarrier } from "../harness/gc-barrier.js";
import { assertAggregatedApiService, createMigration, eventsFor, getMigration, waitGone, waitPhase } from "../harness/migration-cr.js";
import { switchComponentsToV3 } from "../harness/switch-components.js";
import { CONFIGMAPS, seedScale, type ScaleSeedResult } from "../harness/scale-seed.js";
import { sharedCluster } from "../harness/shared-cluster.js";
import { listAllV3, withV3Storage } from "../harness/v3-storage.js";

const SEED = 4242;
const cluster = await sharedCluster();

/** Every owned object is still there and points at an existing owner. */
async function assertOwnedObjectsKept(seeded: ScaleSeedResult): Promise<void> {
  await gcBarrier(cluster.admin, seeded.namespaces[0]);
  const tier = await cluster.admin.get(v3Resource(kindByName("Tier")!), "security");
  const policy = await cluster.admin.get(v3Resource(kindByName("GlobalNetworkPolicy")!), seeded.ownedPolicy);
  assert.equal(policy.metadata.ownerReferences?.[0]?.uid, tier.metadata.uid, "the GNP owned by a Tier points at the v3 Tier");
  for (const d of seeded.dependents) {
    const cm = await cluster.admin.get(CONFIGMAPS, d.name, d.namespace);
    const ref = cm.metadata.ownerReferences?.[0];
    assert.equal(ref?.apiVersion, "projectcalico.org/v3", `${d.name} points at v3`);
    const owner = await cluster.admin.get(v3Resource(kindByName(d.owner.kind)!), d.owner.name, d.owner.namespace);
    assert.equal(ref?.uid, owner.metadata.uid, `${d.name}'s owner reference has its owner's v3 uid`);
  }
}

describe("controller crashes at every step", () => {
  let seeded: ScaleSeedResult;
  let loop: CrashLoop;

  before(async () => {
    await resetApiServerMode(cluster.admin);
    // The optional foreign-owner role: its migrations scan for foreign owner references (the CRs do not opt out).
    await installControllerManifests(cluster.admin, { foreignOwnerRole: true });
    seeded = await seedScale(cluster.admin, { objects: 1200, seed: SEED });
    loop = await CrashLoop.start({ cluster, seed: SEED, drainMs: 4000, log: (l) => console.log(`# ${l}`) });
  });

  after(async () => {
    await loop?.stop();
    for (const d of seeded?.dependents ?? []) await cluster.admin.delete(CONFIGMAPS, d.name, d.namespace).catch(() => undefined);
  });

  test("a rollback at Converged killed half-way carries on rolling back: API-server mode, v1 intact, no v3 copy left", async () => {
    const before = await takeSnapshot(cluster.admin, seeded.namespaces);
    const created = await createMigration(cluster.admin);
    const uid = created.metadata.uid ?? "";
    await waitPhase(cluster.admin, "Converged", { timeoutMs: 300_000 });
    // No component switched, nothing written to v3 since the copy: the deletion is a rollback.
    const kill = loop.crashAt("rollback", { maxNth: 600 });
    await cluster.admin.delete(migrationResource("v1"), MIGRATION_NAME);
    const crash = await kill;
    assert.equal(crash.step, "rollback", `the kill hit the rollback, decided and recorded before it (${JSON.stringify(crash)})`);
    const resumed = await getMigration(cluster.admin);
    if (resumed) assert.equal(resumed.metadata.annotations?.[Names.deletionDecision], DeletionDecision.Rollback, "the decision stays recorded across the restart");
    await waitGone(cluster.admin, MIGRATION_NAME, 300_000);

    assert.deepEqual(snapshotDifferences(before, await takeSnapshot(cluster.admin, seeded.namespaces)), [], "v1 objects, the locks and foreign owner references are as before");
    await assertAggregatedApiService(cluster.admin);
    assert.ok((await crdNames(cluster.admin, V1_GROUP)).length > 0, "the v1 CRDs are still there");
    const dm = { metadata: { uid }, spec: { type: "" } };
    assert.equal((await eventsFor(cluster.admin, dm, "RollbackAtConverged")).length, 1, "decided once");
    assert.deepEqual(await eventsFor(cluster.admin, dm, "DeletionDrivesOnToComplete"), [], "never driven on to Complete");
    const copies = (await withV3Storage(cluster.admin, () => listAllV3(cluster.admin))).filter((o) => o.metadata.annotations?.[Names.migratedBy] === uid);
    assert.ok(copies.every((o) => o.kind === "Tier" && ["default", "kube-admin", "kube-baseline"].includes(o.metadata.name ?? "")),
      `no v3 copy left but the protected built-in tiers: ${copies.map((o) => `${o.kind}/${o.metadata.name}`).join(", ")}`);
  });

  test("a migration killed in each step reaches Complete with nothing lost, duplicated or in conflict", async () => {
    await createMigration(cluster.admin);
    // With the pre-copy (the default): the copy before the lock, the final delta after the drain,
    // the verification (Migrating only verifies), and the door's removal on the way to Complete.
    // The locked copy's own steps (mid-kind, mid-page) are the soak's --no-precopy round.
    const steps: CrashStep[] = ["planner", "precopy", "drain", "final-delta", "lock-to-apiservice-delete", "verification", "converged"];
    for (const step of steps) {
      const crash = await loop.crashAt(step);
      assert.equal(crash.step, step, `the crash triggered for ${step} hit ${crash.step} (phase ${crash.phase}: ${crash.message})`);
    }
    const converged = await waitPhase(cluster.admin, "Converged");
    assert.equal(converged.status?.progress?.conflicts, 0);
    assert.equal(converged.status?.conditions?.filter((c) => c.type === ConditionType.Conflict).length ?? 0, 0);
    const doorKill = loop.crashAt("door-close");
    await switchComponentsToV3(cluster.admin);
    const crash = await doorKill;
    assert.equal(crash.step, "door-close", `the crash triggered for door-close hit ${crash.step}`);
    await waitPhase(cluster.admin, "Complete");

    const cmp = await compareDatastores(cluster.admin);
    assert.equal(cmp.v1Total, seeded.total);
    assert.deepEqual({ missing: cmp.missing, different: cmp.different, extras: cmp.extras, duplicated: cmp.duplicated }, { missing: [], different: [], extras: [], duplicated: [] }, describeComparison(cmp));
    await assertOwnedObjectsKept(seeded);
  });

  test("the v1 CRD cleanup killed midway still removes every v1 CRD and keeps v3 intact", async () => {
    const before = await compareDatastores(cluster.admin);
    await cluster.admin.delete(migrationResource("v1"), MIGRATION_NAME);
    const crash = await loop.crashAt("cleanup");
    assert.equal(crash.step, "cleanup");
    await waitGone(cluster.admin, undefined, 180_000);
    assert.deepEqual(await crdNames(cluster.admin, V1_GROUP), [], "no crd.projectcalico.org CRD is left");
    let v3 = 0;
    for (const kind of CALICO_KINDS) v3 += (await cluster.admin.listAll(v3Resource(kind), { metadataOnly: true })).length;
    assert.equal(v3, before.v3Total, "every v3 object is still there");
    await assertOwnedObjectsKept(seeded);
    console.log(`# crashes by step: ${JSON.stringify(loop.counts())}`);
  });
});
