import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeClock } from "../kube/clock.js";
import type { KubeClient } from "../kube/client.js";
import type { KubeObject } from "../kube/object.js";
import { nudgeTerminatingCrd, REQUEUE_ANNOTATION } from "./crd-nudge.js";

function recordingClient(fail = false): { client: KubeClient; patches: { name: string; body: unknown }[] } {
  const patches: { name: string; body: unknown }[] = [];
  const client = {
    patch: (_ref: unknown, name: string, body: unknown) => {
      if (fail) return Promise.reject(new Error("forbidden"));
      patches.push({ name, body });
      return Promise.resolve({});
    },
  } as unknown as KubeClient;
  return { client, patches };
}

const terminating = (at: number): KubeObject => ({ metadata: { name: "ippools.crd.projectcalico.org", deletionTimestamp: new Date(at).toISOString() } });

test("a CRD terminating for less than the wait is left alone; after it, the annotation requeues its cleanup", async () => {
  const clock = new FakeClock(Date.parse("2026-11-27T07:00:00Z"));
  const { client, patches } = recordingClient();
  const crd = terminating(clock.now());
  assert.equal(await nudgeTerminatingCrd(client, crd, clock, 10_000), false);
  assert.deepEqual(patches, []);
  await clock.advance(10_000);
  assert.equal(await nudgeTerminatingCrd(client, crd, clock, 10_000), true);
  assert.deepEqual(patches, [{ name: "ippools.crd.projectcalico.org", body: { metadata: { annotations: { [REQUEUE_ANNOTATION]: String(clock.now()) } } } }]);
});

test("a CRD that is not terminating is never written; a failed write is reported as no nudge", async () => {
  const clock = new FakeClock(Date.parse("2026-11-27T07:00:00Z"));
  const { client, patches } = recordingClient();
  assert.equal(await nudgeTerminatingCrd(client, { metadata: { name: "x" } }, clock), false);
  assert.deepEqual(patches, []);
  assert.equal(await nudgeTerminatingCrd(recordingClient(true).client, terminating(clock.now() - 60_000), clock), false);
});
