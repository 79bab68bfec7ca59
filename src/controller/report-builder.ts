/**
 * Builds the persisted migration report from a copy pass, its verification and the foreign
 * owner-reference work, and amends it with what a restore to API-server mode left behind.
 */
import type { DatastoreMigration } from "../api/datastore-migration.js";
import type { Reattached } from "../migration/foreign-owners.js";
import type { NotScanned } from "./foreign-scan-status.js";
import type { PassResult } from "../migration/run-kinds.js";
import { migratedCount, skippedCount } from "../migration/types.js";
import { nowIso, type ControllerContext } from "./context.js";
import type { MigrationReport } from "../migration/report-store.js";

/** Saves the report of a finished Migrating pass. */
export async function saveReport(
  ctx: ControllerContext,
  dm: DatastoreMigration,
  r: { copy: PassResult; verify: PassResult; reattached: Reattached[]; notScanned?: NotScanned[] },
): Promise<void> {
  const report: MigrationReport = {
    migration: { name: dm.metadata.name ?? "", uid: dm.metadata.uid ?? "" },
    phase: r.verify.conflicts.length ? "WaitingForConflictResolution" : "Converged",
    updatedAt: nowIso(ctx),
    kinds: r.copy.kinds.map((k) => {
      const v = r.verify.kinds.find((x) => x.kind === k.kind);
      return { kind: k.kind, total: k.total, migrated: migratedCount(k) + (v?.migrated ?? 0), skipped: skippedCount(k), conflicts: v?.conflicts.length ?? k.conflicts.length, durationMs: k.durationMs };
    }),
    renames: r.copy.kinds.flatMap((k) => k.renames),
    conflicts: r.verify.conflicts,
    extras: r.verify.kinds.flatMap((k) => k.extras.map((e) => ({ kind: k.kind, namespace: e.namespace, name: e.name }))),
    droppedOwnerReferences: [...r.copy.kinds, ...r.verify.kinds].flatMap((k) => k.droppedOwnerReferences),
    foreignOwnerReferences: r.reattached.map((x) => ({ resource: x.resource, namespace: x.namespace, name: x.name, remapped: x.remapped.length, dropped: x.dropped.length })),
    notScanned: r.notScanned ?? [],
    // Only a restore leaves built-in tiers behind (saveRestoreReport).
    protectedTiersLeft: [],
    timings: {
      datastoreLockedAt: dm.status?.datastoreLockedAt,
      startedAt: dm.status?.startedAt,
      copySeconds: r.copy.kinds.reduce((n, k) => n + k.durationMs, 0) / 1000,
      verifySeconds: r.verify.kinds.reduce((n, k) => n + k.durationMs, 0) / 1000,
      transitionalRetrySeconds: r.copy.kinds.reduce((n, k) => n + k.transitionalRetryMs, 0) / 1000,
    },
  };
  await ctx.report.save(report);
}

/** What a restore reports: the tiers it had to leave in v3, or the resources it waits to list. */
export type RestoreFindings = { done: true; protectedTiersLeft: string[] } | { done: false; notScanned: NotScanned[] };

/**
 * Amends the saved report (or starts one, for a migration stopped before its copy) with the
 * outcome of a restore: `phase` is the CR's ("Failed") or "Aborted".
 */
export async function saveRestoreReport(ctx: ControllerContext, dm: DatastoreMigration, phase: string, restored: RestoreFindings): Promise<void> {
  const uid = dm.metadata.uid ?? "";
  let saved: MigrationReport | undefined;
  try {
    saved = await ctx.report.load();
  } catch (err) {
    ctx.log.warn({ err: (err as Error).message }, "loading the migration report failed");
  }
  const report: MigrationReport = saved?.migration.uid === uid ? saved : {
    migration: { name: dm.metadata.name ?? "", uid }, phase, updatedAt: "", kinds: [], renames: [], conflicts: [], extras: [],
    droppedOwnerReferences: [], foreignOwnerReferences: [], notScanned: [], protectedTiersLeft: [],
    timings: { datastoreLockedAt: dm.status?.datastoreLockedAt, startedAt: dm.status?.startedAt },
  };
  // A restore that waits is looked at every poll: the report is written only when it changes.
  if (!restored.done && report.phase === phase && JSON.stringify(report.notScanned) === JSON.stringify(restored.notScanned)) return;
  await ctx.report.save({
    ...report,
    phase,
    updatedAt: nowIso(ctx),
    notScanned: restored.done ? [] : restored.notScanned,
    protectedTiersLeft: restored.done ? restored.protectedTiersLeft : report.protectedTiersLeft,
  });
}
