/**
 * Abort (delete the DatastoreMigration) at every step before Converged — while planning, during
 * the pre-copy, during the drain, during the final delta, between the v1 lock and the APIService
 * delete, mid-copy (the copy inside the lock, --no-precopy), during verification, and
 * in WaitingForConflictResolution — and at Converged, where a rollback is safe (no component
 * switched, nothing written to v3 since the copy): each once with the controller running through
 * the abort and once SIGKILLed during it (at Converged: half-way through deleting the v3 copies,
 * after which the recorded decision must carry the rollback on, never drive on to Complete). Every time: every v1 object keeps name, uid, labels, annotations,
 * owner references and spec; v1 ClusterInformation is back as it was (our annotations gone); the
 * APIService is restored and stays; foreign owner references are as before. At the end, v3
 * storage holds nothing these migrations created but the protected built-in tiers (reported in
 * the Aborted event), and the pre-existing v3 objects kept their spec.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { MIGRATION_NAME, migrationResource, Names } from "../../src/api/datastore-migration.js";
import { CALICO_KINDS, CLUSTER_INFORMATION_V1, kindByName } from "../../src/calico/kinds.js";
import type { KubeObject } from "../../src/kube/object.js";
import { DOOR_VERSION, v3CrdName } from "../../src/migration/precopy-door.js";
import { CRDS } from "../../src/migration/prerequisites.js";
import { resetApiServerMode } from "../harness/api-server-mode.js";
import { takeSnapshot, snapshotDifferences, type ClusterSnapshot } from "../harness/cluster-snapshot.js";
import { installControllerManifests } from "../harness/controller.js";
import { isV1List, isV1Read, isV3Create, v3StorageVersion } from "../harness/crash-classify.js";
import { CrashLoop } from "../harness/crash-loop.js";
import { consistently } from "../harness/eventually.js";
import { createMigration, eventsFor, getApiService, waitGone, waitMigration } from "../harness/migration-cr.js";
import { CONFIGMAPS, seedScale, type ScaleSeedResult } from "../harness/scale-seed.js";
import { sharedCluster } from "../harness/shared-cluster.js";
import { createV3, listAllV3, withV3Storage } from "../harness/v3-storage.js";

const SEED = 777;
const DM = migrationResource("v1");
// "waiting" last: the conflicting Tier its user creates stays in v3 (as a user's object must), and every later migration would wait on it.
const STEPS = ["planning", "precopy", "drain", "final-delta", "lock-to-apiservice-delete", "mid-copy", "verification", "converged", "waiting"] as const;
type Step = (typeof STEPS)[number];

const cluster = await sharedCluster();
const admin = cluster.admin;

/** The user's own v3 objects, there before any migration: one equal to its v1 source, one without. */
const PREEXISTING: KubeObject[] = [
  { kind: "Tier", metadata: { name: "security" }, spec: { order: 100, defaultAction: "Deny" } },
  { kind: "GlobalNetworkSet", metadata: { name: "user-preexisting" }, spec: { nets: ["203.0.113.0/28"] } },
];
/** Created by "the user" mid-migration for the waiting cases: conflicts with v1 Tier platform (order 200). */
const CONFLICTING: KubeObject = { kind: "Tier", metadata: { name: "platform" }, spec: { order: 300, defaultAction: "Pass" } };

