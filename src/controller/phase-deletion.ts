/**
 * Deletion of the CR (the finalizer): after Complete, delete the v1 CRDs and hold the finalizer
 * until they are really gone; before Converged, abort and put the cluster back in API-server
 * mode; at Converged, roll back only when it is provably safe, otherwise drive on to Complete
 * (decided once and recorded on the CR); after Failed, restore whatever the migration changed,
 * unless it failed past Converged without a rollback. An abort that cannot find every dependent
 * it detached keeps the finalizer until it can.
 */
import { DeletionDecision, deletionDecisionOf, Names, Phase, phaseOf, type DatastoreMigration } from "../api/datastore-migration.js";
import { V1_GROUP } from "../calico/kinds.js";
import { isNotFound } from "../kube/errors.js";
import { nudgeTerminatingCrd } from "../migration/crd-nudge.js";
import { CRDS } from "../migration/prerequisites.js";
import { patchMetadata, setMessage, type ControllerContext } from "./context.js";
import { done, requeueAfter, type Result } from "./outcome.js";
import { decideAtConverged, decisionReason } from "./converged-decision.js";
import { handleConverged } from "./phase-converged.js";
import { closePrecopy } from "./precopy.js";
import { RESTORE_WAITS, restoreApiServerMode, touchedCluster } from "./restore.js";
import { saveRestoreReport } from "./report-builder.js";

/** Handles a CR with a deletionTimestamp. */
export async function handleDeletion(ctx: ControllerContext, dm: DatastoreMigration): Promise<Result> {
  if (!dm.metadata.finalizers?.includes(Names.finalizer)) return done;
  const phase = phaseOf(dm);
  switch (phase) {
    case Phase.Complete:
      return cleanupV1Crds(ctx, dm);
    case Phase.Failed:
      // Failed at Converged or later without a rollback: the v3 data stays, whatever the deletion.
      if (deletionDecisionOf(dm) === DeletionDecision.Complete) return leaveAsIs(ctx, dm);
      // Failed after the lock (or after the APIService went): deletion still restores everything.
      return touchedCluster(dm) ? abort(ctx, dm) : removeFinalizer(ctx, dm);
    case Phase.Converged: {
      dm = await decideAtConverged(ctx, dm, "deletion");
      if (deletionDecisionOf(dm) === DeletionDecision.Rollback) return abort(ctx, dm);
      const reason = decisionReason(dm);
      return handleConverged(ctx, dm, `Deletion pending: migration is Converged and cannot be rolled back (${reason}). Waiting for completion. `);
    }
    case Phase.Pending:
    case Phase.Migrating:
    case Phase.WaitingForConflictResolution:
      return abort(ctx, dm);
    default: {
      const never: never = phase;
      throw new Error(`unknown migration phase: ${String(never)}`);
    }
  }
}

async function removeFinalizer(ctx: ControllerContext, dm: DatastoreMigration): Promise<Result> {
  try {
    await patchMetadata(ctx, dm, { finalizers: (dm.metadata.finalizers ?? []).filter((f) => f !== Names.finalizer) });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  return done;
}

/** A v1 CRD terminating longer than this gets its cleanup requeued. */
const NUDGE_AFTER_MS = 10_000;

/** After Complete: delete every crd.projectcalico.org CRD; keep the finalizer until none is left. */
async function cleanupV1Crds(ctx: ControllerContext, dm: DatastoreMigration): Promise<Result> {
  dm = await setMessage(ctx, dm, "Cleaning up v1 CRDs");
  let remaining = 0;
  for await (const crd of ctx.client.listItems(CRDS)) {
    if ((crd.spec as { group?: string }).group !== V1_GROUP) continue;
    remaining++;
    if (crd.metadata.deletionTimestamp) {
      // Still terminating after a poll: its cleanup may be backing off (Calico #13677).
      if (await nudgeTerminatingCrd(ctx.client, crd, ctx.clock, NUDGE_AFTER_MS)) ctx.log.info({ crd: crd.metadata.name }, "requeued the cleanup of a terminating v1 CRD");
      continue;
    }
    try {
      await ctx.client.delete(CRDS, crd.metadata.name ?? "");
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  if (remaining > 0) {
    await setMessage(ctx, dm, `Cleaning up v1 CRDs: waiting for ${remaining} crd.projectcalico.org CRD(s) to be removed`);
    return requeueAfter(Math.min(ctx.config.pollIntervalMs, 5_000));
  }
  await ctx.events.record(dm, "Normal", "CleanedUp", "all crd.projectcalico.org CRDs deleted");
  return removeFinalizer(ctx, dm);
}

/** Abort: API server mode restored (see restore.ts), the report told what was left, then the finalizer goes. */
async function abort(ctx: ControllerContext, dm: DatastoreMigration): Promise<Result> {
  // A waiting abort keeps saying why it waits (no two writes per poll).
  if (!dm.status?.message?.startsWith(`Aborting: ${RESTORE_WAITS}`)) dm = await setMessage(ctx, dm, "Aborting: removing the v3 objects this migration created and restoring API server mode");
  const restored = await restoreApiServerMode(ctx, dm);
  dm = restored.dm;
  await saveRestoreReport(ctx, dm, "Aborted", restored);
  if (!restored.done) {
    // The finalizer stays until every detached dependent can be found and given back its owners.
    await setMessage(ctx, dm, `Aborting: ${restored.message}`);
    return requeueAfter(ctx.config.pollIntervalMs);
  }
  const left = restored.protectedTiersLeft;
  await ctx.events.record(dm, "Normal", "Aborted",
    `migration aborted: API server mode restored, v1 datastore unlocked${left.length ? `; built-in tiers left in v3 (protected from deletion): ${left.join(", ")}` : ""}`);
  return removeFinalizer(ctx, dm);
}

/** A Failed migration that was not rolled back: the finalizer goes, everything else stays as it is. */
async function leaveAsIs(ctx: ControllerContext, dm: DatastoreMigration): Promise<Result> {
  // The pre-copy's door is not part of what is kept (a Failed reconcile may not have closed it yet).
  dm = await closePrecopy(ctx, dm);
  await ctx.events.record(dm, "Warning", "DeletedWithoutRollback",
    `deleted after failing past Converged; nothing is rolled back (${decisionReason(dm)}): the v3 data, the v1 CRDs and the v1 lock are left as they are`);
  return removeFinalizer(ctx, dm);
}
