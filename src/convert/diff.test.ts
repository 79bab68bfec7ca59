import { test } from "node:test";
import assert from "node:assert/strict";
import { childPath, diffSpecs, jsonEqual } from "./diff.js";

test("diffSpecs reports the deepest differing paths in sorted order", () => {
  const v1 = { order: 1, ingress: [{ action: "Allow", source: { nets: ["10.0.0.0/8"] } }], selector: "all()" };
  const v3 = { selector: "all()", ingress: [{ action: "Deny", source: { nets: ["10.0.0.0/9"] } }], order: 2 };
  assert.deepEqual(diffSpecs(v1, v3), [
    { path: "spec.ingress[0].action", v1: "Allow", v3: "Deny" },
    { path: "spec.ingress[0].source.nets[0]", v1: "10.0.0.0/8", v3: "10.0.0.0/9" },
    { path: "spec.order", v1: 1, v3: 2 },
  ]);
});

test("diffSpecs: absent on one side, extra array elements, type changes", () => {
  assert.deepEqual(diffSpecs({ a: 1 }, { b: { c: 2 } }), [
    { path: "spec.a", v1: 1, v3: undefined },
    { path: "spec.b", v1: undefined, v3: { c: 2 } },
  ]);
  assert.deepEqual(diffSpecs({ l: [1] }, { l: [1, 2] }), [{ path: "spec.l[1]", v1: undefined, v3: 2 }]);
  assert.deepEqual(diffSpecs({ l: [1] }, { l: "1" }), [{ path: "spec.l", v1: [1], v3: "1" }]);
  assert.deepEqual(diffSpecs(null, {}), [{ path: "spec", v1: null, v3: {} }]);
});

test("map keys that are not identifiers are bracketed", () => {
  assert.equal(childPath("spec.podSelector.matchLabels", "app.kubernetes.io/name"), 'spec.podSelector.matchLabels["app.kubernetes.io/name"]');
  assert.equal(childPath("spec", "nat-outgoing"), "spec.nat-outgoing");
  assert.equal(childPath("spec.sequenceNumberForAllocation", "0"), 'spec.sequenceNumberForAllocation["0"]');
});

test("jsonEqual ignores key order, not array order", () => {
  assert.equal(jsonEqual({ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 }), true);
  assert.equal(jsonEqual([1, 2], [2, 1]), false);
  assert.equal(jsonEqual(0, false), false);
});
