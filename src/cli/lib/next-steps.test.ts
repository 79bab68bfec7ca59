import { test } from "node:test";
import assert from "node:assert/strict";
import type { DatastoreMigration } from "../../api/datastore-migration.js";
import { nextSteps, reached } from "./next-steps.js";
import { parseNext, renderNext } from "../render/output.js";

function dm(phase: string, extra: Partial<DatastoreMigration["metadata"]> = {}, status: object = {}): DatastoreMigration {
  return { metadata: { name: "v1-to-v3", ...extra }, spec: { type: "APIServerToCRDs" }, status: { phase: phase as "Pending", ...status } };
}

const manifest = { operatorManaged: false };
const operator = { operatorManaged: true };

test("next steps name the exact commands for each phase", () => {
  assert.deepEqual(nextSteps(undefined, manifest), ["calico-migrate plan", "calico-migrate start"]);
  assert.deepEqual(nextSteps(dm("Pending", {}, { datastoreLockedAt: "2025-01-01T00:00:00Z" }), manifest), ["calico-migrate watch --until Converged"]);
  assert.match(nextSteps(dm("Pending", {}, { message: "Correct the following v1 tiers" }), manifest)[0] ?? "", /^calico-migrate plan/);
  assert.deepEqual(nextSteps(dm("Migrating"), operator), ["calico-migrate watch"]);
  assert.match(nextSteps(dm("WaitingForConflictResolution"), manifest)[0] ?? "", /^calico-migrate conflicts/);
  assert.deepEqual(nextSteps(dm("Converged"), manifest), ["calico-migrate switch-components", "calico-migrate finalize"]);
  assert.match(nextSteps(dm("Converged"), operator)[0] ?? "", /operator switches the components/);
  assert.deepEqual(nextSteps(dm("Complete"), manifest), ["calico-migrate finalize"]);
  assert.match(nextSteps(dm("Migrating", { deletionTimestamp: "x" }), manifest)[0] ?? "", /^calico-migrate abort --yes/);
  assert.match(nextSteps(dm("Complete", { deletionTimestamp: "x" }), manifest)[0] ?? "", /^calico-migrate finalize --yes/);
});

test("reached orders phases and never counts Failed", () => {
  assert.ok(reached("Converged", "Converged"));
  assert.ok(reached("Complete", "Converged"));
  assert.ok(!reached("WaitingForConflictResolution", "Converged"));
  assert.ok(reached("WaitingForConflictResolution", "Migrating"));
  assert.ok(!reached("Failed", "Migrating"));
});

test("parseNext reads back the printed Next: block without comments", () => {
  const text = ["report line", ...renderNext(["calico-migrate switch-components", "calico-migrate watch   # until Complete"])].join("\n");
  assert.deepEqual(parseNext(text), ["calico-migrate switch-components", "calico-migrate watch"]);
  assert.deepEqual(parseNext("no block"), []);
});
