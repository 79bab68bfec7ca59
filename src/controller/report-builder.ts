/**
 * Builds the persisted migration report from a copy pass, its verification and the foreign
 * owner-reference work.
 */
import type { DatastoreMigration } from "../api/datastore-migration.js";
import type { Reattached } from "../migration/foreign-owners.js";
import type { PassResult } from "../migration/run-kinds.js";
import { nowIso, type ControllerContext } from "./context.js";
import type { MigrationReport } from "../migration/report-store.js";

/** Saves the report of a finished Migrating pass. */
export async function saveReport(
  ctx: ControllerContext,
  dm: DatastoreMigration,
  r: { copy: PassResult; verify: PassResult; reattached: Reattached[] },
): Promise<void> {
  const report: MigrationReport = {
    migration: { name: dm.metadata.name ?? "", uid: dm.metadata.uid ?? "" },
    phase: r.verify.conflicts.length ? "WaitingForConflictResolution" : "Converged",
    updatedAt: nowIso(ctx),
    kinds: r.copy.kinds.map((k) => {
      const v = r.verify.kinds.find((x) => x.kind === k.kind);
      return { kind: k.kind, total: k.total, migrated: k.migrated + (v?.migrated ?? 0), skipped: k.skipped, conflicts: v?.conflicts.length ?? k.conflicts.length, durationMs: k.durationMs };
    }),
    renames: r.copy.kinds.flatMap((k) => k.renames),
    conflicts: r.verify.conflicts,
    extras: r.verify.kinds.flatMap((k) => k.extras.map((e) => ({ kind: k.kind, namespace: e.namespace, name: e.name }))),
    droppedOwnerReferences: [...r.copy.kinds, ...r.verify.kinds].flatMap((k) => k.droppedOwnerReferences),
    foreignOwnerReferences: r.reattached.map((x) => ({ resource: x.resource, namespace: x.namespace, name: x.name, remapped: x.remapped.length, dropped: x.dropped.length })),
    notScanned: [],
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
