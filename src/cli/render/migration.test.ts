import { test } from "node:test";
import assert from "node:assert/strict";
import type { DatastoreMigration } from "../../api/datastore-migration.js";
import { palette } from "./color.js";
import { migrationView, renderStatus, timelineOf } from "./migration.js";

const dm: DatastoreMigration = {
  apiVersion: "migration.projectcalico.org/v1",
  metadata: { name: "v1-to-v3", uid: "u1", creationTimestamp: "2025-05-01T10:00:00Z" },
  spec: { type: "APIServerToCRDs" },
  status: {
    phase: "Migrating",
    message: "Migrating resources",
    datastoreLockedAt: "2025-05-01T10:00:04Z",
    startedAt: "2025-05-01T10:00:15Z",
    progress: { typeProgress: "1 / 21", completedTypes: 1, totalTypes: 21, currentType: "FelixConfiguration", migrated: 2, skipped: 0, conflicts: 0, typeDetails: [{ kind: "Tier", migrated: 2, skipped: 0, conflicts: 0 }] },
    conditions: [{ type: "Conflict", status: "True", reason: "ResourceMismatch", message: "Tier/x: differs", lastTransitionTime: "2025-05-01T10:00:20Z" }],
  },
};

test("the timeline comes from the CR's own timestamps, in order", () => {
  assert.deepEqual(timelineOf(dm).map((t) => t.event), ["Created", "Datastore locked", "Copy started (Migrating)"]);
});

test("status shows phase, message, timeline, progress, conflicts and next; v1 totals only when counted", () => {
  const lines = renderStatus(migrationView(dm, ["calico-migrate watch --until Converged"]), palette(false), { bars: false, now: Date.parse("2025-05-01T10:00:30Z") });
  const text = lines.join("\n");
  assert.match(text, /^Migration {2}v1-to-v3 \(migration\.projectcalico\.org\/v1\)\nPhase {6}Migrating\nMessage {4}Migrating resources\nTimeline\n/);
  assert.match(text, / {2}2025-05-01T10:00:15Z {2}Copy started \(Migrating\) {2}\(\+15s\)\n {2}now {19}Migrating for 15s since the last step/);
  assert.match(text, /Progress {3}1 \/ 21 kinds, 2 migrated, 0 skipped, 0 conflicts, copying FelixConfiguration/);
  assert.match(text, /\n {2}KIND +MIGRATED +SKIPPED +CONFLICTS +STATE\n {2}Tier +2 +0 +0 +done\n {2}FelixConfiguration +0 +0 +0 +copying\n/);
  assert.match(text, /Conflicts \(1 condition; calico-migrate conflicts shows each with a diff\)\n {2}ResourceMismatch {2}Tier\/x: differs/);
  assert.match(text, /\n\nNext:\n {2}calico-migrate watch --until Converged$/);
  const counted = renderStatus(migrationView(dm, [], new Map([["Tier", 2]])), palette(false), { bars: true, now: 0 }).join("\n");
  assert.match(counted, /KIND +PROGRESS +V1 +MIGRATED/);
  assert.match(counted, /Tier +█{20} +2 +2 /);
});

test("no migration: one sentence and the way to start", () => {
  assert.deepEqual(renderStatus(migrationView(undefined, ["calico-migrate plan"]), palette(false), { bars: false, now: 0 }), [
    "No DatastoreMigration v1-to-v3: no migration has been started.", "", "Next:", "  calico-migrate plan",
  ]);
});
