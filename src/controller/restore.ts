/**
 * Back to API-server mode, from any point of a migration: the steps run in an order that never
 * lets the garbage collector delete a foreign dependent, and each is safe to repeat. v3 storage
 * is only reachable while the APIService is unregistered, so the v3 steps run only then (after a
 * restore they are already done). Used by an abort and by a locked window that must end early.
 */
import { ConditionReason, ConditionType, Names, Phase, type DatastoreMigration } from "../api/datastore-migration.js";
import { CALICO_KINDS, v3Resource } from "../calico/kinds.js";
import { ApiError, describeError, isForbidden, isNotFound } from "../kube/errors.js";
import { getAggregatedApiService, restoreApiService } from "../migration/apiservice.js";
import { restoreV3ClusterInformation, unlockV1 } from "../migration/datastore-lock.js";
import { redetachForeignOwners, restoreForeignOwners } from "../migration/foreign-owners.js";
import { closeDoor } from "../migration/precopy-door.js";
import { nowIso, patchMetadata, setMessage, writeStatus, type ControllerContext } from "./context.js";
import { precopyStarted, removePrecopy } from "./precopy.js";

/** Restores API-server mode; returns the built-in tiers left in v3 (protected from deletion). */
export async function restoreApiServerMode(ctx: ControllerContext, dm: DatastoreMigration): Promise<string[]> {
  const uid = dm.metadata.uid ?? "";
  const aggregated = await getAggregatedApiService(ctx.client);
  const protectedLeft: string[] = [];
  if (!aggregated) {
    // 1. Dependents lose their Calico references before any v3 owner goes.
    await redetachForeignOwners(ctx.client, ctx.discovery, uid);
    // 2. Only what this migration created (migrated-by = our uid).
    protectedLeft.push(...(await deleteOurV3Objects(ctx, uid)));
    // 3. v3 ClusterInformation: deleted if ours, unlocked if we only locked it.
    await restoreV3ClusterInformation(ctx.client, uid);
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
  // 5. Dependents get their original references back (valid again through the aggregated API).
  await restoreForeignOwners(ctx.client, ctx.discovery, uid);
  // 6. v1 unlock, only when this migration took the lock; a failure is retried by the caller.
  await unlockV1(ctx.client, uid);
  return protectedLeft;
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
 * `message`; a crash or error in between leaves the mark, so the next reconcile carries on.
 */
export async function finishRestore(ctx: ControllerContext, dm: DatastoreMigration, message: string): Promise<DatastoreMigration> {
  if (dm.metadata.annotations?.[Names.restorePending] !== "true") return dm;
  await restoreApiServerMode(ctx, dm);
  dm = await setMessage(ctx, dm, message);
  return patchMetadata(ctx, dm, { annotations: { [Names.restorePending]: null } });
}

/** Whether a migration had changed anything that a restore must undo (it locked v1 or took the APIService). */
export function touchedCluster(dm: DatastoreMigration): boolean {
  return Boolean(dm.status?.datastoreLockedAt || dm.metadata.annotations?.[Names.savedApiService] || precopyStarted(dm));
}

/** The message a Failed migration shows once API-server mode is restored. */
export function restoredMessage(dm: DatastoreMigration): string {
  const failed = dm.status?.conditions?.filter((c) => c.type === ConditionType.Failed).at(-1);
  if (failed?.reason === ConditionReason.CopyRefused) return failed.message;
  return `${failed?.message ?? dm.status?.message ?? "failed"}. API server mode is restored and the v1 datastore unlocked`;
}

/** Why a migration fails: the Failed condition's reason and message, the status message, the Event's text. */
export interface Failure {
  reason: string;
  condition: string;
  message: string;
  event: string;
}

/**
 * Phase Failed with a Failed condition and a Warning Event. A migration that had changed the
 * cluster is marked restore-pending before the phase changes and restored after (finishRestore),
 * so Failed never leaves the datastore locked.
 */
export async function failMigration(ctx: ControllerContext, dm: DatastoreMigration, failure: Failure): Promise<DatastoreMigration> {
  const touched = touchedCluster(dm);
  if (touched) dm = await patchMetadata(ctx, dm, { annotations: { [Names.restorePending]: "true" } });
  dm = await writeStatus(ctx, dm, (s) => {
    s.phase = Phase.Failed;
    s.message = touched ? `${failure.message}: restoring API server mode` : failure.message;
    s.conditions = [...(s.conditions ?? []), { type: ConditionType.Failed, status: "True" as const, reason: failure.reason, message: failure.condition, lastTransitionTime: nowIso(ctx) }].slice(-64);
  });
  await ctx.events.record(dm, "Warning", "Failed", failure.event);
  return touched ? finishRestore(ctx, dm, restoredMessage(dm)) : dm;
}
