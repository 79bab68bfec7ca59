// Lease leader election against the real API server, with short durations: one leader at a time,
// hand-over on a graceful stop, give-up on a failed renewal before anyone else takes over, and
// expiry judged by the local clock whatever the holder's clock says.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { sharedCluster } from "../harness/shared-cluster.js";
import { eventually } from "../harness/eventually.js";
import { KubeClient } from "../../src/kube/client.js";
import { TransportError } from "../../src/kube/errors.js";
import { systemClock, type Clock } from "../../src/kube/clock.js";
import { LEASES, LeaderElector, type Lease, type LeaderElectionOptions } from "../../src/kube/leader-election.js";
import { formatMicroTime } from "../../src/kube/lease.js";

const SHORT = { leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 250 } as const;
const YEARS_25 = 25 * 365 * 24 * 3_600_000;

const cluster = await sharedCluster();
const ns = `kube-leader-${randomBytes(3).toString("hex")}`;
await cluster.admin.create({ group: "", version: "v1", plural: "namespaces", namespaced: false, kind: "Namespace" }, { metadata: { name: ns } });
after(async () => {
  await cluster.admin.request("DELETE", `/api/v1/namespaces/${ns}`).catch(() => undefined);
});

/** A client whose requests fail like a partitioned node's while `outage` is set. */
class PartitionedClient extends KubeClient {
  outage = false;
  override request<T>(method: string, path: string, options: Parameters<KubeClient["request"]>[2] = {}): Promise<T> {
    if (this.outage) return Promise.reject(new TransportError(`${method} ${path}: injected partition`, method, path));
    return super.request<T>(method, path, options);
  }
}

interface Candidate {
  elector: LeaderElector;
  identity: string;
  /** Local times of callbacks. */
  startedAt?: number;
  workEndedAt?: number;
  stoppedAt?: number;
  stoppedCalls: number;
  newLeaders: string[];
  done: Promise<void>;
  finished: boolean;
  stop(): Promise<void>;
}

function candidate(identity: string, lease: string, extra: Partial<LeaderElectionOptions> = {}): Candidate {
  const ac = new AbortController();
  const elector = new LeaderElector({ client: cluster.admin, namespace: ns, name: lease, identity, ...SHORT, ...extra });
  const c: Candidate = {
    elector,
    identity,
    stoppedCalls: 0,
    newLeaders: [],
    finished: false,
    done: Promise.resolve(),
    stop: async () => {
      ac.abort();
      await c.done;
    },
  };
  c.done = elector
    .run(
      {
        onStartedLeading: async (signal) => {
          c.startedAt = Date.now();
          await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
          c.workEndedAt = Date.now();
        },
        onStoppedLeading: () => {
          c.stoppedAt = Date.now();
          c.stoppedCalls++;
        },
        onNewLeader: (id) => c.newLeaders.push(id),
      },
      ac.signal,
    )
    .finally(() => {
      c.finished = true;
    });
  after(() => c.stop());
  return c;
}

const getLease = (name: string) => cluster.admin.get<Lease>(LEASES, name, ns);

/** Waits until the lease's renewTime has changed `times` times (its holder keeps renewing). */
async function renewals(name: string, times: number, timeoutMs = 15_000): Promise<void> {
  const seen = new Set<string>();
  await eventually(async () => {
    seen.add((await getLease(name)).spec?.renewTime ?? "");
    return seen.size > times;
  }, { timeoutMs, intervalMs: 50, message: `lease ${name} renewed ${times} times` });
}

