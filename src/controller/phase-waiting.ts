/**
 * WaitingForConflictResolution: re-check at a fixed poll (never backoff); once every conflict is
 * resolved, go back through Pending (which skips its checks: the lock is already held).
 */
import { Phase, type DatastoreMigration } from "../api/datastore-migration.js";
import { loadSchemas } from "../migration/planner.js";
import { runPass } from "../migration/run-kinds.js";
import { withConflicts } from "./conditions.js";
import { nowIso, writeStatus, type ControllerContext } from "./context.js";
import { engineOptions } from "./engine.js";
import { lockedWindowCheck } from "./locked-window.js";
import { ensureApiServiceGone } from "./phase-migrating.js";
import { requeueAfter, type Result } from "./outcome.js";

/** How long a detect pass rides out transitional answers when the group switched in an earlier reconcile. */
const SETTLED_TRANSITIONAL_MS = 5_000;

/** Handles phase WaitingForConflictResolution. */
export async function handleWaiting(ctx: ControllerContext, dm: DatastoreMigration): Promise<Result> {
  // Conflicts are read from CRD storage only: the APIService must stay gone.
  const gone = await ensureApiServiceGone(ctx, dm);
  dm = await lockedWindowCheck(ctx, gone.dm);
  // Long after the switch, a 503 means the APIService is back: fail fast, so that the next
  // reconcile unregisters it again, rather than wait it out as a transitional answer.
  const opts = engineOptions(ctx, dm, await loadSchemas(ctx.client));
  const pass = await runPass(gone.unregistered ? opts : { ...opts, transitionalBoundMs: SETTLED_TRANSITIONAL_MS }, "detect");
  const now = nowIso(ctx);
  if (pass.conflicts.length) {
    const n = pass.conflicts.length;
    try {
      await writeStatus(ctx, dm, (s) => {
        s.message = `Datastore is locked: resolve ${n} resource conflicts to let the migration continue`;
        s.conditions = withConflicts(s.conditions, pass.conflicts, now);
      });
    } catch (err) {
      // The poll continues at its cadence; a failed write is only logged.
      ctx.log.warn({ err: (err as Error).message }, "writing conflict status failed");
    }
    return requeueAfter(ctx.config.pollIntervalMs);
  }
  await writeStatus(ctx, dm, (s) => {
    s.phase = Phase.Pending;
    s.message = "Conflicts resolved; resuming the migration";
    s.conditions = withConflicts(s.conditions, [], now);
  });
  await ctx.events.record(dm, "Normal", "ConflictsResolved", "all conflicts resolved; resuming the migration");
  return requeueAfter(0);
}
