/**
 * A migration as the user sees it (`status`, `watch`, and the end of `start`): phase, message,
 * timeline, per-kind progress, conflict conditions and what to do next.
 */
import {
  ConditionType,
  MIGRATION_NAME,
  phaseOf,
  type Condition,
  type DatastoreMigration,
  type Phase,
  type Progress,
} from "../../api/datastore-migration.js";
import type { Palette } from "./color.js";
import { renderNext } from "./output.js";
import { formatElapsed, formatRate, kindRows, processed, progressBar, type KindRow } from "./progress.js";
import { renderTable } from "./table.js";

/** One point of the timeline. */
export interface TimelineEntry {
  event: string;
  at: string;
}

/** The structured form of `status` (also the JSON/YAML output). */
export interface MigrationView {
  name: string;
  exists: boolean;
  apiVersion?: string;
  uid?: string;
  phase?: Phase;
  message?: string;
  deleting: boolean;
  timeline: TimelineEntry[];
  progress?: Progress;
  kinds: KindRow[];
  conditions: Condition[];
  next: string[];
}

/** The timeline the CR's own timestamps record. */
export function timelineOf(dm: DatastoreMigration): TimelineEntry[] {
  const s = dm.status ?? {};
  const out: TimelineEntry[] = [];
  const add = (event: string, at: string | undefined) => at && out.push({ event, at });
  add("Created", dm.metadata.creationTimestamp);
  add("Datastore locked", s.datastoreLockedAt);
  add("Copy started (Migrating)", s.startedAt);
  add("Complete", s.completedAt);
  add("Deletion requested", dm.metadata.deletionTimestamp);
  return out.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
}

/** Builds the view of a CR (or of its absence). */
export function migrationView(dm: DatastoreMigration | undefined, next: string[], v1Counts?: ReadonlyMap<string, number>): MigrationView {
  if (!dm) return { name: MIGRATION_NAME, exists: false, deleting: false, timeline: [], kinds: [], conditions: [], next };
  return {
    name: dm.metadata.name ?? MIGRATION_NAME,
    exists: true,
    apiVersion: dm.apiVersion,
    uid: dm.metadata.uid,
    phase: phaseOf(dm),
    message: dm.status?.message,
    deleting: Boolean(dm.metadata.deletionTimestamp),
    timeline: timelineOf(dm),
    progress: dm.status?.progress,
    kinds: dm.status?.progress?.typeDetails?.length ? kindRows(dm, v1Counts) : [],
    conditions: dm.status?.conditions ?? [],
    next,
  };
}

/** The phase, coloured by how it stands. */
export function colorPhase(phase: string, p: Palette): string {
  if (phase === "Complete" || phase === "Converged") return p.green(phase);
  if (phase === "Failed") return p.red(phase);
  if (phase === "WaitingForConflictResolution") return p.yellow(phase);
  return p.cyan(phase);
}

/** Options of the kinds table. */
export interface KindTableOptions {
  bars: boolean;
  /** Objects per second per kind, when measured. */
  rates?: ReadonlyMap<string, number | undefined>;
}

/** The per-kind table: counts, and on a terminal a bar per kind. */
export function renderKinds(rows: readonly KindRow[], p: Palette, options: KindTableOptions): string[] {
  const totals = rows.some((r) => r.total !== undefined);
  const headers = ["kind", ...(options.bars ? ["progress"] : []), ...(totals ? ["v1"] : []), "migrated", "skipped", "conflicts", "state", ...(options.rates ? ["rate"] : [])];
  const body = rows.map((r) => {
    const done = processed(r);
    const bar = r.state === "pending" ? progressBar(0, 1) : r.state === "done" ? progressBar(1, 1) : progressBar(done, r.total ?? 0);
    const state = r.state === "done" ? p.green("done") : r.state === "copying" ? p.cyan("copying") : p.dim("pending");
    return [
      r.kind,
      ...(options.bars ? [bar] : []),
      ...(totals ? [r.total] : []),
      r.migrated,
      r.skipped,
      r.conflicts ? p.yellow(String(r.conflicts)) : 0,
      state,
      ...(options.rates ? [r.state === "copying" ? formatRate(options.rates.get(r.kind)) : ""] : []),
    ];
  });
  return renderTable(headers, body, { indent: "  " }).split("\n");
}

/** The lines of `status` (and of watch's terminal frame). */
export function renderStatus(view: MigrationView, p: Palette, options: { bars: boolean; now: number; rates?: ReadonlyMap<string, number | undefined>; overallRate?: number }): string[] {
  if (!view.exists) return [`No DatastoreMigration ${view.name}: no migration has been started.`, ...renderNext(view.next)];
  const out: string[] = [];
  const phase = view.phase ?? "Pending";
  out.push(`${p.bold("Migration")}  ${view.name} (${view.apiVersion ?? ""})`);
  out.push(`${p.bold("Phase")}      ${colorPhase(phase, p)}${view.deleting ? p.yellow("  (deletion requested)") : ""}`);
  out.push(`${p.bold("Message")}    ${view.message ?? ""}`);
  if (view.timeline.length) {
    out.push(p.bold("Timeline"));
    const first = Date.parse(view.timeline[0]!.at);
    for (const t of view.timeline) out.push(`  ${t.at}  ${t.event}${Date.parse(t.at) > first ? p.dim(`  (+${formatElapsed(Date.parse(t.at) - first)})`) : ""}`);
    const last = Date.parse(view.timeline[view.timeline.length - 1]!.at);
    if (phase !== "Complete" && phase !== "Failed") out.push(p.dim(`  now                   ${phase} for ${formatElapsed(options.now - last)} since the last step`));
  }
  const pr = view.progress;
  if (pr?.typeDetails?.length) {
    const rate = options.overallRate !== undefined ? `, ${formatRate(options.overallRate)}` : "";
    out.push(`${p.bold("Progress")}   ${pr.typeProgress ?? `${pr.completedTypes ?? 0} / ${pr.totalTypes ?? 0}`} kinds, ${pr.migrated ?? 0} migrated, ${pr.skipped ?? 0} skipped, ${pr.conflicts ?? 0} conflicts${pr.currentType ? `, copying ${pr.currentType}` : ""}${rate}`);
    out.push(...renderKinds(view.kinds, p, { bars: options.bars, rates: options.rates }));
  }
  const conflicts = view.conditions.filter((c) => c.type === ConditionType.Conflict && c.status === "True");
  const others = view.conditions.filter((c) => c.type !== ConditionType.Conflict && c.status === "True");
  if (conflicts.length) {
    out.push(p.bold(`Conflicts (${conflicts.length} condition${conflicts.length === 1 ? "" : "s"}; calico-migrate conflicts shows each with a diff)`));
    for (const c of conflicts.slice(0, 10)) out.push(`  ${p.yellow(c.reason)}  ${c.message}`);
    if (conflicts.length > 10) out.push(`  … ${conflicts.length - 10} more`);
  }
  if (others.length) {
    out.push(p.bold("Conditions"));
    for (const c of others) out.push(`  ${c.type}  ${c.reason}  ${c.message}`);
  }
  out.push(...renderNext(view.next));
  return out;
}
