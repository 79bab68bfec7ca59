/**
 * Right after the drain, before anything but the v1 lock is taken: the objects that changed since
 * the plan validated them (during the drain, or in the minute a passing plan is reused) are
 * validated again, so that an object the v3 API would refuse is found while the window can still
 * end at no cost — v1 unlocked, the CR back to Pending's checks with the object and its fix.
 */
import { Names, type DatastoreMigration } from "../api/datastore-migration.js";
import { unlockV1 } from "../migration/datastore-lock.js";
import { summarizeBlockers } from "../migration/findings.js";
import { revalidateChanged, ValidatedSnapshot } from "../migration/validated-snapshot.js";
import { writeStatus, type ControllerContext } from "./context.js";
import { remapForeignEnabled } from "./engine.js";
import { makeValidator } from "./validation-hook.js";

/**
 * Re-validates what changed since this CR's last passing plan (everything, when this process has
 * not planned it: a restart lost the snapshot). Returns the CR, unlocked and with the blocking
 * message, when something is refused; undefined when the migration may go on. Only while nothing
 * but the v1 lock is taken (a re-entry from WaitingForConflictResolution is past that point).
 */
export async function revalidateAfterDrain(ctx: ControllerContext, dm: DatastoreMigration): Promise<DatastoreMigration | undefined> {
  // Past the APIService (or, without one, past the start of the copy) unlocking v1 alone would
  // not end the window: there the copy's own bound applies.
  if (!ctx.config.validate || dm.metadata.annotations?.[Names.savedApiService] || dm.status?.startedAt) return undefined;
  const uid = dm.metadata.uid ?? "";
  const key = `${uid}/${remapForeignEnabled(dm)}/validated`;
  const last = ctx.state.lastFullPlan;
  const snapshot = last?.key === key && last.snapshot ? last.snapshot : new ValidatedSnapshot();
  const started = ctx.clock.now();
  const { changed, blockers } = await revalidateChanged({ client: ctx.client, snapshot, validator: makeValidator(ctx) });
  ctx.log.info({ changed, rejected: blockers.length, validatedBefore: snapshot.size, durationMs: ctx.clock.now() - started }, "changed objects re-validated");
  const summary = summarizeBlockers(blockers);
  if (!summary) return undefined;
  const message = `${summary} (changed after the plan validated it: the v1 datastore was unlocked again and nothing else was changed; the migration goes on once the plan passes)`;
  // Unlock first: a crash before the status write finds datastoreLockedAt and comes here again.
  await unlockV1(ctx.client, uid);
  // The next polls show this message; the full plan runs again after fullPlanInterval.
  ctx.state.lastFullPlan = { at: ctx.clock.now(), key, message };
  dm = await writeStatus(ctx, dm, (s) => {
    delete s.datastoreLockedAt;
    s.message = message;
  });
  await ctx.events.record(dm, "Warning", "ChangedObjectRefused", message);
  return dm;
}
