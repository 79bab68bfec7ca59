/**
 * Progress pieces: bars, rates, elapsed times, clock times, and the per-kind rows of a
 * migration's status (with v1 totals when known).
 */
import type { DatastoreMigration, TypeDetail } from "../../api/datastore-migration.js";
import { Phase, phaseOf } from "../../api/datastore-migration.js";
import { CALICO_KINDS } from "../../calico/kinds.js";

/** One kind's progress. */
export interface KindRow {
  kind: string;
  /** v1 objects of the kind, when counted. */
  total?: number;
  migrated: number;
  skipped: number;
  conflicts: number;
  state: "pending" | "copying" | "done";
}

/** Kinds in copy order (band, then table order), as the controller reports them. */
export const COPY_ORDER: readonly string[] = [...CALICO_KINDS].sort((a, b) => a.order - b.order).map((k) => k.kind);

/** A bar of `width` cells for done/total (full when total is 0). */
export function progressBar(done: number, total: number, width = 20): string {
  const ratio = total <= 0 ? 1 : Math.min(1, Math.max(0, done / total));
  const full = Math.round(ratio * width);
  return "█".repeat(full) + "░".repeat(width - full);
}

/** `12/s`, `1.5/s` or `-` when unknown. */
export function formatRate(perSecond: number | undefined): string {
  if (perSecond === undefined || !Number.isFinite(perSecond)) return "-";
  return perSecond >= 10 ? `${Math.round(perSecond)}/s` : `${Number(perSecond.toFixed(1))}/s`;
}

/** `4s`, `2m05s`, `1h02m`. */
export function formatElapsed(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** `HH:MM:SS` (UTC) of a time. */
export function clockTime(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

/** Objects a kind's counters account for. */
export function processed(d: Pick<TypeDetail, "migrated" | "skipped" | "conflicts">): number {
  return (d.migrated ?? 0) + (d.skipped ?? 0) + (d.conflicts ?? 0);
}

/** The per-kind rows of a migration, in copy order. */
export function kindRows(dm: DatastoreMigration, v1Counts?: ReadonlyMap<string, number>): KindRow[] {
  const progress = dm.status?.progress;
  const details = new Map((progress?.typeDetails ?? []).map((d) => [d.kind, d]));
  const phase = phaseOf(dm);
  const copied = phase === Phase.Converged || phase === Phase.Complete || (details.size > 0 && !progress?.currentType);
  // The kinds of one band are copied together: currentType then lists them, comma-separated.
  const current = new Set((progress?.currentType ?? "").split(",").map((k) => k.trim()).filter(Boolean));
  return COPY_ORDER.map((kind) => {
    const d = details.get(kind);
    const state: KindRow["state"] = copied ? "done" : current.has(kind) ? "copying" : d ? "done" : "pending";
    return { kind, total: v1Counts?.get(kind), migrated: d?.migrated ?? 0, skipped: d?.skipped ?? 0, conflicts: d?.conflicts ?? 0, state };
  });
}

/** Rate over the samples (time, cumulative count) of the last `windowMs`. */
export function rateOf(samples: readonly { at: number; count: number }[], windowMs = 10_000): number | undefined {
  const last = samples[samples.length - 1];
  if (!last) return undefined;
  const first = samples.find((s) => last.at - s.at <= windowMs);
  if (!first || last.at === first.at) return undefined;
  return ((last.count - first.count) * 1000) / (last.at - first.at);
}
