/**
 * Back to API-server mode, from any point of a migration: the steps run in an order that never
 * lets the garbage collector delete a foreign dependent, and each is safe to repeat. v3 storage
 * is only reachable while the APIService is unregistered, so the v3 steps run only then; one
 * registered again in front of this migration's v3 objects is taken away for them and restored
 * after. Used by an abort, by a Failed migration and by a locked window that must end early.
 */
import { ConditionReason, ConditionType, DeletionDecision, deletionDecisionOf, Names, Phase, phaseOf, type DatastoreMigration } from "../api/datastore-migration.js";
import { CALICO_KINDS, v3Resource } from "../calico/kinds.js";
import { ApiError, describeError, isForbidden, isNotFound } from "../kube/errors.js";
import { APISERVICE_NAME, getAggregatedApiService, restoreApiService } from "../migration/apiservice.js";
import { getV3ClusterInformation, restoreV3ClusterInformation, unlockV1 } from "../migration/datastore-lock.js";
import { anyCalicoDetached, restoreCalicoDependents } from "../migration/calico-dependents.js";
import { readAggregatedApi, redetachForeignOwners, restoreForeignOwners } from "../migration/foreign-owners.js";
import { closeDoor } from "../migration/precopy-door.js";
import { ensureApiServiceGone } from "./apiservice-gone.js";
import { nowIso, patchMetadata, setMessage, writeStatus, type ControllerContext } from "./context.js";
import { decideAtConverged, decisionReason } from "./converged-decision.js";
import { remapForeignEnabled } from "./engine.js";
import { checkDetachedScannable, notScannedMessage, type NotScanned } from "./foreign-scan-status.js";
import { precopyStarted, removePrecopy } from "./precopy.js";
import { saveRestoreReport } from "./report-builder.js";
import { settleOn } from "./settle.js";

/** How the message of a restore that waits begins. */
export const RESTORE_WAITS = "Restoring API server mode waits";

/** A restore either finished (the built-in tiers it had to leave in v3 listed) or must wait. */
export type Restored =
  | { done: true; dm: DatastoreMigration; protectedTiersLeft: string[] }
  | { done: false; dm: DatastoreMigration; notScanned: NotScanned[]; message: string };

/** Restores API-server mode; returns the CR as last written and the outcome. */
export async function restoreApiServerMode(ctx: ControllerContext, dm: DatastoreMigration): Promise<Restored> {
  const uid = dm.metadata.uid ?? "";
  // 0. Every dependent this migration detached must be found again, or it would stay detached
  // (or, re-attached at Converged, be collected with the v3 owner it points at): wait until the
  // controller can list every resource that may hold one. Nothing has been changed yet.
  if (mayHaveDetached(dm)) {
    const check = await checkDetachedScannable(ctx, dm);
    dm = check.dm;
    if (check.notScanned.length) {
      return { done: false, dm, notScanned: check.notScanned, message: `${RESTORE_WAITS}: ${notScannedMessage(check.notScanned)}; it goes on by itself once they can be listed` };
    }
  }
  let aggregated = await getAggregatedApiService(ctx.client);
  if (aggregated && mustTakeAway(dm)) {
    // Registered again (an operator or a GitOps sync) in front of this migration's v3 objects:
    // away again for the cleanup, as the copy does, after the dependents lost their Calico
    // references (invariant 5); it is restored at step 4.
    await redetachForeignOwners(ctx.client, ctx.discovery, uid);
    ({ dm } = await ensureApiServiceGone(ctx, dm, RECREATED_EVENT));
    await waitForV3Storage(ctx);
    aggregated = undefined;
  }
  const protectedLeft: string[] = [];
  if (!aggregated) {
    // 1. Dependents lose their Calico references before any v3 owner goes.
    await redetachForeignOwners(ctx.client, ctx.discovery, uid);
    // The door closes now, while no dependent names a Calico owner: updating the v3 CRDs makes
    // kube-apiserver re-initialise their storage, and the garbage collector was told "not found"
    // for a Calico owner at that moment, with the APIService registered (invariant 27).
    await closeDoor(ctx.client);
    // 2. Only what this migration created (migrated-by = our uid).
    protectedLeft.push(...(await deleteOurV3Objects(ctx, uid)));
    // 3. v3 ClusterInformation: deleted if ours, unlocked if we only locked it.
    await restoreV3ClusterInformation(ctx.client, uid);
    // Registered again meanwhile, the lists above may have reached the aggregated API and missed
    // our objects: the next attempt takes it away again.
    if (await getAggregatedApiService(ctx.client)) throw new Error(`the aggregated APIService ${APISERVICE_NAME} was registered again during the v3 cleanup; retrying`);
    // Recorded before the APIService comes back: from then on one found registered is ours.
    if (dm.metadata.annotations?.[Names.v3CleanedUp] !== "true") dm = await patchMetadata(ctx, dm, { annotations: { [Names.v3CleanedUp]: "true" } });
  } else if (precopyStarted(dm)) {
    // Copies made before the lock, behind the still-registered APIService: removed through the door.
    protectedLeft.push(...(await removePrecopy(ctx, dm)).protectedLeft);
  }
  // The door is closed whatever happened (idempotent).
  await closeDoor(ctx.client);
  // 4. The aggregated APIService, so that it stays (an automanaged one is replaced).
  const restored = await restoreApiService(ctx.client, dm.metadata.annotations?.[Names.savedApiService]);
  if (restored === "nothing-saved") ctx.log.warn({}, "no saved APIService to restore (it was absent or automanaged when the migration started)");
  ctx.discovery.reset();
  // 5. Dependents get their original references back (valid again through the aggregated API),
  // once projectcalico.org/v3 answers steadily from the Calico API server (invariant 27).
  const calicoDetached = Boolean(dm.status?.datastoreLockedAt) || precopyStarted(dm) || (await anyCalicoDetached(ctx.client, uid));
  if ((mayHaveDetached(dm) || calicoDetached) && (await getAggregatedApiService(ctx.client))) await settleOn(ctx, dm, "aggregated", "putting owner references back");
  // Read after the wait (the APIService turns Available during it), once for both restores.
  const aggregatedApi = await readAggregatedApi(ctx.client);
  await restoreForeignOwners(ctx.client, ctx.discovery, uid, aggregatedApi);
  if (calicoDetached) await restoreCalicoDependents(ctx.client, uid, aggregatedApi);
  // 6. v1 unlock, only when this migration took the lock; a failure is retried by the caller.
  await unlockV1(ctx.client, uid);
  return { done: true, dm, protectedTiersLeft: protectedLeft };
}

