/**
 * Structured output (-o json / -o yaml) and the "Next:" block every command ends with.
 */
import YAML from "yaml";
import type { Output } from "../io.js";

/** The output formats of read commands. */
export const OUTPUT_FORMATS = ["table", "json", "yaml"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Writes a value as JSON (two-space indent) or YAML. */
export function writeStructured(out: Output, value: unknown, format: "json" | "yaml"): void {
  out.write(format === "json" ? `${JSON.stringify(value, null, 2)}\n` : YAML.stringify(value, { lineWidth: 0 }));
}

/** The "Next:" block: one command per line, indented, or nothing when there is none. */
export function renderNext(next: readonly string[]): string[] {
  if (!next.length) return [];
  return ["", "Next:", ...next.map((n) => `  ${n}`)];
}

/** The commands of a "Next:" block in printed output (comments after `#` dropped). */
export function parseNext(text: string): string[] {
  const lines = text.split("\n");
  const at = lines.lastIndexOf("Next:");
  if (at < 0) return [];
  const out: string[] = [];
  for (const line of lines.slice(at + 1)) {
    if (!line.startsWith("  ")) break;
    out.push(line.replace(/\s+#.*$/, "").trim());
  }
  return out;
}
