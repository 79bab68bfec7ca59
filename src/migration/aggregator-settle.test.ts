import { test } from "node:test";
import assert from "node:assert/strict";
import { convertUid } from "../convert/uid.js";
import type { KubeClient } from "../kube/client.js";
import type { Clock } from "../kube/clock.js";
import type { KubeObject } from "../kube/object.js";
import type { ResourceRef } from "../kube/resource.js";
import { SettleTracker, waitAggregatorSettled, type SettleRule } from "./aggregator-settle.js";

const RULE: SettleRule = { probes: 3, fanout: 1, quietMs: 1000, intervalMs: 100, timeoutMs: 10_000 };

test("settled needs the probe run and the quiet period both", () => {
  const t = new SettleTracker(RULE, 0);
  for (const at of [100, 200]) t.observe("storage", at);
  assert.equal(t.settled(1500), false, "two probes are not three");
  t.observe("storage", 300);
  assert.equal(t.settled(900), false, "three probes, but not quiet for long enough since the start");
  assert.equal(t.settled(1000), true);
});

test("a proxied answer restarts both the run and the quiet period; an error restarts only the run", () => {
  const t = new SettleTracker(RULE, 0);
  for (const at of [100, 200, 300]) t.observe("storage", at);
  t.observe("aggregated", 400);
  for (const at of [500, 600, 700]) t.observe("storage", at);
  assert.equal(t.settled(1300), false, "quiet since 400 only");
  assert.equal(t.settled(1400), true);
  t.observe("error", 1400);
  assert.equal(t.settled(1500), false, "the run starts again after an error");
  assert.equal(t.lagged, 1);
});

/** Time moves only when the code under test sleeps. */
function steppingClock(): Clock & { slept: number } {
  let now = 0;
  const c = { slept: 0, now: () => now, sleep: (ms: number) => { now += ms; c.slept += ms; return Promise.resolve(); } };
  return c;
}

const V1_UID = "0f1e2d3c-4b5a-4968-8776-655443322110";

function fakeClient(answers: ("storage" | "aggregated" | "error")[]): KubeClient {
  let i = 0;
  const get = (ref: ResourceRef): Promise<KubeObject> => {
    if (ref.group === "crd.projectcalico.org") return Promise.resolve({ metadata: { name: "default", uid: V1_UID } });
    const a = answers[Math.min(i++, answers.length - 1)];
    if (a === "error") return Promise.reject(new Error("503"));
    return Promise.resolve({ metadata: { name: "default", uid: a === "aggregated" ? convertUid(V1_UID) : "11111111-2222-4333-8444-555555555555" } });
  };
  return { get } as unknown as KubeClient;
}

test("waitAggregatorSettled waits out a lagging replica's answers, then the quiet period", async () => {
  const clock = steppingClock();
  const out = await waitAggregatorSettled(fakeClient(["storage", "aggregated", "storage", "aggregated", "storage"]), clock, RULE);
  assert.equal(out.settled, true);
  assert.equal(out.lagged, 2);
  // The last proxied answer came at 300 ms: quiet until 1300 ms.
  assert.equal(out.waitedMs, 1300);
});

test("a round with one proxied answer among its reads counts as proxied", async () => {
  const out = await waitAggregatorSettled(fakeClient(["storage", "storage", "aggregated", "storage"]), steppingClock(), { ...RULE, fanout: 4 });
  assert.equal(out.lagged, 1);
  assert.equal(out.waitedMs, 1000, "quiet from the first round, whose answers included the proxied one");
});

test("waitAggregatorSettled gives up at its timeout and says so", async () => {
  const out = await waitAggregatorSettled(fakeClient(["aggregated"]), steppingClock(), { ...RULE, timeoutMs: 2000 });
  assert.equal(out.settled, false);
  assert.ok(out.lagged > 10);
  assert.equal(out.waitedMs, 2000);
});