describe("abort at every step up to Converged", () => {
  let seeded: ScaleSeedResult;
  let snapshot: ClusterSnapshot;
  let loop: CrashLoop;
  const uids: string[] = [];

  before(async () => {
    await resetApiServerMode(admin);
    // The optional foreign-owner role: its migrations scan for foreign owner references (the CRs do not opt out).
    await installControllerManifests(admin, { foreignOwnerRole: true });
    seeded = await seedScale(admin, { objects: 80, seed: SEED });
    await withV3Storage(admin, async () => {
      for (const o of PREEXISTING) await createV3(admin, o);
    });
    snapshot = await takeSnapshot(admin, seeded.namespaces);
    loop = await startLoop(true);
  });

  let precopyLoop = true;
  function startLoop(precopy: boolean): Promise<CrashLoop> {
    precopyLoop = precopy;
    return CrashLoop.start({ cluster, seed: SEED, drainMs: 2000, extraArgs: ["--no-validate", ...(precopy ? [] : ["--no-precopy"])], stepTimeoutMs: 60_000 });
  }

  /** The locked copy's steps run with a controller started with --no-precopy. */
  async function useLoop(precopy: boolean): Promise<void> {
    if (precopyLoop === precopy) return;
    await loop.stop();
    loop = await startLoop(precopy);
  }

  after(async () => {
    await loop?.stop();
    for (const d of seeded?.dependents ?? []) await admin.delete(CONFIGMAPS, d.name, d.namespace).catch(() => undefined);
  });

  /** Deletes the CR from inside the proxy, while the controller's request that starts `step` is held. */
  function deleteOn(name: string, match: Parameters<CrashLoop["proxy"]["addRule"]>[0]["when"]): Promise<void> {
    return new Promise((resolve) => loop.proxy.addRule({
      name, times: 1, when: match,
      action: { type: "hook", run: async () => {
        await admin.delete(DM, MIGRATION_NAME);
        resolve();
      } },
    }));
  }

  /** Creates the CR and deletes it at `step`; returns its uid. */
  async function abortAt(step: Step): Promise<string> {
    const copying = () => loop.lastStatus.phase === "Migrating" && loop.lastStatus.progress?.currentType !== "";
    let deleted: Promise<void> | undefined;
    switch (step) {
      case "planning":
        // The plan starts with a one-item list of every v1 kind (it is re-run only when they changed).
        deleted = deleteOn(step, (r) => isV1List(r) && r.query.get("limit") === "1" && loop.lastStatus.phase === "Pending" && !loop.lastStatus.datastoreLockedAt);
        break;
      case "precopy": {
        // The tenth copy the pre-copy writes through the door, nothing locked.
        let n = 0;
        deleted = deleteOn(step, (r) => r.method === "POST" && v3StorageVersion(r) === "v3migration" && !loop.lastStatus.datastoreLockedAt && ++n === 10);
        break;
      }
      case "final-delta":
        // The final delta's first request through the door, v1 locked and drained.
        deleted = deleteOn(step, (r) => v3StorageVersion(r) === "v3migration" && !!loop.lastStatus.datastoreLockedAt && (loop.lastStatus.phase ?? "Pending") === "Pending");
        break;
      case "lock-to-apiservice-delete":
        deleted = deleteOn(step, (r) => r.method === "DELETE" && r.path.endsWith("/apiservices/v3.projectcalico.org"));
        break;
      case "mid-copy": {
        let n = 0;
        deleted = deleteOn(step, (r) => copying() && isV3Create(r) && ++n === 10);
        break;
      }
      case "verification":
        // After a final delta Migrating only verifies (its first v1 read is the fence's watch); no progress is written before.
        deleted = deleteOn(step, (r) => loop.lastStatus.phase === "Migrating" && (loop.lastStatus.progress?.currentType ?? "") === "" && isV1Read(r));
        break;
      case "waiting":
        // The user creates a conflicting v3 object right after the APIService is unregistered.
        loop.proxy.addRule({
          name: step, times: 1,
          when: (r) => r.method === "GET" && !r.watch && r.path === "/apis/projectcalico.org/v3/tiers" && loop.lastStatus.phase === "Pending",
          action: { type: "hook", run: async () => {
            await createV3(admin, CONFLICTING).catch((err: unknown) => {
              if ((err as { code?: number }).code !== 409) throw err;
            });
          } },
        });
        break;
      case "drain":
      case "converged":
        break;
    }
    const dm = await createMigration(admin);
    if (step === "drain") {
      await waitMigration(admin, (m) => assert.ok(m.status?.datastoreLockedAt, "locked"), { message: "the v1 lock" });
      await admin.delete(DM, MIGRATION_NAME);
    } else if (step === "converged") {
      await waitMigration(admin, (m) => assert.equal(m.status?.phase, "Converged", `phase (${m.status?.message})`), { message: "Converged" });
      await admin.delete(DM, MIGRATION_NAME);
    } else if (step === "waiting") {
      await waitMigration(admin, (m) => assert.equal(m.status?.phase, "WaitingForConflictResolution", `phase (${m.status?.message})`), { message: "WaitingForConflictResolution" });
      await admin.delete(DM, MIGRATION_NAME);
    } else {
      await deleted;
    }
    loop.proxy.removeRule(step);
    return dm.metadata.uid ?? "";
  }

  for (const step of STEPS) {
    for (const crash of [false, true]) {
      test(`abort ${step}${crash ? ", killed during the abort" : ""}: the cluster is back as it was`, async () => {
        // Armed first: it fires only on the abort's own writes.
        const expected = step === "converged" ? "rollback" : "abort";
        const killed = !crash ? undefined : step === "converged" ? loop.crashAt("rollback", { maxNth: 30 }) : loop.crashAt("abort", { maxNth: step === "planning" || step === "drain" ? 2 : 4 });
        let uid = "";
        // The copy inside the lock (mid-copy) and the conflict a user creates right after the
        // APIService goes (waiting: with the pre-copy our copy is already there, so the create is
        // AlreadyExists) are the locked copy's steps.
        await useLoop(step !== "mid-copy" && step !== "waiting");
        try {
          uid = await abortAt(step);
          uids.push(uid);
          if (killed) {
            const rec = await killed;
            // "rollback" means the CR recorded deletionDecision=rollback before the kill.
            assert.equal(rec.step, expected, `the kill hit the ${expected} (${JSON.stringify(rec)})`);
          }
          await waitGone(admin, MIGRATION_NAME, 120_000);
        } finally {
          // Whatever failed, the next case starts without a CR.
          await admin.delete(DM, MIGRATION_NAME).catch(() => undefined);
          await waitGone(admin, MIGRATION_NAME, 120_000);
        }
        const differences = snapshotDifferences(snapshot, await takeSnapshot(admin, seeded.namespaces));
        assert.deepEqual(differences, [], "nothing changed");
        // The pre-copy's temporary version is gone from every v3 CRD; v3 stays their only stored version.
        for (const kind of CALICO_KINDS) {
          const crd = await admin.get(CRDS, v3CrdName(kind));
          const spec = crd.spec as { versions: { name: string }[] };
          assert.deepEqual(spec.versions.map((v) => v.name).filter((v) => v === DOOR_VERSION), [], `${kind.kind}: no ${DOOR_VERSION} version left`);
          assert.deepEqual((crd.status as { storedVersions?: string[] }).storedVersions, ["v3"], `${kind.kind}: storedVersions`);
        }
        if (step === "converged") {
          // Decided once (before the kill), honoured after the restart: rolled back, not driven on.
          const dm = { metadata: { uid }, spec: { type: "" } };
          assert.equal((await eventsFor(admin, dm, "RollbackAtConverged")).length, 1, "one RollbackAtConverged decision");
          assert.deepEqual(await eventsFor(admin, dm, "DeletionDrivesOnToComplete"), [], "never driven on to Complete");
          // That no v3 copy is left (but the protected built-in tiers) is checked for every case at the end.
        }
        // The APIService stays restored: nothing (e.g. a stale reconcile) unregisters it again.
        await consistently(async () => {
          const svc = await getApiService(admin);
          return svc !== undefined && svc.metadata.labels?.["kube-aggregator.kubernetes.io/automanaged"] === undefined;
        }, { durationMs: 1500, message: "the aggregated APIService stays registered" });
      });
    }
  }

  test("a v1 datastoreReady that was unset (ready by default) is unset again after the abort", async () => {
    const ci = await admin.get(CLUSTER_INFORMATION_V1, "default");
    const spec = { ...(ci.spec as Record<string, unknown>) };
    delete spec.datastoreReady;
    await admin.update(CLUSTER_INFORMATION_V1, { ...ci, spec });
    try {
      const unset = await takeSnapshot(admin, seeded.namespaces);
      const dm = await createMigration(admin);
      uids.push(dm.metadata.uid ?? "");
      await waitMigration(admin, (m) => assert.ok(m.status?.datastoreLockedAt, "locked"), { message: "the v1 lock" });
      assert.equal(((await admin.get(CLUSTER_INFORMATION_V1, "default")).spec as { datastoreReady?: boolean }).datastoreReady, false, "v1 is locked");
      await admin.delete(DM, MIGRATION_NAME);
      await waitGone(admin, MIGRATION_NAME, 120_000);
      assert.deepEqual(snapshotDifferences(unset, await takeSnapshot(admin, seeded.namespaces)), [], "datastoreReady is unset again, our annotations gone");
    } finally {
      const now = await admin.get(CLUSTER_INFORMATION_V1, "default");
      await admin.update(CLUSTER_INFORMATION_V1, { ...now, spec: { ...(now.spec as object), datastoreReady: true } });
    }
  });

  test("v3 storage keeps only the protected built-in tiers of these migrations (reported) and the user's objects unchanged", async () => {
    const aborted = new Set(uids);
    const reported = new Set<string>();
    for (const uid of uids) {
      const events = await eventsFor(admin, { metadata: { uid }, spec: { type: "" } }, "Aborted");
      assert.equal(events.length, 1, `one Aborted event for migration ${uid}`);
      const m = /built-in tiers left in v3 \(protected from deletion\): (.*)$/.exec(events[0]?.message ?? "");
      for (const t of m?.[1]?.split(", ") ?? []) reported.add(t);
    }
    const v3 = await withV3Storage(admin, () => listAllV3(admin));
    const leftovers = v3.filter((o) => aborted.has(o.metadata.annotations?.[Names.migratedBy] ?? ""));
    for (const o of leftovers) {
      assert.equal(o.kind, "Tier", `${o.kind}/${o.metadata.name} was created by an aborted migration and is still there`);
      assert.ok(["default", "kube-admin", "kube-baseline"].includes(o.metadata.name ?? ""), `only built-in tiers are left (found ${o.metadata.name})`);
      assert.ok(reported.has(o.metadata.name ?? ""), `${o.metadata.name} was reported as left behind`);
    }
    for (const want of [...PREEXISTING, CONFLICTING]) {
      const kind = kindByName(want.kind ?? "")!;
      const found = v3.find((o) => o.kind === kind.kind && o.metadata.name === want.metadata.name);
      assert.ok(found, `the user's ${want.kind}/${want.metadata.name} is still there`);
      assert.equal(found.metadata.annotations?.[Names.migratedBy], undefined);
      for (const [k, v] of Object.entries(want.spec as Record<string, unknown>)) assert.deepEqual((found.spec as Record<string, unknown>)[k], v, `${want.metadata.name} spec.${k}`);
    }
  });
});
