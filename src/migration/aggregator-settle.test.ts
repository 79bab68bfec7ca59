import { test } from "node:test";
import assert from "node:assert/strict";
import { convertUid } from "../convert/uid.js";
import type { KubeClient } from "../kube/client.js";
import { ApiError } from "../kube/errors.js";
import type { Clock } from "../kube/clock.js";
import type { KubeObject } from "../kube/object.js";
import type { ResourceRef } from "../kube/resource.js";
import { classify, SettleTracker, waitSettled, type SettleRule } from "./aggregator-settle.js";

const RULE: SettleRule = { probes: 3, fanout: 1, quietMs: 1000, intervalMs: 100, timeoutMs: 10_000 };

test("settled needs the probe run and the quiet period both", () => {
  const t = new SettleTracker(RULE, 0);
  for (const at of [100, 200]) t.observe("storage", at);
  assert.equal(t.settled(1500), false, "two probes are not three");
  t.observe("storage", 300);
  assert.equal(t.settled(900), false, "three probes, but not quiet for long enough since the start");
  assert.equal(t.settled(1000), true);
});

test("an answer counts by the wanted backend; not found is always wrong, an error never", () => {
  assert.deepEqual(["storage", "aggregated", "not-found", "error"].map((a) => classify(a as "storage", "storage")), ["good", "wrong", "wrong", "neutral"]);
  assert.deepEqual(["storage", "aggregated", "not-found", "error"].map((a) => classify(a as "storage", "aggregated")), ["wrong", "good", "wrong", "neutral"]);
});

test("a wrong answer restarts both the run and the quiet period; an error neither", () => {
  const t = new SettleTracker(RULE, 0);
  for (const at of [100, 200, 300]) t.observe("storage", at);
  t.observe("aggregated", 400);
  for (const at of [500, 600, 700]) t.observe("storage", at);
  assert.equal(t.settled(1300), false, "quiet since 400 only");
  assert.equal(t.settled(1400), true);
  t.observe("error", 1400);
  assert.equal(t.settled(1500), true, "an error proves nothing either way");
  t.observe("not-found", 1500);
  assert.equal(t.settled(2600), false, "the run starts again after a 404");
  assert.equal(t.wrong, 2);
});

/** Time moves only when the code under test sleeps. */
function steppingClock(): Clock & { slept: number } {
  let now = 0;
  const c = { slept: 0, now: () => now, sleep: (ms: number) => { now += ms; c.slept += ms; return Promise.resolve(); } };
  return c;
}

const V1_UID = "0f1e2d3c-4b5a-4968-8776-655443322110";

function fakeClient(answers: ("storage" | "aggregated" | "not-found" | "error")[], v1Missing = false): KubeClient {
  let i = 0;
  const get = (ref: ResourceRef): Promise<KubeObject> => {
    if (ref.group === "crd.projectcalico.org") {
      return v1Missing ? Promise.reject(new ApiError(404, "NotFound", "not found", "GET", "/apis/crd.projectcalico.org/v1/clusterinformations/default", undefined)) : Promise.resolve({ metadata: { name: "default", uid: V1_UID } });
    }
    const a = answers[Math.min(i++, answers.length - 1)];
    if (a === "error") return Promise.reject(new Error("503"));
    if (a === "not-found") return Promise.reject(new ApiError(404, "NotFound", "not found", "GET", "/apis/projectcalico.org/v3/clusterinformations/default", undefined));
    return Promise.resolve({ metadata: { name: "default", uid: a === "aggregated" ? convertUid(V1_UID) : "11111111-2222-4333-8444-555555555555" } });
  };
  return { get } as unknown as KubeClient;
}

test("waitSettled waits out a lagging replica's answers, then the quiet period", async () => {
  const clock = steppingClock();
  const out = await waitSettled(fakeClient(["storage", "aggregated", "storage", "aggregated", "storage"]), clock, "storage", RULE);
  assert.equal(out.settled, true);
  assert.equal(out.wrong, 2);
  // The last proxied answer came at 300 ms: quiet until 1300 ms.
  assert.equal(out.waitedMs, 1300);
});

test("a round with one proxied answer among its reads counts as proxied", async () => {
  const out = await waitSettled(fakeClient(["storage", "storage", "aggregated", "storage"]), steppingClock(), "storage", { ...RULE, fanout: 4 });
  assert.equal(out.wrong, 1);
  assert.equal(out.waitedMs, 1000, "quiet from the first round, whose answers included the proxied one");
});

test("waitSettled gives up at its timeout and says so", async () => {
  const out = await waitSettled(fakeClient(["aggregated"]), steppingClock(), "storage", { ...RULE, timeoutMs: 2000 });
  assert.equal(out.settled, false);
  assert.ok(out.wrong > 10);
  assert.equal(out.waitedMs, 2000);
});

test("after a restore the Calico API server is wanted: a 404 (a v3 CRD's storage re-initialising) restarts the quiet period", async () => {
  const out = await waitSettled(fakeClient(["aggregated", "not-found", "aggregated", "error", "aggregated"]), steppingClock(), "aggregated", RULE);
  assert.equal(out.settled, true);
  assert.equal(out.wrong, 1);
  assert.equal(out.waitedMs, 1100, "quiet from the 404 at 100 ms");
});

test("without v1 ClusterInformation nothing tells the backends apart: the quiet period only, not settled", async () => {
  const out = await waitSettled(fakeClient(["storage"], true), steppingClock(), "aggregated", RULE);
  assert.deepEqual(out, { settled: false, wrong: 0, waitedMs: 1000 });
});
