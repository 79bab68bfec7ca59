import { test } from "node:test";
import assert from "node:assert/strict";
import { tierDrift, tierDriftMessage } from "./tier-drift.js";

const t = (name: string, spec: Record<string, unknown>) => ({ metadata: { name }, spec });

test("conformant built-in tiers and other tiers report nothing", () => {
  assert.deepEqual(tierDrift([t("default", { order: 1_000_000, defaultAction: "Deny" }), t("kube-admin", { order: 1000, defaultAction: "Pass" }),
    t("kube-baseline", { order: 10_000_000, defaultAction: "Pass" }), t("security", { order: 5 })]), []);
});

test("a default tier with neither order nor defaultAction is conformant (defaults on read)", () => {
  assert.deepEqual(tierDrift([t("default", {})]), []);
});

test("kube-admin order 42 names the required order", () => {
  assert.deepEqual(tierDrift([t("kube-admin", { order: 42, defaultAction: "Pass" })]), ['tier "kube-admin" must have order 1000']);
});

test("kube-baseline with Deny, and kube-admin with unset action (read as Deny) need Pass", () => {
  assert.deepEqual(tierDrift([t("kube-baseline", { order: 10_000_000, defaultAction: "Deny" }), t("kube-admin", { order: 1000 })]), [
    'tier "kube-admin" must have defaultAction "Pass"',
    'tier "kube-baseline" must have defaultAction "Pass"',
  ]);
});

test("several drifts come sorted in one message, numbers without exponent", () => {
  const drift = tierDrift([t("default", { defaultAction: "Pass" }), t("kube-admin", { order: 42, defaultAction: "Deny" }), t("kube-baseline", { defaultAction: "Pass" })]);
  assert.deepEqual(drift, [
    'tier "default" must have defaultAction "Deny"',
    'tier "kube-admin" must have defaultAction "Pass"',
    'tier "kube-admin" must have order 1000',
    'tier "kube-baseline" must have order 10000000',
  ]);
  assert.equal(tierDriftMessage(drift).startsWith("Correct the following v1 tiers before migration can start: tier \"default\""), true);
});

test("default order 42 names the required order, without exponent", () => {
  assert.deepEqual(tierDrift([t("default", { order: 42, defaultAction: "Deny" })]), ['tier "default" must have order 1000000']);
});
