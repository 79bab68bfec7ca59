/**
 * Conflicts as text: each with its differing fields, a coloured unified diff (v1 converted → v3)
 * and the commands that resolve it either way.
 */
import type { ConflictDetail } from "../conflicts.js";
import type { Palette } from "./color.js";

/** A unified diff with `-` red, `+` green and hunk headers cyan. */
export function colorDiff(diff: string, p: Palette): string[] {
  return diff.split("\n").map((l) => {
    if (l.startsWith("---") || l.startsWith("+++")) return p.bold(l);
    if (l.startsWith("@@")) return p.cyan(l);
    if (l.startsWith("-")) return p.red(l);
    if (l.startsWith("+")) return p.green(l);
    return l;
  });
}

const indent = (lines: readonly string[], by: string) => lines.map((l) => (l ? by + l : l));

/** The lines of one conflict. */
export function renderConflict(c: ConflictDetail, i: number, n: number, p: Palette): string[] {
  const where = c.namespace ? `${c.namespace}/${c.name}` : c.name;
  const out = [p.bold(`Conflict ${i + 1}/${n}: ${c.kind} ${where}`) + (c.v1Name && c.v1Name !== c.name ? `  (v1 name: ${c.v1Name})` : "")];
  if (c.reason) {
    out.push(`  ${c.reason}`, "  Resolve the owner's conflict first; this object follows once it is resolved.");
    return out;
  }
  if (c.fields.length) out.push(`  differing fields: ${c.fields.map((f) => f.path).join(", ")}`);
  if (c.diff) out.push(...indent(colorDiff(c.diff, p), "  "));
  out.push("  Keep the v1 version — delete the v3 object; the migration copies it from v1:");
  out.push(`    ${c.resolve.deleteV3}`);
  if (c.resolve.replaceV3) {
    out.push("  or overwrite the v3 object in place with the v1 version (keeps its uid; replace, not apply, so fields only v3 has go too):");
    out.push(...indent(c.resolve.replaceV3.split("\n"), "    "));
  }
  out.push(`  or edit it by hand until it matches:  ${c.resolve.editV3}`);
  if (c.resolve.editV1) {
    out.push("  Keep the v3 version instead — make the v1 object match it (the controller compares again on its next poll):");
    out.push(`    ${c.resolve.editV1}`);
  }
  return out;
}
