import { test } from "node:test";
import assert from "node:assert/strict";
import { conflictConditions, conflictMessage, withConflicts, verifiedCondition } from "./conditions.js";
import type { Conflict } from "../migration/types.js";

const now = "2026-11-27T00:00:00Z";
const many = (n: number): Conflict[] => Array.from({ length: n }, (_, i) => ({ kind: "Tier", name: `t${i}`, diffs: [{ path: "spec.order", v1: 1, v3: 2 }] }));

test("no conflicts, no conditions", () => assert.deepEqual(conflictConditions([], now), []));

test("one conflict: one ResourceMismatch condition with Calico's message and the differing path", () => {
  const [c] = conflictConditions(many(1), now);
  assert.equal(c?.type, "Conflict");
  assert.equal(c?.reason, "ResourceMismatch");
  assert.equal(c?.message, "Tier/t0: v3 resource exists with different spec (differs at: spec.order)");
});

test("namespaced objects are named Kind/namespace/name", () => {
  assert.equal(conflictMessage({ kind: "NetworkPolicy", namespace: "ns", name: "p", diffs: [] }), "NetworkPolicy/ns/p: v3 resource exists with different spec");
});

test("exactly 32 conflicts: 32 conditions", () => {
  const cs = conflictConditions(many(32), now);
  assert.equal(cs.length, 32);
  assert.ok(cs.every((c) => c.reason === "ResourceMismatch"));
});

test("200 conflicts: 33 conditions, the last says 168 more", () => {
  const cs = conflictConditions(many(200), now);
  assert.equal(cs.length, 33);
  assert.equal(cs[32]?.reason, "ConflictsOmitted");
  assert.equal(cs[32]?.message, "168 more conflicts not shown");
});

test("33 conflicts: singular summary", () => {
  assert.equal(conflictConditions(many(33), now)[32]?.message, "1 more conflict not shown");
});

test("more than three differing paths are elided", () => {
  const c: Conflict = { kind: "IPPool", name: "p", diffs: ["a", "b", "c", "d"].map((p) => ({ path: `spec.${p}`, v1: 1, v3: 2 })) };
  assert.equal(conflictMessage(c), "IPPool/p: v3 resource exists with different spec (differs at: spec.a, spec.b, spec.c, …)");
});

test("replacing conflicts keeps other condition types", () => {
  const kept = { type: "LockedTooLong", status: "True" as const, reason: "LockedTooLong", message: "x", lastTransitionTime: now };
  const out = withConflicts([kept, ...conflictConditions(many(2), now)], many(1), now);
  assert.equal(out.length, 2);
  assert.equal(out[0]?.type, "LockedTooLong");
});

test("the Verified condition carries the verification's counts: True unless there are conflicts", () => {
  const clean = verifiedCondition({ v1: 5, equal: 5, recreated: 0, conflicts: 0, extras: 0 }, now);
  assert.deepEqual(clean, { type: "Verified", status: "True", reason: "AllEqual", message: "verification: 5 v1 objects, 5 equal in v3, 0 re-created, 0 conflicts, 0 v3 objects without a v1 source", lastTransitionTime: now });
  const recreated = verifiedCondition({ v1: 5, equal: 4, recreated: 1, conflicts: 0, extras: 2 }, now);
  assert.deepEqual([recreated.status, recreated.reason], ["True", "MissingRecreated"]);
  const conflicted = verifiedCondition({ v1: 5, equal: 3, recreated: 0, conflicts: 2, extras: 0 }, now);
  assert.deepEqual([conflicted.status, conflicted.reason, conflicted.message], ["False", "ConflictsFound", "verification: 5 v1 objects, 3 equal in v3, 0 re-created, 2 conflicts, 0 v3 objects without a v1 source"]);
});
