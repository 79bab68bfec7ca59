/**
 * The controller (a real process, as its ServiceAccount) migrates a few thousand mixed objects
 * through a fault proxy injecting 5 % 429/5xx answers, 1 % connection resets, dropped responses,
 * 410 Gone on watches and 0–200 ms latency, with status writes rejected at chosen steps (409 on
 * the lock, 500 on the move to Migrating, 500 after the Converged write was stored): it reaches
 * Converged with every v1 object present exactly once in v3, equal to its conversion, 0
 * conflicts, the drain kept, and the garbage collector sparing every owned object.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ConditionType, type DatastoreMigration } from "../../src/api/datastore-migration.js";
import { kindByName, v3Resource } from "../../src/calico/kinds.js";
import { resetApiServerMode } from "../harness/api-server-mode.js";
import { proxyForCluster, type ClusterProxy } from "../harness/cluster-proxy.js";
import { installControllerManifests } from "../harness/controller.js";
import { ControllerProcess } from "../harness/controller-process.js";
import { compareDatastores, describeComparison } from "../harness/datastore-compare.js";
import { FAULT_TYPES, type ProxiedRequest } from "../harness/fault-proxy.js";
import { gcBarrier } from "../harness/gc-barrier.js";
import { createMigration, waitMigration, waitPhase } from "../harness/migration-cr.js";
import { CONFIGMAPS, seedScale, type ScaleSeedResult } from "../harness/scale-seed.js";
import { sharedCluster } from "../harness/shared-cluster.js";
import { eventually } from "../harness/eventually.js";

const SEED = 20260917;
const OBJECTS = 2000;
const STATUS_PATH = /\/datastoremigrations\/v1-to-v3\/status$/;
const statusOf = (r: ProxiedRequest) => ((r.body ?? {}) as DatastoreMigration).status ?? {};

const cluster = await sharedCluster();

describe("migration under API faults", () => {
  let seeded: ScaleSeedResult;
  let cp: ClusterProxy;
  let controller: ControllerProcess;
  const statusMessages: string[] = [];

  before(async () => {
    await resetApiServerMode(cluster.admin);
    // The optional foreign-owner role: its migrations scan for foreign owner references (the CRs do not opt out).
    await installControllerManifests(cluster.admin, { foreignOwnerRole: true });
    seeded = await seedScale(cluster.admin, { objects: OBJECTS, seed: SEED });
    cp = await proxyForCluster(cluster, {
      seed: SEED,
      onRequest: (r) => {
        const message = statusOf(r).message;
        if (r.method === "PUT" && STATUS_PATH.test(r.path) && message) statusMessages.push(message);
      },
      rules: [
        { name: "409-on-lock", method: "PUT", path: STATUS_PATH, times: 1, when: (r) => statusOf(r).datastoreLockedAt !== undefined && statusOf(r).phase === "Pending", action: { type: "status", code: 409 } },
        // Three in a row: the client's own retries get the write through.
        { name: "500-on-migrating", method: "PUT", path: STATUS_PATH, times: 3, when: (r) => statusOf(r).phase === "Migrating", action: { type: "status", code: 500 } },
        // Stored, then five answers lost: more than the client retries, so the reconcile sees it.
        { name: "500-after-converged-stored", method: "PUT", path: STATUS_PATH, times: 5, when: (r) => statusOf(r).phase === "Converged", action: { type: "status", code: 500, afterForward: true } },
      ],
    });
    cp.proxy.setRates({
      latencyMs: [0, 200],
      status429: 0.0125, status500: 0.0125, status503: 0.0125, status504: 0.0125,
      reset: 0.01, drop: 0.005, watchGone: 0.8, watchGoneAfterMs: [500, 5000], errorAfterForward: 0.3,
    });
    // Server-side validation is skipped here (it is exercised by the crash tests): under 0–200 ms
    // latency its 2,000 dry runs alone would take a minute.
    controller = new ControllerProcess(cp.kubeconfig, { drainPeriod: "1s", name: "faults", extraArgs: ["--no-validate", "--copy-concurrency", "32"] });
  });

  after(async () => {
    await controller?.kill();
    await cp?.proxy.stop();
    // The next file resets the Calico objects; the owned ConfigMaps are ours to remove.
    for (const d of seeded?.dependents ?? []) await cluster.admin.delete(CONFIGMAPS, d.name, d.namespace).catch(() => undefined);
  });

  test("reaches Converged with every v1 object exactly once in v3 and 0 conflicts", async () => {
    assert.ok(seeded.total >= OBJECTS, `seeded ${seeded.total}`);
    await createMigration(cluster.admin);
    const dm = await waitPhase(cluster.admin, "Converged", { timeoutMs: 300_000 });
    cp.proxy.setRates({});
    const counts = { ...cp.proxy.counts, requests: cp.proxy.requests, rules: cp.proxy.ruleHits };
    console.log(`# faults injected: ${JSON.stringify(counts)}`);
    for (const t of FAULT_TYPES) {
      if (t === "watchGoneAnswer" || t === "watchGoneEvent") continue;
      assert.ok(cp.proxy.counts[t] > 0, `${t} injected (${JSON.stringify(counts)})`);
    }
    assert.ok(cp.proxy.counts.watchGoneAnswer + cp.proxy.counts.watchGoneEvent > 0, "410 Gone injected on watches");

    assert.equal(dm.status?.progress?.conflicts, 0);
    assert.equal(dm.status?.conditions?.filter((c) => c.type === ConditionType.Conflict).length ?? 0, 0);
    assert.equal(dm.status?.progress?.typeProgress, "21 / 21");
    const progress = dm.status?.progress;
    assert.equal((progress?.migrated ?? 0) + (progress?.skipped ?? 0), seeded.total, "every v1 object counted once");

    const cmp = await compareDatastores(cluster.admin);
    assert.equal(cmp.v1Total, seeded.total);
    assert.deepEqual({ missing: cmp.missing, different: cmp.different, extras: cmp.extras, duplicated: cmp.duplicated }, { missing: [], different: [], extras: [], duplicated: [] }, describeComparison(cmp));
    assert.equal(cmp.matched, seeded.total);
  });

  test("status writes rejected at the lock, at Migrating and after Converged were retried, and nothing was skipped", async () => {
    const failures = () => controller.lines("reconcile failed").map((l) => String(l.err));
    // The 409 and the lost Converged answers reach the reconcile: it fails, says why, and retries.
    for (const rule of ["409-on-lock", "500-after-converged-stored"]) {
      const text = `fault-proxy rule ${rule}`;
      await eventually(() => failures().some((f) => f.includes(text)), { timeoutMs: 60_000, message: `the reconcile failed on ${rule} and was retried` });
      const surfaced = statusMessages.some((m) => m.includes(text)) || controller.lines("writing the error into status failed").length > 0;
      assert.ok(surfaced, `${rule}: the error was written into status.message (or that write failed and was retried)`);
    }
    // The three 500s on the move to Migrating never reached the reconcile: the client retried them.
    assert.equal(failures().some((f) => f.includes("500-on-migrating")), false, "500-on-migrating was absorbed by the client's retries");
    assert.deepEqual(cp.proxy.ruleHits, { "409-on-lock": 1, "500-on-migrating": 3, "500-after-converged-stored": 5 });
    // Once retried, the Converged step overwrites the error with its own message.
    const dm = await waitMigration(cluster.admin, (m) => {
      assert.equal(m.status?.phase, "Converged");
      assert.equal(m.status?.message?.includes("fault-proxy"), false, `the message moved on: ${m.status?.message}`);
    }, { message: "Converged with the error gone from status.message", timeoutMs: 60_000 });
    const lockedAt = Date.parse(dm.status?.datastoreLockedAt ?? "");
    const startedAt = Date.parse(dm.status?.startedAt ?? "");
    assert.ok(startedAt - lockedAt >= 1_000, `the drain was kept after the rejected lock write (${dm.status?.datastoreLockedAt} → ${dm.status?.startedAt})`);
  });

  test("the garbage collector spared every owned object", async () => {
    await gcBarrier(cluster.admin, seeded.namespaces[0]);
    const policy = await cluster.admin.get(v3Resource(kindByName("GlobalNetworkPolicy")!), seeded.ownedPolicy);
    const tier = await cluster.admin.get(v3Resource(kindByName("Tier")!), "security");
    assert.equal(policy.metadata.ownerReferences?.[0]?.uid, tier.metadata.uid);
    for (const d of seeded.dependents) {
      const cm = await cluster.admin.get(CONFIGMAPS, d.name, d.namespace);
      assert.equal(cm.metadata.ownerReferences?.length, 1, `${d.name} keeps its owner reference`);
    }
  });
});
