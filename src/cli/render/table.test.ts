import { test } from "node:test";
import assert from "node:assert/strict";
import { renderMarkdownTable, renderTable } from "./table.js";
import { palette } from "./color.js";

test("renderTable aligns columns three spaces apart under upper-case headers, without trailing blanks", () => {
  assert.equal(renderTable(["kind", "count"], [["Tier", 2], ["GlobalNetworkPolicy", 10]]), [
    "KIND                  COUNT",
    "Tier                  2",
    "GlobalNetworkPolicy   10",
  ].join("\n"));
});

test("renderTable: empty and undefined cells, indentation", () => {
  assert.equal(renderTable(["a", "b", "c"], [["x", undefined, "z"], ["", "y", ""]], { indent: "  " }), [
    "  A   B   C",
    "  x       z",
    "      y",
  ].join("\n"));
});

test("renderTable measures coloured cells by their visible width", () => {
  const p = palette(true);
  const lines = renderTable(["state", "n"], [[p.green("done"), 1], ["pending", 2]]).split("\n");
  assert.equal(lines[1], `${p.green("done")}      1`);
  assert.equal(lines[2], "pending   2");
});

test("renderMarkdownTable escapes pipes", () => {
  assert.equal(renderMarkdownTable(["k", "v"], [["a|b", 1]]), "| k | v |\n| --- | --- |\n| a\\|b | 1 |");
});