const RECREATED_EVENT = {
  type: "Warning",
  reason: "APIServiceRecreated",
  message: "the aggregated APIService v3.projectcalico.org was registered again before the v3 objects of this migration were removed; it is unregistered for the cleanup and restored afterwards",
} as const;

/** Foreign owner references are detached when the pre-copy starts or at the lock, unless the user opted out. */
function mayHaveDetached(dm: DatastoreMigration): boolean {
  return remapForeignEnabled(dm) && (Boolean(dm.status?.datastoreLockedAt) || precopyStarted(dm));
}

/**
 * Whether an aggregated APIService found registered may hide v3 objects of this migration: it
 * went (saved, or the phase is past the unregistration) and the v3 cleanup has not happened.
 */
function mustTakeAway(dm: DatastoreMigration): boolean {
  if (dm.metadata.annotations?.[Names.v3CleanedUp] === "true") return false;
  const phase = phaseOf(dm);
  return Boolean(dm.metadata.annotations?.[Names.savedApiService]) ||
    phase === Phase.Migrating || phase === Phase.WaitingForConflictResolution || phase === Phase.Converged;
}

/** Right after the APIService went: rides out the answers of a server still switching the group. */
async function waitForV3Storage(ctx: ControllerContext): Promise<void> {
  try {
    await getV3ClusterInformation(ctx.client);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/** Deletes v3 objects whose migrated-by is `uid`; returns protected ones that could not be deleted. */
async function deleteOurV3Objects(ctx: ControllerContext, uid: string): Promise<string[]> {
  const protectedLeft: string[] = [];
  for (const kind of [...CALICO_KINDS].reverse()) {
    try {
      for await (const obj of ctx.client.listItems(v3Resource(kind), { metadataOnly: true, limit: 500 })) {
        if (obj.metadata.annotations?.[Names.migratedBy] !== uid) continue;
        try {
          await ctx.client.delete(v3Resource(kind), obj.metadata.name ?? "", obj.metadata.namespace, { uid: obj.metadata.uid });
        } catch (err) {
          if (isNotFound(err) || (err instanceof ApiError && err.code === 409)) continue;
          if (kind.kind === "Tier" && (isForbidden(err) || (err instanceof ApiError && err.code === 422))) {
            protectedLeft.push(obj.metadata.name ?? "");
            continue;
          }
          throw new Error(`deleting ${kind.kind} ${obj.metadata.name}: ${describeError(err)}`, { cause: err });
        }
      }
    } catch (err) {
      if (isNotFound(err)) continue;
      throw err;
    }
  }
  return protectedLeft;
}

/**
 * Restores API-server mode for a Failed CR marked restore-pending, then clears the mark and sets
 * `message`; a crash, an error or a restore that must wait leaves the mark, so a later reconcile
 * carries on (`restorePending` tells the caller to look again).
 */
export async function finishRestore(ctx: ControllerContext, dm: DatastoreMigration, message: string): Promise<DatastoreMigration> {
  if (!restorePending(dm)) return dm;
  const restored = await restoreApiServerMode(ctx, dm);
  dm = restored.dm;
  await saveRestoreReport(ctx, dm, Phase.Failed, restored);
  if (!restored.done) return setMessage(ctx, dm, `${failureText(dm)}. ${restored.message}`);
  const left = restored.protectedTiersLeft;
  dm = await setMessage(ctx, dm, `${message}${left.length ? `; built-in tiers left in v3 (protected from deletion): ${left.join(", ")}` : ""}`);
  return patchMetadata(ctx, dm, { annotations: { [Names.restorePending]: null } });
}

/** True while a Failed migration's restore is unfinished. */
export function restorePending(dm: DatastoreMigration): boolean {
  return dm.metadata.annotations?.[Names.restorePending] === "true";
}

/** Whether a migration had changed anything that a restore must undo (it locked v1 or took the APIService). */
export function touchedCluster(dm: DatastoreMigration): boolean {
  return Boolean(dm.status?.datastoreLockedAt || dm.metadata.annotations?.[Names.savedApiService] || precopyStarted(dm));
}

function failureText(dm: DatastoreMigration): string {
  return dm.status?.conditions?.filter((c) => c.type === ConditionType.Failed).at(-1)?.message ?? dm.status?.message ?? "failed";
}

/** The message a Failed migration shows once API-server mode is restored. */
export function restoredMessage(dm: DatastoreMigration): string {
  const failed = dm.status?.conditions?.filter((c) => c.type === ConditionType.Failed).at(-1);
  if (failed?.reason === ConditionReason.CopyRefused) return failed.message;
  const rolledBack = deletionDecisionOf(dm) === DeletionDecision.Rollback ? ` Rolled back at Converged (${decisionReason(dm)}):` : "";
  return `${failureText(dm)}.${rolledBack} API server mode is restored and the v1 datastore unlocked`;
}

/** Why a migration fails: the Failed condition's reason and message, the status message, the Event's text. */
export interface Failure {
  reason: string;
  condition: string;
  message: string;
  event: string;
}

/**
 * Phase Failed with a Failed condition and a Warning Event. Before Converged a migration that had
 * changed the cluster is marked restore-pending before the phase changes and restored after
 * (finishRestore), so Failed never leaves the datastore locked. At Converged it is restored only
 * when the rollback-safety check allows (the decision is recorded as for a deletion); after
 * Complete never: v3 data is never deleted once components may be using it.
 */
export async function failMigration(ctx: ControllerContext, dm: DatastoreMigration, failure: Failure): Promise<DatastoreMigration> {
  const phase = phaseOf(dm);
  if (phase === Phase.Converged || phase === Phase.Complete) dm = await decideAtConverged(ctx, dm, "failure");
  const keep = deletionDecisionOf(dm) === DeletionDecision.Complete;
  const restore = !keep && touchedCluster(dm);
  if (restore) dm = await patchMetadata(ctx, dm, { annotations: { [Names.restorePending]: "true" } });
  dm = await writeStatus(ctx, dm, (s) => {
    s.phase = Phase.Failed;
    s.message = restore ? `${failure.message}: restoring API server mode` : keep ? notRestoredMessage(failure.message, decisionReason(dm)) : failure.message;
    s.conditions = [...(s.conditions ?? []), { type: ConditionType.Failed, status: "True" as const, reason: failure.reason, message: failure.condition, lastTransitionTime: nowIso(ctx) }].slice(-64);
  });
  await ctx.events.record(dm, "Warning", "Failed", failure.event);
  return restore ? finishRestore(ctx, dm, restoredMessage(dm)) : dm;
}

/** What a Failed migration that keeps its v3 data says. */
function notRestoredMessage(failure: string, reason: string): string {
  return `${failure}. Nothing was restored (${reason}): the v3 data is kept, the aggregated APIService stays unregistered and the v1 datastore stays locked; ` +
    "deleting this DatastoreMigration leaves them so";
}
