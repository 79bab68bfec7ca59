import { test } from "node:test";
import assert from "node:assert/strict";
import { diffLines, unifiedDiff } from "./diff.js";

test("unifiedDiff of equal texts is empty", () => {
  assert.equal(unifiedDiff("a\nb\n", "a\nb\n", { from: "x", to: "y" }), "");
});

test("unifiedDiff prints diff -u hunks with three lines of context", () => {
  const a = "spec:\n  order: 100\n  selector: all()\n  types:\n    - Ingress\n";
  const b = "spec:\n  order: 200\n  selector: all()\n  types:\n    - Ingress\n";
  assert.equal(unifiedDiff(a, b, { from: "v1 (converted) GlobalNetworkPolicy foo", to: "v3 GlobalNetworkPolicy foo" }), [
    "--- v1 (converted) GlobalNetworkPolicy foo",
    "+++ v3 GlobalNetworkPolicy foo",
    "@@ -1,5 +1,5 @@",
    " spec:",
    "-  order: 100",
    "+  order: 200",
    "   selector: all()",
    "   types:",
    "     - Ingress",
  ].join("\n"));
});

test("unifiedDiff splits distant changes into separate hunks", () => {
  const a = Array.from({ length: 20 }, (_, i) => `l${i}`).join("\n");
  const b = a.replace("l1\n", "L1\n").replace("l18", "L18");
  const out = unifiedDiff(a, b, { from: "a", to: "b" }).split("\n");
  assert.deepEqual(out.filter((l) => l.startsWith("@@")), ["@@ -1,5 +1,5 @@", "@@ -16,5 +16,5 @@"]);
});

test("unifiedDiff: insertion into an empty text and deletion of everything", () => {
  assert.equal(unifiedDiff("", "x\n", { from: "a", to: "b" }), "--- a\n+++ b\n@@ -0,0 +1 @@\n+x");
  assert.equal(unifiedDiff("x\ny\n", "", { from: "a", to: "b" }), "--- a\n+++ b\n@@ -1,2 +0,0 @@\n-x\n-y");
});

test("diffLines keeps the common subsequence", () => {
  assert.deepEqual(diffLines("a\nb\nc", "a\nc\nd").map((l) => `${l.op}${l.text}`), [" a", "-b", " c", "+d"]);
});
