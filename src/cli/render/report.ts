/**
 * The persisted migration report as sections (title, lines, table), rendered as plain text or
 * Markdown: what was migrated, renamed, skipped, conflicting and remapped, with timings.
 */
import type { MigrationReport } from "../../migration/report-store.js";
import { formatElapsed } from "./progress.js";
import { renderMarkdownTable, renderTable, type Cell } from "./table.js";

/** One section of the report. */
export interface Section {
  title: string;
  lines?: string[];
  table?: { headers: string[]; rows: Cell[][] };
}

const where = (ns?: string) => ns ?? "";

/** The report's sections (empty lists are said to be empty, not left out). */
export function reportSections(r: MigrationReport): Section[] {
  const sum = (f: (k: MigrationReport["kinds"][number]) => number) => r.kinds.reduce((n, k) => n + f(k), 0);
  const timings = Object.entries(r.timings).filter(([, v]) => v !== undefined && v !== "");
  const sections: Section[] = [
    {
      title: `Migration report: ${r.migration.name}`,
      lines: [`uid ${r.migration.uid}, phase ${r.phase} when saved, updated ${r.updatedAt}`,
        `${sum((k) => k.total)} v1 objects: ${sum((k) => k.migrated)} migrated, ${sum((k) => k.skipped)} skipped (already equal in v3), ${sum((k) => k.conflicts)} conflicting, ${r.renames.length} renamed`],
    },
    { title: "Timings", table: { headers: ["timing", "value"], rows: timings.map(([k, v]) => [k, typeof v === "number" ? `${v}` : v]) } },
    {
      title: "Per kind",
      table: {
        headers: ["kind", "v1", "migrated", "skipped", "conflicts", "duration"],
        rows: [...r.kinds.map((k) => [k.kind, k.total, k.migrated, k.skipped, k.conflicts, k.durationMs >= 1000 ? formatElapsed(k.durationMs) : `${k.durationMs}ms`]),
          ["TOTAL", sum((k) => k.total), sum((k) => k.migrated), sum((k) => k.skipped), sum((k) => k.conflicts), ""]],
      },
    },
  ];
  const listOrNone = (title: string, headers: string[], rows: Cell[][]): Section => (rows.length ? { title: `${title} (${rows.length})`, table: { headers, rows } } : { title: `${title} (0)`, lines: ["none"] });
  sections.push(listOrNone("Renamed", ["kind", "namespace", "v1 name", "v3 name"], r.renames.map((n) => [n.kind, where(n.namespace), n.from, n.to])));
  sections.push(listOrNone("Conflicting", ["kind", "namespace", "name", "differing fields"], r.conflicts.map((c) => [c.kind, where(c.namespace), c.name, c.reason ?? c.diffs.map((d) => d.path).join(", ")])));
  sections.push(listOrNone("Remapped foreign owner references", ["resource", "namespace", "name", "remapped", "dropped"], r.foreignOwnerReferences.map((f) => [f.resource, where(f.namespace), f.name, f.remapped, f.dropped])));
  sections.push(listOrNone("Dropped Calico owner references (owner not in v1)", ["kind", "namespace", "name", "owner"], r.droppedOwnerReferences.map((d) => [d.kind, where(d.namespace), d.name, `${d.owner.kind}/${d.owner.name}`])));
  sections.push(listOrNone("v3 objects without a v1 source", ["kind", "namespace", "name"], r.extras.map((e) => [e.kind, where(e.namespace), e.name])));
  if (r.notScanned.length) sections.push(listOrNone("Resources not scanned for foreign owner references", ["resource", "reason"], r.notScanned.map((n) => [n.resource, n.reason])));
  if (r.protectedTiersLeft.length) sections.push({ title: "Built-in tiers left in v3 (protected from deletion)", lines: [r.protectedTiersLeft.join(", ")] });
  return sections;
}

/** Plain-text form. */
export function renderReportText(sections: readonly Section[], bold: (s: string) => string = (s) => s): string {
  return sections.map((s) => [bold(s.title), ...(s.lines ?? []).map((l) => `  ${l}`), ...(s.table ? [renderTable(s.table.headers, s.table.rows, { indent: "  " })] : [])].join("\n")).join("\n\n");
}

/** Markdown form (for a change ticket or pull request). */
export function renderReportMarkdown(sections: readonly Section[]): string {
  return sections.map((s, i) => [`${i === 0 ? "#" : "##"} ${s.title}`, "", ...(s.lines ?? []), ...(s.table ? [renderMarkdownTable(s.table.headers, s.table.rows)] : [])].join("\n")).join("\n\n");
}
