/**
 * Locked too long: an Event, a condition and a metric when the window from datastoreLockedAt
 * (to now, or to the v3 unlock) exceeds --locked-warning.
 */
import { ConditionType, type DatastoreMigration } from "../api/datastore-migration.js";
import { formatDuration } from "../kube/duration.js";
import { setCondition } from "./conditions.js";
import { nowIso, writeStatus, type ControllerContext } from "./context.js";

/** Updates the locked-seconds gauge and, past the threshold, flags it once. */
export async function lockedWindowCheck(ctx: ControllerContext, dm: DatastoreMigration): Promise<DatastoreMigration> {
  const lockedAt = Date.parse(dm.status?.datastoreLockedAt ?? "");
  if (Number.isNaN(lockedAt)) return dm;
  const locked = ctx.clock.now() - lockedAt;
  ctx.metrics.lockedSeconds.set(locked / 1000);
  if (locked <= ctx.config.lockedWarningMs) return dm;
  ctx.metrics.lockedTooLong.set(1);
  if (dm.status?.conditions?.some((c) => c.type === ConditionType.LockedTooLong)) return dm;
  const message = `the datastore has been locked for ${formatDuration(locked)}, longer than --locked-warning=${formatDuration(ctx.config.lockedWarningMs)}; new pods cannot get IPs while it is locked`;
  await ctx.events.record(dm, "Warning", "LockedTooLong", message);
  return writeStatus(ctx, dm, (s) => {
    s.conditions = setCondition(s.conditions, ConditionType.LockedTooLong, { type: ConditionType.LockedTooLong, status: "True", reason: "LockedTooLong", message, lastTransitionTime: nowIso(ctx) });
  });
}
