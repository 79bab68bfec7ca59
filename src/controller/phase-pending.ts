/**
 * Pending: prerequisites and the full plan until nothing blocks (the cluster stays unlocked and
 * the message names the fix), then lock v1, drain, validate again what changed since the plan,
 * detach foreign owner references, unregister the APIService and look for conflicts in v3 CRD
 * storage. Each step is safe to run again after a crash; on re-entry (datastoreLockedAt set) the
 * checks are not run again inside the locked window.
 */
import { Names, Phase, type DatastoreMigration } from "../api/datastore-migration.js";
import { V1_GROUP } from "../calico/kinds.js";
import { lockV1 } from "../migration/datastore-lock.js";
import { summarizeBlockers } from "../migration/findings.js";
import { loadSchemas, plan, quickChecks } from "../migration/planner.js";
import { crdNames } from "../migration/prerequisites.js";
import { runPass } from "../migration/run-kinds.js";
import { TIER_DRIFT_PREFIX } from "../migration/tier-drift.js";
import { ValidatedSnapshot } from "../migration/validated-snapshot.js";
import { withConflicts } from "./conditions.js";
import { nowIso, patchMetadata, setMessage, writeStatus, type ControllerContext } from "./context.js";
import { engineOptions, remapForeignEnabled } from "./engine.js";
import { detachCalicoOwned, detachForeignDependents } from "./foreign-detach.js";
import { requeueAfter, TerminalError, type Result } from "./outcome.js";
import { ensureApiServiceGone } from "./phase-migrating.js";
import { applyFinalDelta, precopy, precopyCopied, PrecopyState } from "./precopy.js";
import { revalidateAfterDrain } from "./revalidation.js";
import { makeValidator } from "./validation-hook.js";

/** Handles phase Pending (and the empty phase). */
export async function handlePending(ctx: ControllerContext, dm: DatastoreMigration): Promise<Result> {
  // 1. Nothing to migrate: Failed before any finalizer, so deleting the CR never touches v3 data.
  if ((await crdNames(ctx.client, V1_GROUP)).length === 0) {
    throw new TerminalError("no v1 CRDs (crd.projectcalico.org) found - nothing to migrate");
  }
  // 2. The finalizer guards every later step.
  if (!dm.metadata.finalizers?.includes(Names.finalizer)) {
    dm = await patchMetadata(ctx, dm, { finalizers: [...(dm.metadata.finalizers ?? []), Names.finalizer] });
  }
  if (!dm.status?.phase) dm = await writeStatus(ctx, dm, (s) => (s.phase = Phase.Pending));

  // 3. Checks, only while unlocked.
  if (!dm.status?.datastoreLockedAt) {
    const blocked = await blockers(ctx, dm);
    if (blocked) {
      await setMessage(ctx, dm, blocked);
      return requeueAfter(ctx.config.pollIntervalMs);
    }
    // Copy everything before the lock, so that the locked window only carries what changes after.
    if (ctx.config.precopy) {
      const pre = await precopy(ctx, dm);
      dm = pre.dm;
      // The door could not be used: the objects were not validated by the pre-copy's writes, so
      // the plan runs again with the dry-run validation before anything is locked.
      if (dm.metadata.annotations?.[Names.precopy] === PrecopyState.Fallback && pre.next === "lock" && ctx.config.validate && !ctx.state.lastFullPlan?.key.endsWith("/validated")) {
        return requeueAfter(0);
      }
      if (pre.next === "requeue") return requeueAfter(pre.afterMs);
      if (pre.next === "blocked") {
        await setMessage(ctx, dm, pre.message);
        return requeueAfter(ctx.config.pollIntervalMs);
      }
    }
    // Calico objects given a Calico owner during the pre-copy are detached too, still unlocked (a
    // metadata list of v1 would cost the locked window its size).
    if (precopyCopied(dm)) await detachCalicoOwned(ctx, dm, "before the lock");
    await lockV1(ctx.client, dm.metadata.uid ?? "");
    dm = await writeStatus(ctx, dm, (s) => {
      s.datastoreLockedAt = nowIso(ctx);
      s.message = "Waiting for in-flight datastore writes to drain";
    });
    await ctx.events.record(dm, "Normal", "DatastoreLocked", "v1 datastore locked (datastoreReady=false); draining in-flight writes");
  }

  // 4. Drain: components see datastoreReady=false and stop writing.
  const lockedAt = Date.parse(dm.status?.datastoreLockedAt ?? "");
  const remaining = ctx.config.drainPeriodMs - (ctx.clock.now() - lockedAt);
  if (remaining > 0) return requeueAfter(remaining);

  // 5. Lock v1 again: we may have resumed here after a crash, or after WaitingForConflictResolution.
  await lockV1(ctx.client, dm.metadata.uid ?? "");

  // 6. What changed since the plan validated it (or since the pre-copy copied it) is validated
  // again while only the v1 lock is held: a refusal unlocks it and blocks like the plan would,
  // instead of failing in the copy. After a pre-copy, the final delta is that validation: it
  // writes what changed through the door, so that Migrating only verifies.
  if (precopyCopied(dm) && !dm.metadata.annotations?.[Names.savedApiService] && !dm.status?.startedAt) {
    const delta = await applyFinalDelta(ctx, dm);
    dm = delta.dm;
    if (delta.next === "requeue") return requeueAfter(delta.afterMs);
    if (delta.next === "blocked") return requeueAfter(ctx.config.pollIntervalMs);
    if (!precopyCopied(dm) && (await revalidateAfterDrain(ctx, dm))) return requeueAfter(ctx.config.pollIntervalMs);
  } else if (await revalidateAfterDrain(ctx, dm)) return requeueAfter(ctx.config.pollIntervalMs);

  // 7. Foreign dependents lose their Calico owners from the GC's view once the APIService goes
  // (with the pre-copy, most already did before its door opened).
  await detachForeignDependents(ctx, dm, "before unregistering the APIService");
  if (!precopyCopied(dm)) await detachCalicoOwned(ctx, dm, "before unregistering the APIService");

  // 8. Unregister the aggregated APIService (saved first, for an abort).
  ({ dm } = await ensureApiServiceGone(ctx, dm, {
    type: "Normal",
    reason: "APIServiceUnregistered",
    message: "aggregated APIService v3.projectcalico.org unregistered; projectcalico.org/v3 is now served by the CRDs",
  }));

  // 9. Conflicts, read from v3 CRD storage (never through the aggregated API). After a final delta
  // that found none, v3 storage holds only copies in step (the verification re-checks it).
  const inStep = dm.metadata.annotations?.[Names.precopy] === PrecopyState.InStep;
  const pass = inStep ? { conflicts: [] } : await runPass(engineOptions(ctx, dm, await loadSchemas(ctx.client)), "detect");
  if (pass.conflicts.length) {
    const n = pass.conflicts.length;
    await writeStatus(ctx, dm, (s) => {
      s.phase = Phase.WaitingForConflictResolution;
      s.message = `Datastore is locked: resolve ${n} resource conflicts to let the migration continue`;
      s.conditions = withConflicts(s.conditions, pass.conflicts, nowIso(ctx));
    });
    await ctx.events.record(dm, "Warning", "ConflictsFound", `${n} v3 object(s) exist with a different spec; run: calico-migrate conflicts`);
    return requeueAfter(ctx.config.pollIntervalMs);
  }
  await writeStatus(ctx, dm, (s) => {
    s.phase = Phase.Migrating;
    s.startedAt = nowIso(ctx);
    s.message = "Migrating resources";
  });
  await ctx.events.record(dm, "Normal", "Migrating", "copying Calico resources from crd.projectcalico.org/v1 to projectcalico.org/v3");
  return requeueAfter(0);
}

