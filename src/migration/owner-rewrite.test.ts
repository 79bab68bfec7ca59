/**
 * rebuildOwnerReferences: the recorded originals come back (mapped) in their order, our own earlier
 * re-attach is replaced rather than doubled, and every reference someone else added stays.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { OwnerReference } from "../kube/object.js";
import { rebuildOwnerReferences } from "./owner-rewrite.js";

const keeper: OwnerReference = { apiVersion: "v1", kind: "ConfigMap", name: "keeper", uid: "k" };
const added: OwnerReference = { apiVersion: "apps/v1", kind: "Deployment", name: "added", uid: "d", controller: true };
const tier: OwnerReference = { apiVersion: "projectcalico.org/v3", kind: "Tier", name: "security", uid: "v1-uid", controller: true };
const v3Tier: OwnerReference = { ...tier, uid: "v3-uid" };
const toV3 = (o: OwnerReference) => (o.name === "security" ? v3Tier : undefined);

test("re-attach: originals in order, mapped to v3, with a reference added meanwhile kept", () => {
  const other = { ...added, controller: false };
  assert.deepEqual(rebuildOwnerReferences([keeper, other], [keeper, tier], toV3), [keeper, v3Tier, other]);
});

test("re-attach again: our earlier v3 reference is replaced, not doubled", () => {
  assert.deepEqual(rebuildOwnerReferences([keeper, { ...v3Tier, uid: "stale" }], [keeper, tier], toV3), [keeper, v3Tier]);
});

test("an original someone removed meanwhile is not brought back, unless it is a Calico one we took off", () => {
  assert.deepEqual(rebuildOwnerReferences([], [keeper, tier], (o) => o), [tier]);
});

test("an owner with no v3 twin is left out; anything else stays", () => {
  assert.deepEqual(rebuildOwnerReferences([keeper], [keeper, tier], () => undefined), [keeper]);
});

test("restore: our v3 reference gives way to the original; a controller added meanwhile keeps that role", () => {
  assert.deepEqual(rebuildOwnerReferences([v3Tier, added], [tier], (o) => o), [{ ...tier, controller: false }, added]);
});
