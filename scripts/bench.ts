/**
 * npm run bench [-- --objects N] [--sweep 8,16,32,64] [--copy-concurrency N] [--sample N]
 *                 [--ceiling RATE@CONCURRENCY --no-plan]   (reuse a measured ceiling, skip the bench's own plans: quicker iterations)
 *                 [--node-options "..."]                    (instead of the Deployment's NODE_OPTIONS, e.g. --cpu-prof)
 *                 [--churn R]                               (R v1 changes/s written during the pre-copy, checked in v3 at the end)
 *                 [--no-precopy]                            (the fallback: everything copied inside the lock, as before issue 11)
 *
 * Seeds N mixed objects (default 100,000) in API-server mode, then measures on the same control
 * plane: `plan` with and without server-side validation; the raw create ceiling (a bare client
 * creating the same converted objects into scratch copies of the v3 CRDs with the same admission
 * policies bound, sweeping concurrency, best kept); and the migration as the benchmark observes it
 * (v1 ClusterInformation going not-ready to v3 going ready), time in Migrating, objects/s, peak RSS
 * of the controller process (before the lock, while planning; and in the locked window), API
 * requests per object. The controller runs as shipped: `node dist/src/cli/main.js controller` with
 * the NODE_OPTIONS of manifests/manager/deployment.yaml. The transitional window (from the
 * APIService's removal until the API server admits v3 policy writes) is probed and reported too.
 * Prints a table, then one JSON line.
 */
import { execFileSync, spawn } from "node:child_process";
import YAML from "yaml";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { migrationResource, type DatastoreMigration } from "../src/api/datastore-migration.js";
import { CALICO_KINDS, CLUSTER_INFORMATION_V1, CLUSTER_INFORMATION_V3, kindByName, v1Resource, v3Resource, type CalicoKind } from "../src/calico/kinds.js";
import { APISERVICE, APISERVICE_NAME } from "../src/migration/apiservice.js";
import { convertV1ToV3, type ConvertedObject } from "../src/convert/convert.js";
import { pruneSpec } from "../src/convert/normalize.js";
import type { KubeClient } from "../src/kube/client.js";
import { Discovery } from "../src/kube/discovery.js";
import { collectionPath, type ResourceRef } from "../src/kube/resource.js";
import { forEachConcurrent } from "../src/migration/pool.js";
import { loadSchemas, plan } from "../src/migration/planner.js";
import { installScratch, removeScratch, SCRATCH_GROUP, validateWithServer } from "../src/migration/validation.js";
import { installApiServerMode } from "../test/harness/api-server-mode.js";
import { repoRoot } from "../test/harness/binaries.js";
import { CONTROLLER_NAMESPACE, CONTROLLER_SA, installControllerManifests } from "../test/harness/controller.js";
import { ControlPlane } from "../test/harness/control-plane.js";
import { freePort } from "../test/harness/free-port.js";
import { seedScale } from "../test/harness/scale-seed.js";
import { Churn } from "../test/harness/churn.js";

/** One line of the controller's JSON log. */
interface LogLine {
  time: number;
  msg: string;
  written?: number;
  durationMs?: number;
  ipamMs?: number;
}

/** The controller's log lines with the given messages. */
function logLines(file: string, ...msgs: string[]): LogLine[] {
  const out: LogLine[] = [];
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const l = JSON.parse(line) as LogLine;
      if (msgs.includes(l.msg)) out.push(l);
    } catch {
      /* not a log line */
    }
  }
  return out;
}

const { values } = parseArgs({
  options: {
    objects: { type: "string", default: "100000" },
    sweep: { type: "string", default: "8,16,32,64" },
    sample: { type: "string", default: "10000" },
    "copy-concurrency": { type: "string" },
    seed: { type: "string", default: "1" },
    ceiling: { type: "string" },
    "no-plan": { type: "boolean", default: false },
    "node-options": { type: "string" },
    "no-precopy": { type: "boolean", default: false },
    churn: { type: "string", default: "0" },
  },
});
const requested = Number(values.objects);
const sweep = values.sweep.split(",").map(Number);
let objects = requested;
const log = (l: string) => console.error(`bench: ${l}`);
const seconds = (ms: number) => Math.round(ms / 10) / 100;

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = Date.now();
  const r = await fn();
  return [r, Date.now() - t];
}