/**
 * The first blocking problem as a status message, or undefined. The cheap checks (prerequisites,
 * built-in tier drift) run every poll, so their fix is seen at the next one; the full plan
 * (conversion, collisions, server-side validation, foreign references) runs only once they pass,
 * at most once per fullPlanInterval — and at once for a new CR or a changed foreign-reference opt-out.
 */
async function blockers(ctx: ControllerContext, dm: DatastoreMigration): Promise<string | undefined> {
  const quick = summarizeBlockers((await quickChecks(ctx.client, ctx.discovery)).findings.filter((f) => f.severity === "blocker"));
  if (quick) return quick;
  const remap = remapForeignEnabled(dm);
  // With the pre-copy, its creates through the door are the server-side validation (a refusal
  // blocks before anything is locked, as the dry run would): the dry run is skipped unless the
  // door could not be used.
  const validate = ctx.config.validate && !(ctx.config.precopy && dm.metadata.annotations?.[Names.precopy] !== PrecopyState.Fallback);
  const key = `${dm.metadata.uid ?? ""}/${remap}/${validate ? "validated" : "copy-validates"}`;
  const last = ctx.state.lastFullPlan;
  if (last && last.key === key && ctx.clock.now() - last.at < ctx.config.fullPlanIntervalMs) return last.message;
  const snapshot = new ValidatedSnapshot();
  const report = await plan({
    client: ctx.client,
    discovery: ctx.discovery,
    scanForeignOwners: remap,
    detectConflicts: false,
    validator: validate ? makeValidator(ctx) : undefined,
    snapshot,
    drainSeconds: ctx.config.drainPeriodMs / 1000,
  });
  ctx.log.info({ durationMs: report.durationMs, objects: report.total, blockers: report.blockers.length, validated: report.validated }, "plan finished");
  const message = summarizeBlockers(report.blockers);
  ctx.state.lastFullPlan = { at: ctx.clock.now(), key, message, snapshot };
  if (!message && dm.status?.message?.startsWith(TIER_DRIFT_PREFIX)) await setMessage(ctx, dm, "Prerequisites met");
  return message;
}
