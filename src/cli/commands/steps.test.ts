import { test } from "node:test";
import assert from "node:assert/strict";
import type { DatastoreMigration } from "../../api/datastore-migration.js";
import { rollbackSteps } from "./abort.js";
import { remainingSteps } from "./finalize.js";

function dm(phase: string, annotations: Record<string, string> = {}, status: object = {}): DatastoreMigration {
  return { metadata: { name: "v1-to-v3", annotations }, spec: { type: "APIServerToCRDs" }, status: { phase: phase as "Pending", ...status } };
}

test("abort explains what will be undone in each state", () => {
  assert.match(rollbackSteps(dm("Pending")).join("\n"), /Nothing has been changed yet/);
  const locked = rollbackSteps(dm("Pending", {}, { datastoreLockedAt: "2025-01-01T00:00:00Z" })).join("\n");
  assert.match(locked, /unlock the v1 datastore/);
  assert.doesNotMatch(locked, /APIService/);
  const migrating = rollbackSteps(dm("Migrating", { "migration.projectcalico.org/saved-apiservice": "{}" }, { datastoreLockedAt: "x" })).join("\n");
  assert.match(migrating, /delete the v3 objects this migration created/);
  assert.match(migrating, /register the aggregated APIService v3\.projectcalico\.org again/);
  assert.match(migrating, /original Calico owner references/);
  const optedOut = rollbackSteps(dm("Migrating", { "migration.projectcalico.org/remap-foreign-owner-references": "false", "migration.projectcalico.org/saved-apiservice": "{}" })).join("\n");
  assert.doesNotMatch(optedOut, /owner references/);
  assert.match(rollbackSteps(dm("Failed")).join("\n"), /nothing is rolled back/);
});

test("finalize's remaining steps differ for manifest and operator installs", () => {
  assert.match(remainingSteps(false).join("\n"), /kubectl delete namespace calico-apiserver/);
  assert.match(remainingSteps(true).join("\n"), /the operator stops running it/);
  for (const op of [false, true]) {
    assert.match(remainingSteps(op).join("\n"), /projectcalico\.org\/v3/);
    assert.match(remainingSteps(op).join("\n"), /Resume the GitOps sync/);
  }
});
