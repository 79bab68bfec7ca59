import { test } from "node:test";
import assert from "node:assert/strict";
import type { DatastoreMigration } from "../../api/datastore-migration.js";
import { TransportError } from "../../kube/errors.js";
import { follow, type FollowDeps } from "./follow.js";

function dm(phase: string): DatastoreMigration {
  return { metadata: { name: "v1-to-v3" }, spec: { type: "APIServerToCRDs" }, status: { phase: phase as "Pending" } };
}

/** Deps that answer from a script and advance a fake time on every sleep. */
function scripted(answers: (DatastoreMigration | undefined | Error)[]): FollowDeps & { slept: number[] } {
  let t = 0;
  let i = 0;
  const slept: number[] = [];
  return {
    slept,
    now: () => t,
    sleep: (ms) => {
      slept.push(ms);
      t += ms;
      return Promise.resolve();
    },
    fetch: () => {
      const a = answers[Math.min(i++, answers.length - 1)];
      return a instanceof Error ? Promise.reject(a) : Promise.resolve(a);
    },
  };
}

test("follow stops when the condition holds, observing every state", async () => {
  const seen: string[] = [];
  const deps = scripted([dm("Pending"), dm("Migrating"), dm("Converged")]);
  const r = await follow(deps, { timeoutMs: 0, done: (d) => d?.status?.phase === "Converged", observe: (d) => void seen.push(d?.status?.phase ?? "gone") });
  assert.equal(r.end, "reached");
  assert.deepEqual(seen, ["Pending", "Migrating", "Converged"]);
  assert.deepEqual(deps.slept, [1000, 1000]);
});

test("follow reports Failed, disappearance and timeout", async () => {
  const never = () => false;
  assert.equal((await follow(scripted([dm("Pending"), dm("Failed")]), { timeoutMs: 0, done: never, observe: () => undefined })).end, "failed");
  assert.equal((await follow(scripted([dm("Pending"), undefined]), { timeoutMs: 0, done: never, observe: () => undefined })).end, "gone");
  const deps = scripted([dm("Pending")]);
  const r = await follow(deps, { timeoutMs: 2500, done: never, observe: () => undefined });
  assert.equal(r.end, "timeout");
  assert.deepEqual(deps.slept, [1000, 1000, 500], "the last sleep ends at the deadline");
});

test("follow rides out retryable errors within its budget, and gives up after it", async () => {
  const flaky = new TransportError("connection refused", "GET", "/x");
  const retries: unknown[] = [];
  const r = await follow(scripted([flaky, flaky, dm("Complete")]), { timeoutMs: 0, done: (d) => d?.status?.phase === "Complete", observe: () => undefined, onRetry: (e) => retries.push(e) });
  assert.equal(r.end, "reached");
  assert.equal(retries.length, 2);
  await assert.rejects(follow(scripted([flaky]), { timeoutMs: 0, errorBudgetMs: 3000, done: () => false, observe: () => undefined }), TransportError);
  await assert.rejects(follow(scripted([new Error("bug")]), { timeoutMs: 0, done: () => false, observe: () => undefined }), /bug/);
});
