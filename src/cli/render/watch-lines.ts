/**
 * The plain-text form of following a migration: one line per change (phase, message, a kind's
 * counters, deletion), safe for CI logs; pure, so the lines can be tested without a cluster.
 */
import { phaseOf, type DatastoreMigration } from "../../api/datastore-migration.js";
import { clockTime, formatElapsed, formatRate, kindRows, processed, type KindRow } from "./progress.js";

/** What the lines compare between two observations. */
export interface Snapshot {
  at: number;
  exists: boolean;
  phase: string;
  message: string;
  deleting: boolean;
  kinds: KindRow[];
  completedTypes: number;
  totalTypes: number;
}

/** The snapshot of an observation (undefined: the CR does not exist). */
export function snapshotOf(dm: DatastoreMigration | undefined, at: number, v1Counts?: ReadonlyMap<string, number>): Snapshot {
  if (!dm) return { at, exists: false, phase: "", message: "", deleting: false, kinds: [], completedTypes: 0, totalTypes: 0 };
  const p = dm.status?.progress;
  return {
    at,
    exists: true,
    phase: phaseOf(dm),
    message: dm.status?.message ?? "",
    deleting: Boolean(dm.metadata.deletionTimestamp),
    kinds: p?.typeDetails?.length ? kindRows(dm, v1Counts) : [],
    completedTypes: p?.completedTypes ?? 0,
    totalTypes: p?.totalTypes ?? 0,
  };
}

function kindLine(k: KindRow, s: Snapshot, rate: number | undefined): string {
  const of = k.total !== undefined ? `${processed(k)}/${k.total}` : `${processed(k)}`;
  const r = k.state === "copying" && rate !== undefined ? `, ${formatRate(rate)}` : "";
  return `${k.kind} ${of} ${k.state} (${k.migrated} migrated, ${k.skipped} skipped, ${k.conflicts} conflicts), ${s.completedTypes}/${s.totalTypes} kinds${r}`;
}

/**
 * The lines for the change from `prev` to `cur` (everything, when there is no `prev`); `phaseSince`
 * is when the previous phase was first seen, for "after 4s"; `rate` is objects/s of the current kind.
 */
export function changeLines(prev: Snapshot | undefined, cur: Snapshot, options: { phaseSince?: number; rate?: number } = {}): string[] {
  const t = clockTime(cur.at);
  if (!cur.exists) return prev?.exists === false ? [] : [`${t} DatastoreMigration is gone`];
  const out: string[] = [];
  if (!prev || !prev.exists || prev.phase !== cur.phase) {
    const after = prev?.exists && options.phaseSince !== undefined ? ` (after ${formatElapsed(cur.at - options.phaseSince)} in ${prev.phase})` : "";
    out.push(`${t} phase ${cur.phase}${after}${cur.message ? `: ${cur.message}` : ""}`);
  } else if (prev.message !== cur.message) {
    out.push(`${t} message: ${cur.message}`);
  }
  if (cur.deleting && !prev?.deleting) out.push(`${t} deletion requested: the controller is acting on it`);
  const before = new Map((prev?.kinds ?? []).map((k) => [k.kind, k]));
  for (const k of cur.kinds) {
    const b = before.get(k.kind);
    if (k.state === "pending" && !b) continue;
    // A kind's start, and kinds with nothing to copy, make no noise.
    if (k.state === "copying" && processed(k) === 0) continue;
    if (k.state === "done" && processed(k) === 0 && (!b || b.state !== "done")) continue;
    if (b && b.state === k.state && processed(b) === processed(k) && b.total === k.total) continue;
    // A kind first seen already done (watch attached late) is summarised once below.
    if (!prev && k.state === "done") continue;
    out.push(`${t} ${kindLine(k, cur, options.rate)}`);
  }
  if (!prev && cur.kinds.some((k) => k.state === "done")) {
    const done = cur.kinds.filter((k) => k.state === "done");
    const sum = (f: (k: KindRow) => number) => done.reduce((n, k) => n + f(k), 0);
    out.push(`${t} ${done.length} kind(s) copied so far: ${sum((k) => k.migrated)} migrated, ${sum((k) => k.skipped)} skipped, ${sum((k) => k.conflicts)} conflicts`);
  }
  return out;
}
