/**
 * Dependencies point one way (docs/architecture.md, module map): api → calico → convert →
 * migration → controller and cli; kube is used by all. In particular the CLI and the controller
 * share logic only through src/migration (and src/api), never through each other, so two copies
 * of one rule (e.g. "switched and rolled out") cannot drift apart. The only exception is the
 * `controller` subcommand, whose job is to run the controller.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { repoRoot } from "../harness/binaries.js";

const SRC = path.join(repoRoot, "src");

/** Folders each folder of src/ must not import from. */
const FORBIDDEN: Record<string, readonly string[]> = {
  kube: ["api", "calico", "convert", "migration", "controller", "cli"],
  api: ["calico", "convert", "migration", "controller", "cli"],
  calico: ["convert", "migration", "controller", "cli"],
  convert: ["migration", "controller", "cli"],
  migration: ["controller", "cli"],
  controller: ["cli"],
  cli: ["controller"],
};

/** Files allowed to cross one boundary, with the reason. */
const EXCEPTIONS: Record<string, string> = {
  "cli/commands/controller.ts": "`calico-migrate controller` runs the controller",
};

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : e.name.endsWith(".ts") ? [p] : [];
  });
}

/** The src/ folder each relative import of the file at `rel` (relative to src/) lands in. */
function importedFolders(rel: string, text: string): { spec: string; folder: string }[] {
  const out: { spec: string; folder: string }[] = [];
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(rel), m[1] ?? ""));
    if (target.startsWith("..")) continue;
    out.push({ spec: m[1] ?? "", folder: target.split("/")[0] ?? "" });
  }
  return out;
}

/** Every import that breaks the direction, as "src/file imports spec (src/folder)". */
function violations(files: readonly { rel: string; text: string }[]): string[] {
  const out: string[] = [];
  for (const { rel, text } of files) {
    if (EXCEPTIONS[rel]) continue;
    const forbidden = FORBIDDEN[rel.split("/")[0] ?? ""] ?? [];
    for (const { spec, folder } of importedFolders(rel, text)) {
      if (forbidden.includes(folder)) out.push(`src/${rel} imports ${spec} (src/${folder})`);
    }
  }
  return out;
}

test("src/cli never imports src/controller (except the controller subcommand), and no layer imports one above it", () => {
  const files = sourceFiles(SRC).map((f) => ({ rel: path.relative(SRC, f).split(path.sep).join("/"), text: fs.readFileSync(f, "utf8") }));
  assert.ok(files.length > 100, `found only ${files.length} source files under ${SRC}`);
  assert.deepEqual(violations(files), [], "move the shared logic down into src/migration (or src/api) and import it from there");
});

test("the check catches a CLI file importing the controller and a controller file importing the CLI", () => {
  assert.deepEqual(violations([
    { rel: "cli/commands/abort.ts", text: 'import { rollbackSafety } from "../../controller/rollback-safety.js";\n' },
    { rel: "cli/lib/rollout.ts", text: 'import { V3_API_GROUP } from "../../controller/components.js";' },
    { rel: "controller/phase-converged.ts", text: 'import type { CliIo } from "../cli/io.js";' },
    { rel: "cli/commands/controller.ts", text: 'import { Manager } from "../../controller/manager.js";' },
    { rel: "cli/session.ts", text: 'import { getMigration } from "../api/read-migration.js";' },
  ]), [
    "src/cli/commands/abort.ts imports ../../controller/rollback-safety.js (src/controller)",
    "src/cli/lib/rollout.ts imports ../../controller/components.js (src/controller)",
    "src/controller/phase-converged.ts imports ../cli/io.js (src/cli)",
  ]);
});
