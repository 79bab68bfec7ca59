/**
 * kubectl-style tables: upper-case headers, left-aligned columns separated by three spaces, no
 * trailing blanks; and the Markdown form of the same rows.
 */
import { visibleWidth } from "./color.js";

/** One cell: text, or a number shown as is. */
export type Cell = string | number | undefined;

function text(c: Cell): string {
  return c === undefined ? "" : String(c);
}

/** Renders rows under headers as aligned plain-text lines (no trailing newline). */
export function renderTable(headers: readonly string[], rows: readonly (readonly Cell[])[], options: { indent?: string } = {}): string {
  const all = [headers.map((h) => h.toUpperCase()), ...rows.map((r) => headers.map((_, i) => text(r[i])))];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => visibleWidth(r[i] ?? ""))));
  const indent = options.indent ?? "";
  return all
    .map((r) => indent + r.map((c, i) => (i === r.length - 1 ? c : c + " ".repeat((widths[i] ?? 0) - visibleWidth(c) + 3))).join("").trimEnd())
    .join("\n");
}

function escapeMarkdown(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/** Renders rows as a GitHub-flavoured Markdown table (no trailing newline). */
export function renderMarkdownTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.map(escapeMarkdown).join(" | ")} |`;
  return [line(headers), line(headers.map(() => "---")), ...rows.map((r) => line(headers.map((_, i) => text(r[i]))))].join("\n");
}
