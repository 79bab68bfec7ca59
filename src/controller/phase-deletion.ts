/**
 * Deletion of the CR (the finalizer): after Complete, delete the v1 CRDs and hold the finalizer
 * until they are really gone; before Converged, abort and put the cluster back in API-server
 * mode; at Converged, roll back only when it is provably safe, otherwise drive on to Complete.
 */
import { Names, Phase, phaseOf, type DatastoreMigration } from "../api/datastore-migration.js";
import { CALICO_KINDS, V1_GROUP, v3Resource } from "../calico/kinds.js";
import { isForbidden, isNotFound, describeError, ApiError } from "../kube/errors.js";
import { getAggregatedApiService, restoreApiService } from "../migration/apiservice.js";
import { restoreV3ClusterInformation, unlockV1 } from "../migration/datastore-lock.js";
import { redetachForeignOwners, restoreForeignOwners } from "../migration/foreign-owners.js";
import { nudgeTerminatingCrd } from "../migration/crd-nudge.js";
import { CRDS } from "../migration/prerequisites.js";
import { patchMetadata, setMessage, type ControllerContext } from "./context.js";
import { done, requeueAfter, type Result } from "./outcome.js";
import { handleConverged } from "./phase-converged.js";
import { rollbackSafety } from "./rollback-safety.js";

/** Handles a CR with a deletionTimestamp. */
export async function handleDeletion(ctx: ControllerContext, dm: DatastoreMigration): Promise<Result> {
  if (!dm.metadata.finalizers?.includes(Names.finalizer)) return done;
  const phase = phaseOf(dm);
  switch (phase) {
    case Phase.Complete:
      return cleanupV1Crds(ctx, dm);
    case Phase.Failed:
      return removeFinalizer(ctx, dm);
    case Phase.Converged: {
      const safety = await rollbackSafety(ctx.client, dm, ctx.config.componentsNamespace);
      if (safety.safe) {
        await ctx.events.record(dm, "Normal", "RollbackAtConverged", "no component uses the v3 API group and nothing was written to v3 since the copy: rolling back");
        return abort(ctx, dm);
      }
      return handleConverged(ctx, dm, `Deletion pending: migration is Converged and cannot be rolled back (${safety.reason}). Waiting for completion. `);
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

/**
 * Abort: the steps run in an order that never lets the garbage collector delete a foreign
 * dependent, and each is safe to repeat. v3 storage is only reachable while the APIService is
 * unregistered, so the v3 steps run only then (after a restore they are already done).
 */
async function abort(ctx: ControllerContext, dm: DatastoreMigration): Promise<Result> {
  const uid = dm.metadata.uid ?? "";
  dm = await setMessage(ctx, dm, "Aborting: removing the v3 objects this migration created and restoring API server mode");
  const aggregated = await getAggregatedApiService(ctx.client);
  const protectedLeft: string[] = [];
  if (!aggregated) {
    // 1. Dependents lose their Calico references before any v3 owner goes.
    await redetachForeignOwners(ctx.client, ctx.discovery, uid);
    // 2. Only what this migration created (migrated-by = our uid).
    protectedLeft.push(...(await deleteOurV3Objects(ctx, uid)));
    // 3. v3 ClusterInformation: deleted if ours, unlocked if we only locked it.
    await restoreV3ClusterInformation(ctx.client, uid);
  }
  // 4. The aggregated APIService, so that it stays (an automanaged one is replaced).
  const restored = await restoreApiService(ctx.client, dm.metadata.annotations?.[Names.savedApiService]);
  if (restored === "nothing-saved") ctx.log.warn({}, "no saved APIService to restore (it was absent or automanaged when the migration started)");
  ctx.discovery.reset();
  // 5. Dependents get their original references back (valid again through the aggregated API).
  await restoreForeignOwners(ctx.client, ctx.discovery, uid);
  // 6. v1 unlock, only when this migration took the lock; a failure keeps the finalizer.
  await unlockV1(ctx.client, uid);
  await ctx.events.record(dm, "Normal", "Aborted",
    `migration aborted: API server mode restored, v1 datastore unlocked${protectedLeft.length ? `; built-in tiers left in v3 (protected from deletion): ${protectedLeft.join(", ")}` : ""}`);
  return removeFinalizer(ctx, dm);
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

