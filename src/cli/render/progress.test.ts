import { test } from "node:test";
import assert from "node:assert/strict";
import type { DatastoreMigration } from "../../api/datastore-migration.js";
import { COPY_ORDER, formatElapsed, formatRate, kindRows, progressBar, rateOf } from "./progress.js";

test("progressBar fills in proportion, and fully for an empty kind", () => {
  assert.equal(progressBar(5, 10, 10), "█████░░░░░");
  assert.equal(progressBar(0, 0, 4), "████");
  assert.equal(progressBar(12, 10, 4), "████");
});

test("formatRate and formatElapsed", () => {
  assert.equal(formatRate(undefined), "-");
  assert.equal(formatRate(2.345), "2.3/s");
  assert.equal(formatRate(249.6), "250/s");
  assert.equal(formatElapsed(4_400), "4s");
  assert.equal(formatElapsed(125_000), "2m05s");
  assert.equal(formatElapsed(3_720_000), "1h02m");
});

test("rateOf uses the samples of the window", () => {
  assert.equal(rateOf([]), undefined);
  assert.equal(rateOf([{ at: 0, count: 0 }]), undefined);
  assert.equal(rateOf([{ at: 0, count: 0 }, { at: 1000, count: 50 }, { at: 2000, count: 150 }]), 75);
  assert.equal(rateOf([{ at: 0, count: 0 }, { at: 20_000, count: 100 }, { at: 21_000, count: 150 }], 10_000), 50);
});

function dm(status: DatastoreMigration["status"]): DatastoreMigration {
  return { metadata: { name: "v1-to-v3" }, spec: { type: "APIServerToCRDs" }, status };
}

test("kindRows: done, copying and pending kinds in copy order, with v1 totals", () => {
  const rows = kindRows(dm({
    phase: "Migrating",
    progress: { currentType: "IPPool", typeDetails: [{ kind: "Tier", migrated: 2 }, { kind: "FelixConfiguration", skipped: 1 }, { kind: "IPPool", migrated: 3 }] },
  }), new Map([["IPPool", 10]]));
  assert.equal(rows.length, COPY_ORDER.length);
  assert.deepEqual(rows.find((r) => r.kind === "Tier"), { kind: "Tier", total: undefined, migrated: 2, skipped: 0, conflicts: 0, state: "done" });
  assert.equal(rows.find((r) => r.kind === "IPPool")?.state, "copying");
  assert.equal(rows.find((r) => r.kind === "IPPool")?.total, 10);
  assert.equal(rows.find((r) => r.kind === "IPAMBlock")?.state, "pending");
  assert.equal(rows[rows.length - 1]?.kind, "CalicoNodeStatus");
});

test("kindRows: every kind of a band copied together is copying", () => {
  const rows = kindRows(dm({ phase: "Migrating", progress: { currentType: "IPPool, IPReservation", typeDetails: [{ kind: "Tier", migrated: 2 }] } }));
  assert.deepEqual(rows.filter((r) => r.state === "copying").map((r) => r.kind), ["IPPool", "IPReservation"]);
});

test("kindRows: every kind is done once the copy finished", () => {
  const rows = kindRows(dm({ phase: "Converged", progress: { currentType: "", typeDetails: [{ kind: "Tier", migrated: 1 }] } }));
  assert.ok(rows.every((r) => r.state === "done"));
});