test("of two candidates exactly one leads; a graceful stop hands over at once", async () => {
  const lease = "two-candidates";
  const a = candidate("a", lease);
  await eventually(() => a.elector.isLeader(), { timeoutMs: 10_000, message: "a leads" });
  const b = candidate("b", lease);
  await eventually(() => b.newLeaders.includes("a"), { timeoutMs: 10_000, message: "b sees a" });
  await renewals(lease, 6); // well past leaseDuration: b must still be following
  assert.equal(a.elector.isLeader(), true);
  assert.equal(b.elector.isLeader(), false);
  assert.equal(b.startedAt, undefined);
  assert.equal(b.elector.leader(), "a");
  const held = await getLease(lease);
  assert.equal(held.spec?.holderIdentity, "a");
  assert.equal(held.spec?.leaseDurationSeconds, 2);
  assert.match(held.spec?.renewTime ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

  const stopping = Date.now();
  await a.stop();
  assert.equal(a.stoppedCalls, 1);
  assert.ok(a.workEndedAt! <= a.stoppedAt!, "the work ends before onStoppedLeading");
  assert.equal(a.elector.isLeader(), false);
  await eventually(() => b.elector.isLeader(), { timeoutMs: 10_000, message: "b takes over" });
  assert.ok(b.startedAt! - stopping < SHORT.leaseDurationMs, `released lease taken in ${b.startedAt! - stopping} ms, before it would have expired`);
  const taken = await getLease(lease);
  assert.equal(taken.spec?.holderIdentity, "b");
  assert.equal(taken.spec?.leaseTransitions, (held.spec?.leaseTransitions ?? 0) + 1);

  await b.stop();
  assert.equal((await getLease(lease)).spec?.holderIdentity, "", "released on graceful stop");
  assert.equal(b.stoppedCalls, 1);
});

test("a leader that cannot renew gives up within renewDeadline, before another takes over", async (t) => {
  const lease = "partition";
  const client = new PartitionedClient(cluster.admin.config);
  t.after(() => client.close());
  const a = candidate("a", lease, { client });
  await eventually(() => a.elector.isLeader(), { timeoutMs: 10_000, message: "a leads" });
  const b = candidate("b", lease);
  await eventually(() => b.newLeaders.includes("a"), { timeoutMs: 10_000, message: "b sees a" });

  const cut = Date.now();
  client.outage = true;
  await eventually(() => a.stoppedCalls === 1, { timeoutMs: 10_000, message: "a gives up" });
  await eventually(() => a.finished, { timeoutMs: 5_000, message: "a's run returns" });
  assert.ok(a.workEndedAt !== undefined, "a's leadership signal was aborted");
  assert.ok(a.stoppedAt! - cut <= SHORT.renewDeadlineMs + 4 * SHORT.retryPeriodMs, `gave up ${a.stoppedAt! - cut} ms after the cut`);
  assert.equal(a.elector.isLeader(), false);

  await eventually(() => b.elector.isLeader(), { timeoutMs: 10_000, message: "b takes over" });
  assert.ok(b.startedAt! >= a.stoppedAt!, "never two leaders: b starts after a stopped");
  assert.ok(b.startedAt! - cut >= SHORT.leaseDurationMs - 2 * SHORT.retryPeriodMs, `b waited ${b.startedAt! - cut} ms for the lease to expire`);
  assert.equal((await getLease(lease)).spec?.holderIdentity, "b");
  client.outage = false;
});

test("expiry is judged by the local clock: a holder whose clock is 25 years slow keeps the lease while it renews", async () => {
  const lease = "slow-clock";
  const slow: Clock = { now: () => Date.now() - YEARS_25, sleep: (ms, signal) => systemClock.sleep(ms, signal) };
  const ghost = candidate("ghost", lease, { clock: slow, releaseOnCancel: false });
  await eventually(() => ghost.elector.isLeader(), { timeoutMs: 10_000, message: "ghost leads" });
  assert.match((await getLease(lease)).spec?.renewTime ?? "", /^(199|200)/);
  const c = candidate("c", lease);
  await eventually(() => c.newLeaders.includes("ghost"), { timeoutMs: 10_000, message: "c sees ghost" });
  await renewals(lease, 10); // ≈ 2.5 s > leaseDuration, all with renewTimes decades old
  assert.equal(c.elector.isLeader(), false, "an old renewTime alone does not make the lease expired");

  const stopped = Date.now();
  await ghost.stop(); // no release: the lease has to expire
  assert.equal((await getLease(lease)).spec?.holderIdentity, "ghost");
  await eventually(() => c.elector.isLeader(), { timeoutMs: 10_000, message: "c takes over" });
  assert.ok(c.startedAt! - stopped >= SHORT.leaseDurationMs - 2 * SHORT.retryPeriodMs, `took over ${c.startedAt! - stopped} ms after the last renewal`);
  const taken = await getLease(lease);
  assert.equal(taken.spec?.holderIdentity, "c");
  assert.ok(Math.abs(Date.parse(taken.spec?.acquireTime ?? "") - Date.now()) < 60_000, "acquireTime from c's clock");
});

test("a lease renewed 'in the future' by a fast clock still expires by the local clock", async () => {
  const lease = "fast-clock";
  const future = formatMicroTime(Date.now() + YEARS_25);
  await cluster.admin.create(LEASES, {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: { name: lease, namespace: ns },
    spec: { holderIdentity: "gone", leaseDurationSeconds: 2, acquireTime: future, renewTime: future, leaseTransitions: 5 },
  });
  const started = Date.now();
  const c = candidate("c", lease);
  await eventually(() => c.newLeaders.includes("gone"), { timeoutMs: 10_000, message: "c sees the old holder" });
  await eventually(() => c.elector.isLeader(), { timeoutMs: 10_000, message: "c takes over" });
  assert.ok(c.startedAt! - started >= 2_000, `waited ${c.startedAt! - started} ms, a full lease from first sight`);
  const taken = await getLease(lease);
  assert.equal(taken.spec?.holderIdentity, "c");
  assert.equal(taken.spec?.leaseTransitions, 6);
});

test("candidates starting together on a missing lease elect exactly one leader", async () => {
  const lease = "stampede";
  const all = ["p", "q", "r", "s"].map((id) => candidate(id, lease));
  await eventually(() => all.some((c) => c.elector.isLeader()), { timeoutMs: 10_000, message: "someone leads" });
  await renewals(lease, 6);
  const leaders = all.filter((c) => c.elector.isLeader() || c.startedAt !== undefined);
  assert.equal(leaders.length, 1, `leaders: ${leaders.map((c) => c.identity).join(", ")}`);
  const holder = (await getLease(lease)).spec?.holderIdentity;
  assert.equal(holder, leaders[0]!.identity);
  for (const c of all) assert.equal(c.elector.leader(), holder);
  await Promise.all(all.map((c) => c.stop()));
  assert.equal(all.reduce((n, c) => n + c.stoppedCalls, 0), 1);
});

test("stopping a candidate that never led resolves run without onStoppedLeading", async () => {
  const lease = "never-led";
  const a = candidate("a", lease);
  await eventually(() => a.elector.isLeader(), { timeoutMs: 10_000, message: "a leads" });
  const b = candidate("b", lease);
  await eventually(() => b.newLeaders.includes("a"), { timeoutMs: 10_000, message: "b sees a" });
  await b.stop();
  assert.equal(b.stoppedCalls, 0);
  assert.equal(b.startedAt, undefined);
  assert.equal((await getLease(lease)).spec?.holderIdentity, "a", "a follower's stop leaves the lease alone");
  await assert.rejects(a.elector.run({ onStartedLeading: () => undefined, onStoppedLeading: () => undefined }), /already in progress/);
  await a.stop();
});

test("bad timings are refused up front", () => {
  assert.throws(
    () => new LeaderElector({ client: cluster.admin, namespace: ns, name: "x", identity: "i", leaseDurationMs: 5_000, renewDeadlineMs: 6_000 }),
    /leaseDuration must be greater than renewDeadline/,
  );
  assert.throws(() => new LeaderElector({ client: cluster.admin, namespace: ns, name: "x", identity: "" }), /identity must not be empty/);
});
