/**
 * `npm run soak`: the long crash test. On its own control plane (garbage collector running), each
 * round seeds a few thousand mixed objects (seeded), then runs three migrations with the
 * controller as a process that is SIGKILLed and restarted:
 *   1. aborted: random kills, then the CR is deleted once v1 is locked and the abort itself is killed;
 *      the cluster must be exactly as before (v1, lock, APIService, foreign owner references);
 *   1b. rolled back at Converged: the CR is deleted while a rollback is safe and the controller is
 *      killed half-way through deleting the v3 copies; it must carry the recorded rollback on:
 *      the cluster exactly as before, v1 CRDs kept, no v3 copy left (but protected built-in tiers);
 *   2. to Complete: odd rounds kill once in every step (planner, drain, lock→APIService delete,
 *      mid-kind, mid-page, verification, Converged), even rounds at seeded random points until
 *      Converged; then v1 and v3 are compared object by object (0 lost, 0 duplicated, 0
 *      conflicts) and no owner-referenced object may have been collected;
 *   3. the v1 CRD cleanup after Complete, killed midway: every v1 CRD goes, v3 stays.
 * Prints a table of crash points by step; exits 0 only when every check passed, every named step
 * was hit at least once and at least --min-crashes crashes happened.
 *
 * Flags: --rounds N (4) --seed S (1) --objects N (2000) --min-crashes N (30)
 *        --apiservers N (1): an HA control plane behind the round-robin front proxy;
 *        --lag-ms MS (0): with --apiservers > 1, the last replica keeps proxying projectcalico.org/v3
 *        to the Calico API server for MS after each APIService deletion (a lagging replica);
 *        --keep-logs: keep the control plane's logs (kept anyway when the soak fails).
 */