/** Up to `limit` converted objects, spread over every kind in proportion. */
async function sampleConverted(client: KubeClient, limit: number): Promise<ConvertedObject[]> {
  const out: ConvertedObject[] = [];
  const share = Math.max(1, Math.ceil(limit / objects));
  for (const kind of CALICO_KINDS) {
    let i = 0;
    for await (const cr of client.listItems(v1Resource(kind), { limit: 500 })) {
      if (i++ % share === 0 || objects <= limit) out.push(convertV1ToV3(kind, cr));
      if (out.length >= limit) return out;
    }
  }
  return out;
}

/**
 * Objects/s of a bare client creating `items` into the scratch group at `concurrency`, and the
 * control plane's CPU-ms per object during the creates (the emptying afterwards not counted).
 */
async function rawCreateRate(client: KubeClient, items: ConvertedObject[], concurrency: number, pids: number[] = []): Promise<{ rate: number; cpuMs: number }> {
  const schemas = await loadSchemas(client);
  const cpuBefore = pids.map(cpuSeconds);
  const t = Date.now();
  await forEachConcurrent(items, concurrency, async (c) => {
    const ref: ResourceRef = { group: SCRATCH_GROUP, version: "v3", plural: c.kind.v3Plural, namespaced: c.kind.namespaced, kind: c.kind.kind };
    const m = c.v3.metadata;
    for (let attempt = 0; ; attempt++) {
      try {
        await client.create(ref, { apiVersion: `${SCRATCH_GROUP}/v3`, kind: c.kind.kind, metadata: { name: m.name, namespace: m.namespace, labels: m.labels, annotations: m.annotations }, spec: pruneSpec(c.v3.spec, schemas.require(c.kind.kind)) });
        return;
      } catch (err) {
        if (attempt > 50) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  });
  const rate = items.length / ((Date.now() - t) / 1000);
  const cpuMs = (pids.map((pid, i) => cpuSeconds(pid) - (cpuBefore[i] ?? 0)).reduce((a, b) => a + b, 0) * 1000) / items.length;
  // Empty the scratch collections for the next round.
  for (const kind of CALICO_KINDS) {
    const ref: ResourceRef = { group: SCRATCH_GROUP, version: "v3", plural: kind.v3Plural, namespaced: kind.namespaced, kind: kind.kind };
    const namespaces = new Set(items.filter((c) => c.kind === kind).map((c) => c.v3.metadata.namespace ?? ""));
    for (const ns of namespaces) await client.request("DELETE", collectionPath(ref, ns || undefined)).catch(() => undefined);
  }
  return { rate, cpuMs };
}

/** Resident memory (MB) of a process and its children, sampled every 100 ms: peak so far, and peak since the last mark. */
function rssSampler(pid: number): { mark(): number; stop(): number } {
  let peak = 0;
  let sinceMark = 0;
  const read = (p: number): number => {
    try {
      const kb = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/status`, "utf8"))?.[1] ?? 0);
      const children = fs.readFileSync(`/proc/${p}/task/${p}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
      return kb + children.reduce((n, c) => n + read(c), 0);
    } catch {
      return 0;
    }
  };
  const timer = setInterval(() => {
    const now = read(pid);
    peak = Math.max(peak, now);
    sinceMark = Math.max(sinceMark, now);
  }, 100);
  return {
    mark: () => {
      const before = sinceMark;
      sinceMark = 0;
      return before / 1024;
    },
    stop: () => (clearInterval(timer), sinceMark / 1024),
  };
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return NaN;
  }
}

/** NODE_OPTIONS of the shipped Deployment's controller container (empty if it sets none). */
function deploymentNodeOptions(): string {
  const doc = YAML.parse(fs.readFileSync(path.join(repoRoot, "manifests/manager/deployment.yaml"), "utf8")) as {
    spec: { template: { spec: { containers: { env?: { name: string; value?: string }[] }[] } } };
  };
  return doc.spec.template.spec.containers[0]?.env?.find((e) => e.name === "NODE_OPTIONS")?.value ?? "";
}

/**
 * Seconds from the APIService's removal until the API server admits a v3 policy write (dry run):
 * the transitional window Kubernetes imposes while admission re-resolves its policies' paramKinds.
 */
async function probeTransition(client: KubeClient, stop: AbortSignal): Promise<number | undefined> {
  const gnp = v3Resource(kindByName("GlobalNetworkPolicy") as CalicoKind);
  let goneAt: number | undefined;
  while (!stop.aborted) {
    if (goneAt === undefined) {
      const svc = await client.get(APISERVICE, APISERVICE_NAME).catch(() => undefined);
      if (!(svc?.spec as { service?: unknown } | undefined)?.service) goneAt = Date.now();
    } else {
      try {
        await client.create(gnp, { apiVersion: "projectcalico.org/v3", kind: "GlobalNetworkPolicy", metadata: { name: "bench-transition-probe" }, spec: { selector: "all()" } }, { dryRun: true });
        return (Date.now() - goneAt) / 1000;
      } catch {
        /* still transitional */
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return undefined;
}

async function readyFlag(client: KubeClient, ref: ResourceRef): Promise<boolean | undefined> {
  try {
    return ((await client.get(ref, "default")).spec as { datastoreReady?: boolean }).datastoreReady;
  } catch {
    return undefined;
  }
}

log("building dist/ for a production-like controller process");
execFileSync("npm", ["run", "-s", "build"], { cwd: repoRoot, stdio: "inherit" });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "calico-bench-"));
const cp = await ControlPlane.start({ dir, log });
try {
  await installApiServerMode(cp.admin);
  // The optional foreign-owner role: the benchmark measures the migration as installed in the README, foreign owner-reference scan included.
  await installControllerManifests(cp.admin, { foreignOwnerRole: true });
  const [seeded, seedMs] = await timed(() => seedScale(cp.admin, { objects: requested, seed: Number(values.seed) }));
  objects = seeded.total;
  log(`seeded ${objects} objects in ${seconds(seedMs)} s`);

  const discovery = new Discovery(cp.admin);
  let planNoValidateMs = NaN;
  let planMs = NaN;
  let estimatedLockedWindowSeconds: number | undefined;
  if (!values["no-plan"]) {
    let planNoValidate, planFull;
    [planNoValidate, planNoValidateMs] = await timed(() => plan({ client: cp.admin, discovery, scanForeignOwners: true }));
    log(`plan --no-validate: ${seconds(planNoValidateMs)} s, ${planNoValidate.total} objects, ${planNoValidate.blockers.length} blockers`);
    [planFull, planMs] = await timed(() => plan({ client: cp.admin, discovery, validator: (o) => validateWithServer({ client: cp.admin, objects: o, holder: "bench" }) }));
    log(`plan: ${seconds(planMs)} s, validated=${planFull.validated}, ${planFull.blockers.length} blockers`);
    estimatedLockedWindowSeconds = planFull.estimate.lockedWindowSeconds;
  }

  const sweepRates: { concurrency: number; objectsPerSecond: number; controlPlaneCpuMsPerObject?: number }[] = [];
  if (values.ceiling) {
    const [rate, concurrency] = values.ceiling.split("@").map(Number);
    sweepRates.push({ concurrency: concurrency ?? 32, objectsPerSecond: rate ?? NaN });
    log(`raw create ceiling given: ${rate} objects/s at concurrency ${concurrency}`);
  } else {
    log("raw create ceiling: sweeping concurrency");
    await installScratch(cp.admin);
    // The garbage collector starts watching new resources at its next discovery resync (every
    // 30 s); the v3 resources the migration writes are watched all along, so wait for it.
    await new Promise((r) => setTimeout(r, 35_000));
    const sample = await sampleConverted(cp.admin, Number(values.sample));
    // A discarded warm-up round: the first round after the CRDs appear pays for caches and the
    // garbage collector's first lists (seen as 15-25 % lower rates in the first round of a sweep).
    log(`  warm-up at concurrency ${sweep[0]}: ${Math.round((await rawCreateRate(cp.admin, sample, sweep[0] ?? 32)).rate)} objects/s (discarded)`);
    for (const c of sweep) {
      const { rate, cpuMs } = await rawCreateRate(cp.admin, sample, c, cp.pids);
      sweepRates.push({ concurrency: c, objectsPerSecond: Math.round(rate), controlPlaneCpuMsPerObject: Math.round(cpuMs * 100) / 100 });
      log(`  concurrency ${c}: ${Math.round(rate)} objects/s, control plane ${Math.round(cpuMs * 100) / 100} CPU-ms per object`);
    }
    await removeScratch(cp.admin);
  }
  const best = sweepRates.reduce((a, b) => (b.objectsPerSecond > a.objectsPerSecond ? b : a));
  const copyConcurrency = Number(values["copy-concurrency"] ?? best.concurrency);

  log(`migration with --copy-concurrency ${copyConcurrency}`);
  const kubeconfig = await cp.serviceAccountKubeconfig(CONTROLLER_NAMESPACE, CONTROLLER_SA);
  const metricsPort = await freePort();
  const drainSeconds = 10;
  const nodeOptions = values["node-options"] ?? deploymentNodeOptions();
  log(`controller node options${values["node-options"] === undefined ? " (from the Deployment)" : ""}: ${nodeOptions || "(none)"}`);
  const controller = spawn(process.execPath, [...nodeOptions.split(/\s+/).filter(Boolean), path.join(repoRoot, "dist/src/cli/main.js"), "controller", "--kubeconfig", kubeconfig,
    "--drain-period", `${drainSeconds}s`, "--poll-interval", "1s", "--copy-concurrency", String(copyConcurrency),
    "--metrics-bind-address", `127.0.0.1:${metricsPort}`, "--health-probe-bind-address", "0", ...(values["no-precopy"] ? ["--no-precopy"] : [])], { stdio: ["ignore", fs.openSync(path.join(dir, "controller.log"), "a"), "inherit"] });
  const rss = rssSampler(controller.pid ?? 0);
  await cp.admin.create(migrationResource("v1"), { apiVersion: "migration.projectcalico.org/v1", kind: "DatastoreMigration", metadata: { name: "v1-to-v3" }, spec: { type: "APIServerToCRDs" } });
  const t0 = Date.now();
  const churnRate = Number(values.churn);
  const churn = churnRate > 0 ? new Churn(cp.admin, churnRate) : undefined;
  const churning = churn?.run();
  if (churn) log(`churn: ${churnRate} v1 changes/s until the lock`);
  const stopProbe = new AbortController();
  let rssBeforeLockMB = 0;
  let cpuAtLock: number[] = [];
  let transition: Promise<number | undefined> | undefined;
  let lockedAt: number | undefined;
  let unlockedAt: number | undefined;
  let migratingAt: number | undefined;
  let convergedAt: number | undefined;
  for (;;) {
    const now = Date.now();
    if (lockedAt === undefined && (await readyFlag(cp.admin, CLUSTER_INFORMATION_V1)) === false) {
      lockedAt = now;
      churn?.stop();
      cpuAtLock = [cpuSeconds(controller.pid ?? 0), ...cp.pids.map(cpuSeconds)];
      rssBeforeLockMB = Math.round(rss.mark());
      transition = probeTransition(cp.admin, stopProbe.signal);
    }
    if (lockedAt !== undefined && unlockedAt === undefined && (await readyFlag(cp.admin, CLUSTER_INFORMATION_V3)) === true) unlockedAt = now;
    const dm = (await cp.admin.get(migrationResource("v1"), "v1-to-v3")) as unknown as DatastoreMigration;
    if (migratingAt === undefined && dm.status?.phase === "Migrating") migratingAt = now;
    if (dm.status?.phase === "Converged") convergedAt ??= now;
    if (dm.status?.phase === "Failed") throw new Error(`migration failed: ${dm.status.message}`);
    if (convergedAt !== undefined && unlockedAt !== undefined) break;
    if (now - t0 > 3 * 3600_000) throw new Error("migration did not converge within 3 h");
    await new Promise((r) => setTimeout(r, 100));
  }
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const requests = Number(/^calico_migration_api_requests_total (\d+)/m.exec(metrics)?.[1] ?? NaN);
  const rssLockedMB = Math.round(rss.stop());
  // CPU seconds each process used in the locked window: controller, etcd, kube-apiserver, kube-controller-manager.
  const cpuLocked = [cpuSeconds(controller.pid ?? 0), ...cp.pids.map(cpuSeconds)].map((c, i) => Math.round((c - (cpuAtLock[i] ?? 0)) * 10) / 10);
  stopProbe.abort();
  const transitionalSeconds = Math.round(((await transition) ?? 0) * 100) / 100;
  controller.kill("SIGTERM");

  const lockedWindowSeconds = seconds((unlockedAt ?? 0) - (lockedAt ?? 0));
  await churning;
  const churnWrong = churn ? await churn.check() : [];
  for (const w of churnWrong.slice(0, 20)) log(`churn change not in v3 as written: ${w}`);
  // The controller's own account of the window: the pre-copy (end of the plan to the lock), what
  // was written inside the lock, and the IPAM kinds' share of the locked passes.
  const controllerLog = path.join(dir, "controller.log");
  const planDone = logLines(controllerLog, "plan finished").at(-1)?.time;
  const locked = logLines(controllerLog, "final delta applied", "locked copy finished", "verification finished");
  const catchUp = logLines(controllerLog, "pre-copy caught up");
  const migratingSeconds = seconds((convergedAt ?? 0) - (migratingAt ?? lockedAt ?? 0));
  const ceiling = best.objectsPerSecond;
  const result = {
    objects,
    lockedWindowSeconds,
    drainSeconds,
    migratingSeconds,
    objectsPerSecond: Math.round(objects / Math.max(0.001, lockedWindowSeconds - drainSeconds)),
    ceilingObjectsPerSecond: ceiling,
    ceilingConcurrency: best.concurrency,
    copyConcurrency,
    ratioToCeiling: Math.round(((lockedWindowSeconds - drainSeconds) / (objects / ceiling)) * 100) / 100,
    transitionalSeconds,
    precopy: !values["no-precopy"],
    precopySeconds: !values["no-precopy"] && planDone !== undefined && lockedAt !== undefined ? seconds(lockedAt - planDone) : 0,
    precopyCatchUpWrites: catchUp.map((l) => l.written ?? 0),
    deltaObjects: locked.reduce((n, l) => n + (l.written ?? 0), 0),
    ipamLockedSeconds: seconds(locked.reduce((n, l) => n + (l.ipamMs ?? 0), 0)),
    lockedPassSeconds: Object.fromEntries(locked.map((l) => [l.msg, seconds(l.durationMs ?? 0)])),
    churnRate,
    churnChanged: churn?.changed ?? 0,
    churnCounts: churn?.counts,
    churnWrongInV3: churnWrong.length,
    totalSeconds: seconds((convergedAt ?? 0) - t0),
    ratioToCeilingWithoutTransition: Math.round(((lockedWindowSeconds - drainSeconds - transitionalSeconds) / (objects / ceiling)) * 100) / 100,
    peakRssMB: Math.max(rssBeforeLockMB, rssLockedMB),
    rssBeforeLockMB,
    rssLockedWindowMB: rssLockedMB,
    nodeOptions,
    lockedWindowCpuSeconds: { controller: cpuLocked[0], etcd: cpuLocked[1], kubeApiserver: cpuLocked[2], kubeControllerManager: cpuLocked[3] },
    lockedWindowControlPlaneCpuMsPerObject: Math.round((cpuLocked.slice(1).reduce((a, b) => a + b, 0) * 1000 / objects) * 100) / 100,
    estimatedLockedWindowSeconds,
    apiRequestsPerObject: Math.round((requests / objects) * 100) / 100,
    planSeconds: seconds(planMs),
    planNoValidateSeconds: seconds(planNoValidateMs),
    seedSeconds: seconds(seedMs),
    sweep: sweepRates,
    cpus: os.cpus().length,
  };
  console.log("\nmetric                        value");
  for (const [k, v] of Object.entries(result)) if (k !== "sweep") console.log(`${k.padEnd(30)}${typeof v === "object" ? JSON.stringify(v) : String(v)}`);
  console.log(`sweep                         ${sweepRates.map((s) => `${s.concurrency}:${s.objectsPerSecond}/s`).join("  ")}`);
  console.log(JSON.stringify(result));
} finally {
  // The controller's log outlives the run, for a breakdown of the window by step.
  if (fs.existsSync(path.join(dir, "controller.log"))) fs.copyFileSync(path.join(dir, "controller.log"), path.join(os.tmpdir(), "calico-bench-controller.log"));
  await cp.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
