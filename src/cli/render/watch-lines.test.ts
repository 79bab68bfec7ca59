import { test } from "node:test";
import assert from "node:assert/strict";
import type { DatastoreMigration } from "../../api/datastore-migration.js";
import { changeLines, snapshotOf } from "./watch-lines.js";

const T0 = Date.parse("2025-05-01T10:00:00Z");

function dm(phase: string, message: string, progress?: NonNullable<DatastoreMigration["status"]>["progress"], deleting = false): DatastoreMigration {
  return {
    metadata: { name: "v1-to-v3", ...(deleting ? { deletionTimestamp: "2025-05-01T10:00:09Z" } : {}) },
    spec: { type: "APIServerToCRDs" },
    status: { phase: phase as "Pending", message, progress },
  };
}

test("the first observation prints the phase and message", () => {
  assert.deepEqual(changeLines(undefined, snapshotOf(dm("Pending", "Waiting for in-flight datastore writes to drain"), T0)), [
    "10:00:00 phase Pending: Waiting for in-flight datastore writes to drain",
  ]);
});

test("a phase without a message yet has no dangling colon", () => {
  assert.deepEqual(changeLines(undefined, snapshotOf(dm("Pending", ""), T0)), ["10:00:00 phase Pending"]);
});

test("one line per change: phase (with time in the previous phase), message, a kind's counters", () => {
  const a = snapshotOf(dm("Pending", "Waiting for in-flight datastore writes to drain"), T0);
  const b = snapshotOf(dm("Migrating", "Migrating resources", { completedTypes: 1, totalTypes: 21, currentType: "FelixConfiguration", typeDetails: [{ kind: "Tier", migrated: 2 }] }), T0 + 4000, new Map([["Tier", 2], ["FelixConfiguration", 1]]));
  assert.deepEqual(changeLines(a, b, { phaseSince: T0 }), [
    "10:00:04 phase Migrating (after 4s in Pending): Migrating resources",
    "10:00:04 Tier 2/2 done (2 migrated, 0 skipped, 0 conflicts), 1/21 kinds",
  ]);
  assert.deepEqual(changeLines(b, { ...b, at: T0 + 5000 }), [], "nothing changed, nothing printed");
  const c = snapshotOf(dm("Migrating", "Migrating resources", { completedTypes: 1, totalTypes: 21, currentType: "FelixConfiguration", typeDetails: [{ kind: "Tier", migrated: 2 }, { kind: "FelixConfiguration", skipped: 1 }] }), T0 + 6000, new Map([["Tier", 2], ["FelixConfiguration", 1]]));
  assert.deepEqual(changeLines(b, c, { rate: 12 }), ["10:00:06 FelixConfiguration 1/1 copying (0 migrated, 1 skipped, 0 conflicts), 1/21 kinds, 12/s"]);
  const d = snapshotOf(dm("Migrating", "Retrying: the API server is busy"), T0 + 7000);
  assert.deepEqual(changeLines(snapshotOf(dm("Migrating", "Migrating resources"), T0), d), ["10:00:07 message: Retrying: the API server is busy"]);
});

test("deletion and disappearance are reported once", () => {
  const a = snapshotOf(dm("Migrating", "Migrating resources"), T0);
  const b = snapshotOf(dm("Migrating", "Aborting: removing the v3 objects", undefined, true), T0 + 1000);
  assert.deepEqual(changeLines(a, b), ["10:00:01 message: Aborting: removing the v3 objects", "10:00:01 deletion requested: the controller is acting on it"]);
  const gone = snapshotOf(undefined, T0 + 2000);
  assert.deepEqual(changeLines(b, gone), ["10:00:02 DatastoreMigration is gone"]);
  assert.deepEqual(changeLines(gone, { ...gone, at: T0 + 3000 }), []);
});

test("attaching late summarises the kinds already copied and skips empty kinds", () => {
  const s = snapshotOf(dm("Converged", "Waiting for user", { completedTypes: 21, totalTypes: 21, currentType: "", typeDetails: [{ kind: "Tier", migrated: 2 }, { kind: "IPPool", skipped: 1, conflicts: 1 }] }), T0);
  assert.deepEqual(changeLines(undefined, s), ["10:00:00 phase Converged: Waiting for user", "10:00:00 21 kind(s) copied so far: 2 migrated, 1 skipped, 1 conflicts"]);
});