import assert from "node:assert/strict";
import { parseArgs } from "node:util";
import { MIGRATION_NAME, migrationResource, Names } from "../src/api/datastore-migration.js";
import { CALICO_KINDS, kindByName, V1_GROUP, v3Resource } from "../src/calico/kinds.js";
import { crdNames } from "../src/migration/prerequisites.js";
import { installApiServerMode, resetApiServerMode } from "../test/harness/api-server-mode.js";
import { takeSnapshot, snapshotDifferences } from "../test/harness/cluster-snapshot.js";
import { ControlPlane } from "../test/harness/control-plane.js";
import { installControllerManifests } from "../test/harness/controller.js";
import { CRASH_STEPS, STEP_LABELS, type CrashStep } from "../test/harness/crash-classify.js";
import { Churn } from "../test/harness/churn.js";
import { CrashLoop, type CrashRecord } from "../test/harness/crash-loop.js";
import { compareDatastores, describeComparison } from "../test/harness/datastore-compare.js";
import { gcBarrier } from "../test/harness/gc-barrier.js";
import { createMigration, getMigration, waitGone, waitMigration, waitPhase } from "../test/harness/migration-cr.js";
import { listAllV3, withV3Storage } from "../test/harness/v3-storage.js";
import { CONFIGMAPS, seedScale, type ScaleSeedResult } from "../test/harness/scale-seed.js";
import type { TestCluster } from "../test/harness/shared-cluster.js";
import { switchComponentsToV3 } from "../test/harness/switch-components.js";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "4" },
    seed: { type: "string", default: "1" },
    objects: { type: "string", default: "2000" },
    "min-crashes": { type: "string", default: "30" },
    apiservers: { type: "string", default: "1" },
    "lag-ms": { type: "string", default: "0" },
    "keep-logs": { type: "boolean", default: false },
  },
});
const ROUNDS = Number(values.rounds);
const BASE_SEED = Number(values.seed);
const OBJECTS = Number(values.objects);
const MIN_CRASHES = Number(values["min-crashes"]);
const DM = migrationResource("v1");
const log = (line: string) => console.log(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}`);

interface RoundResult {
  round: number;
  seed: number;
  objects: number;
  crashes: CrashRecord[];
  lost: number;
  duplicated: number;
  conflicts: number;
  collected: number;
  seconds: number;
}

/** Owned objects the garbage collector must have spared: how many are missing or point nowhere. */
async function collectedDependents(cluster: TestCluster, seeded: ScaleSeedResult): Promise<number> {
  await gcBarrier(cluster.admin, seeded.namespaces[0]);
  let missing = 0;
  for (const d of seeded.dependents) {
    const cm = await cluster.admin.get(CONFIGMAPS, d.name, d.namespace).catch(() => undefined);
    const owner = await cluster.admin.get(v3Resource(kindByName(d.owner.kind)!), d.owner.name, d.owner.namespace).catch(() => undefined);
    if (!cm || !owner || cm.metadata.ownerReferences?.[0]?.uid !== owner.metadata.uid) {
      missing++;
      log(`dependent ${d.namespace}/${d.name}: ${!cm ? "collected" : !owner ? `its owner ${d.owner.kind} ${d.owner.name} is missing in v3` : `points at ${JSON.stringify(cm.metadata.ownerReferences)}, the v3 owner's uid is ${owner.metadata.uid}`}`);
    }
  }
  const policy = await cluster.admin.get(v3Resource(kindByName("GlobalNetworkPolicy")!), seeded.ownedPolicy).catch(() => undefined);
  const tier = await cluster.admin.get(v3Resource(kindByName("Tier")!), "security").catch(() => undefined);
  if (!policy || policy.metadata.ownerReferences?.[0]?.uid !== tier?.metadata.uid) {
    missing++;
    log(`policy ${seeded.ownedPolicy}: ${!policy ? "missing in v3" : `points at ${JSON.stringify(policy.metadata.ownerReferences)}, the Tier's uid is ${tier?.metadata.uid}`}`);
  }
  return missing;
}

/** Migration 1: random kills, then deleted once v1 is locked with the abort killed; the cluster must be as before. */
async function abortedMigration(cluster: TestCluster, seed: number, seeded: ScaleSeedResult): Promise<CrashRecord[]> {
  const before = await takeSnapshot(cluster.admin, seeded.namespaces);
  const loop = await CrashLoop.start({ cluster, seed, drainMs: 3000, extraArgs: ["--no-validate"], log });
  try {
    await createMigration(cluster.admin);
    await loop.crashRandomly(3000);
    // Deleted once v1 is locked: during the drain or the final delta with the pre-copy (its
    // Migrating phase only verifies, for a second or two), mid-copy without it.
    await waitMigration(cluster.admin, (m) => assert.ok(m.status?.datastoreLockedAt, `locked (phase ${m.status?.phase ?? "Pending"})`), { timeoutMs: 180_000, message: "the v1 lock" });
    const abortKill = loop.crashAt("abort", { maxNth: 6 });
    await cluster.admin.delete(DM, MIGRATION_NAME);
    await abortKill;
    if (await getMigration(cluster.admin)) await loop.crashRandomly(1500).catch(() => undefined);
    await waitGone(cluster.admin, MIGRATION_NAME, 300_000);
    const differences = snapshotDifferences(before, await takeSnapshot(cluster.admin, seeded.namespaces));
    assert.deepEqual(differences, [], "the aborted migration left the cluster as it was");
    return loop.crashes;
  } finally {
    await loop.stop();
  }
}

/** Migration 1b: deleted at Converged (a safe rollback), killed half-way through deleting the v3 copies; the cluster must be as before. */
async function rolledBackMigration(cluster: TestCluster, seed: number, seeded: ScaleSeedResult): Promise<CrashRecord[]> {
  const before = await takeSnapshot(cluster.admin, seeded.namespaces);
  const loop = await CrashLoop.start({ cluster, seed, drainMs: 3000, extraArgs: ["--no-validate"], log, stepTimeoutMs: 300_000 });
  try {
    const uid = (await createMigration(cluster.admin)).metadata.uid ?? "";
    await waitPhase(cluster.admin, "Converged", { timeoutMs: 300_000 });
    const kill = loop.crashAt("rollback", { maxNth: Math.max(2, Math.floor(seeded.total / 2)) });
    await cluster.admin.delete(DM, MIGRATION_NAME);
    const rec = await kill;
    assert.equal(rec.step, "rollback", `the kill hit the rollback (${JSON.stringify(rec)})`);
    await waitGone(cluster.admin, MIGRATION_NAME, 300_000);
    assert.deepEqual(snapshotDifferences(before, await takeSnapshot(cluster.admin, seeded.namespaces)), [], "the rolled-back migration left the cluster as it was");
    assert.ok((await crdNames(cluster.admin, V1_GROUP)).length > 0, "the v1 CRDs are kept");
    const copies = (await withV3Storage(cluster.admin, () => listAllV3(cluster.admin))).filter((o) => o.metadata.annotations?.[Names.migratedBy] === uid);
    assert.ok(copies.every((o) => o.kind === "Tier" && ["default", "kube-admin", "kube-baseline"].includes(o.metadata.name ?? "")),
      `no v3 copy left but the protected built-in tiers: ${copies.map((o) => `${o.kind}/${o.metadata.name}`).join(", ")}`);
    return loop.crashes;
  } finally {
    await loop.stop();
  }
}

/** The targeted kill points: with the pre-copy (the default), or of the copy inside the lock (--no-precopy, the fallback). */
const PRECOPY_STEPS = ["planner", "precopy", "drain", "final-delta", "lock-to-apiservice-delete", "verification", "converged"] as const;
const LOCKED_COPY_STEPS = ["planner", "drain", "lock-to-apiservice-delete", "mid-kind", "mid-page", "verification", "converged"] as const;

/**
 * Migration 2: to Complete with kills (targeted in every step, or random), then compared. With the
 * pre-copy, v1 keeps changing (churn) until the lock, as Calico's components would write it.
 */
async function completedMigration(cluster: TestCluster, seed: number, targeted: boolean, precopy: boolean, result: RoundResult): Promise<CrashLoop> {
  const loop = await CrashLoop.start({ cluster, seed, drainMs: 4000, log, stepTimeoutMs: 300_000, extraArgs: precopy ? [] : ["--no-precopy"] });
  const churn = precopy ? new Churn(cluster.admin, 20) : undefined;
  const churning = churn?.run();
  await createMigration(cluster.admin);
  if (targeted) {
    for (const step of precopy ? PRECOPY_STEPS : LOCKED_COPY_STEPS) {
      const c = await loop.crashAt(step);
      if (c.step !== step) log(`note: the kill aimed at ${step} hit ${c.step}`);
    }
  } else {
    for (let i = 0; i < 14 && (await getMigration(cluster.admin))?.status?.phase !== "Converged"; i++) await loop.crashRandomly(2_000 + i * 2_500);
    await waitPhase(cluster.admin, "Converged", { timeoutMs: 300_000 });
    await loop.crashRandomly(1_500);
  }
  const converged = await waitPhase(cluster.admin, "Converged", { timeoutMs: 300_000 });
  churn?.stop();
  await churning;
  result.conflicts = converged.status?.progress?.conflicts ?? 0;
  // The door is removed on the way to Complete, once the components run with v3.
  const doorKill = targeted && precopy ? loop.crashAt("door-close") : undefined;
  await switchComponentsToV3(cluster.admin);
  if (doorKill) {
    const c = await doorKill;
    if (c.step !== "door-close") log(`note: the kill aimed at door-close hit ${c.step}`);
  }
  await waitPhase(cluster.admin, "Complete", { timeoutMs: 120_000 });
  const cmp = await compareDatastores(cluster.admin);
  log(`compare: ${describeComparison(cmp)}`);
  result.lost = cmp.missing.length + cmp.different.length;
  result.duplicated = cmp.duplicated.length + cmp.extras.length;
  if (churn) {
    const wrong = await churn.check();
    for (const w of wrong.slice(0, 20)) log(`churn change not in v3 as written: ${w}`);
    log(`churn: ${churn.changed} objects changed during the pre-copy (${JSON.stringify(churn.counts)}), ${wrong.length} not in v3 as written`);
    result.lost += wrong.length;
  }
  return loop;
}

/** Migration 3: the cleanup after Complete, killed midway: every v1 CRD goes, v3 stays. */
async function killedCleanup(cluster: TestCluster, loop: CrashLoop): Promise<void> {
  let v3Before = 0;
  for (const kind of CALICO_KINDS) v3Before += (await cluster.admin.listAll(v3Resource(kind), { metadataOnly: true })).length;
  const kill = loop.crashAt("cleanup");
  await cluster.admin.delete(DM, MIGRATION_NAME);
  await kill;
  await waitGone(cluster.admin, MIGRATION_NAME, 300_000);
  assert.deepEqual(await crdNames(cluster.admin, V1_GROUP), [], "every v1 CRD is gone");
  let v3After = 0;
  for (const kind of CALICO_KINDS) v3After += (await cluster.admin.listAll(v3Resource(kind), { metadataOnly: true })).length;
  assert.equal(v3After, v3Before, "v3 is intact after the cleanup");
}

async function round(cluster: TestCluster, n: number): Promise<RoundResult> {
  const started = Date.now();
  const seed = BASE_SEED * 1000 + n;
  if (n > 1) await resetApiServerMode(cluster.admin);
  // The optional foreign-owner role: its migrations scan for foreign owner references (the CRs do not opt out).
  await installControllerManifests(cluster.admin, { foreignOwnerRole: true });
  const seeded = await seedScale(cluster.admin, { objects: OBJECTS, seed });
  log(`round ${n}: seeded ${seeded.total} objects (seed ${seed})`);
  const result: RoundResult = { round: n, seed, objects: seeded.total, crashes: [], lost: 0, duplicated: 0, conflicts: 0, collected: 0, seconds: 0 };
  result.crashes.push(...(await abortedMigration(cluster, seed, seeded)));
  result.crashes.push(...(await rolledBackMigration(cluster, seed + 250, seeded)));
  // Odd rounds aim at every step (alternately with and without the pre-copy), even ones kill at random with the pre-copy.
  const loop = await completedMigration(cluster, seed + 500, n % 2 === 1, n % 4 !== 3, result);
  try {
    result.collected = await collectedDependents(cluster, seeded);
    await killedCleanup(cluster, loop);
    result.collected += await collectedDependents(cluster, seeded);
  } finally {
    result.crashes.push(...loop.crashes);
    await loop.stop();
    for (const d of seeded.dependents) await cluster.admin.delete(CONFIGMAPS, d.name, d.namespace).catch(() => undefined);
  }
  result.seconds = Math.round((Date.now() - started) / 1000);
  return result;
}

/** No round lost, duplicated, conflicted or had anything collected. */
function allClean(results: readonly RoundResult[]): boolean {
  return results.every((r) => r.lost === 0 && r.duplicated === 0 && r.conflicts === 0 && r.collected === 0);
}

function printTables(results: RoundResult[]): { allSteps: boolean; total: number } {
  const all = results.flatMap((r) => r.crashes);
  const rows: [string, string][] = [...CRASH_STEPS, "other" as const].map((s) => [STEP_LABELS[s], String(all.filter((c) => c.step === s).length)]);
  const width = Math.max(...rows.map(([l]) => l.length));
  console.log("\nCrash points by step");
  for (const [label, count] of rows) console.log(`  ${label.padEnd(width)}  ${count.padStart(3)}`);
  console.log(`  ${"total".padEnd(width)}  ${String(all.length).padStart(3)}`);
  console.log("\nRounds");
  console.log("  round  seed    objects  crashes  lost  duplicated  conflicts  GC-collected  seconds");
  for (const r of results) {
    console.log(`  ${String(r.round).padEnd(5)}  ${String(r.seed).padEnd(6)}  ${String(r.objects).padStart(7)}  ${String(r.crashes.length).padStart(7)}  ${String(r.lost).padStart(4)}  ${String(r.duplicated).padStart(10)}  ${String(r.conflicts).padStart(9)}  ${String(r.collected).padStart(12)}  ${String(r.seconds).padStart(7)}`);
  }
  const missing = CRASH_STEPS.filter((s: CrashStep) => !all.some((c) => c.step === s));
  if (missing.length) console.log(`\nsteps never hit: ${missing.join(", ")}`);
  return { allSteps: missing.length === 0, total: all.length };
}

// The garbage collector logs each decision (--v=5), kept with the other logs when the soak fails.
const cp = await ControlPlane.start({ log, apiservers: Number(values.apiservers), controllerManagerVerbosity: 5 });
if (Number(values["lag-ms"]) > 0) await cp.setLag(Number(values["lag-ms"]));
const cluster: TestCluster = { admin: cp.admin, kubeconfigPath: cp.kubeconfigPath, dir: cp.dir, serviceAccountKubeconfig: (ns, n) => cp.serviceAccountKubeconfig(ns, n), sideState: () => cp.sideState() };
const results: RoundResult[] = [];
let failure: unknown;
try {
  await installApiServerMode(cp.admin);
  for (let n = 1; n <= ROUNDS; n++) {
    results.push(await round(cluster, n));
    const r = results[results.length - 1]!;
    log(`round ${n} done in ${r.seconds} s: ${r.crashes.length} crashes, lost ${r.lost}, duplicated ${r.duplicated}, conflicts ${r.conflicts}, collected ${r.collected}`);
  }
} catch (err) {
  failure = err;
  console.error(`soak failed: ${(err as Error).stack ?? String(err)}`);
} finally {
  const keep = values["keep-logs"] || Boolean(failure) || !allClean(results);
  await cp.stop(keep);
  if (keep) console.error(`the control plane's logs are kept in ${cp.dir}/logs`);
}
const { allSteps, total } = printTables(results);
const clean = allClean(results);
const ok = !failure && clean && allSteps && total >= MIN_CRASHES;
console.log(`\nsoak ${ok ? "passed" : "FAILED"}: ${total} crashes (minimum ${MIN_CRASHES}), every step hit: ${allSteps}, nothing lost/duplicated/in conflict/collected: ${clean}`);
process.exit(ok ? 0 : 1);
