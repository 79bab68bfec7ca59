/**
 * docs/acceptance.md maps every scenario of the reference spec's §2 (1–80) to the tests that
 * cover it; this keeps the map true: every scenario once, every named file present, every named
 * title a test in that file.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { repoRoot } from "../harness/binaries.js";

const SCENARIOS = 80;
/** `path/to/file.test.ts` › "title" */
const REFERENCE = /`([^`]+\.test\.ts)` › "([^"]+)"/g;

interface Row {
  n: number;
  covered: string;
}

function rows(): Row[] {
  const text = fs.readFileSync(path.join(repoRoot, "docs/acceptance.md"), "utf8");
  return text.split("\n").filter((l) => /^\| \d+ \|/.test(l)).map((line) => {
    const cells = line.slice(1, -1).split("|").map((c) => c.trim());
    assert.equal(cells.length, 4, `four cells in: ${line}`);
    return { n: Number(cells[0]), covered: cells[2] ?? "" };
  });
}

test("docs/acceptance.md lists every scenario from 1 to 80 exactly once", () => {
  const numbers = rows().map((r) => r.n);
  assert.deepEqual([...numbers].sort((a, b) => a - b), Array.from({ length: SCENARIOS }, (_, i) => i + 1));
});

test("every scenario names at least one test or says N/A with a reason", () => {
  for (const r of rows()) {
    if (r.covered.startsWith("N/A:")) {
      assert.ok(r.covered.length > "N/A: ".length + 10, `scenario ${r.n}: N/A needs a reason`);
      continue;
    }
    assert.ok([...r.covered.matchAll(REFERENCE)].length > 0, `scenario ${r.n}: no test named in "${r.covered}"`);
  }
});

test("every named test file exists and declares the named test", () => {
  const files = new Map<string, string>();
  for (const r of rows()) {
    for (const [, file, title] of r.covered.matchAll(REFERENCE)) {
      const abs = path.join(repoRoot, file ?? "");
      assert.ok(fs.existsSync(abs), `scenario ${r.n}: ${file} does not exist`);
      if (!files.has(abs)) files.set(abs, fs.readFileSync(abs, "utf8"));
      assert.ok(files.get(abs)?.includes(`"${title}"`), `scenario ${r.n}: ${file} has no test "${title}"`);
    }
  }
});
