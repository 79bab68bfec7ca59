/**
 * The pre-copy, in Pending while nothing is locked and the Calico API server keeps serving users:
 * open the door (a temporary version of the v3 CRDs), copy every kind through it into v3 CRD
 * storage with the same conversion, owner order and never-overwrite rule as the locked copy,
 * relabel each copy's managedFields to v3 as it is written, and close the door. The locked window
 * then only brings up to date what changed since (the copy pass skips what is in step, refreshes
 * stale copies of ours and removes ours whose source is gone). A door that cannot be opened falls
 * back to copying everything inside the lock, said in status and an Event; nothing is lost either way.
 */
import { ConditionType, Names, type DatastoreMigration } from "../api/datastore-migration.js";
import { CALICO_KINDS, V3_GROUP, V3_VERSION } from "../calico/kinds.js";
import { hasCode, isNotFound } from "../kube/errors.js";
import { findCreateRefused } from "../migration/create-refused.js";
import { relabelManagedFields } from "../migration/managed-fields.js";
import { loadSchemas } from "../migration/planner.js";
import { closeDoor, DOOR_VERSION, doorResource, doorServed, openDoor } from "../migration/precopy-door.js";
import { runPass, type PassResult } from "../migration/run-kinds.js";
import { setCondition } from "./conditions.js";
import { nowIso, patchMetadata, setMessage, writeStatus, type ControllerContext } from "./context.js";
import { engineOptions } from "./engine.js";

/** The values of the CR's `precopy` annotation. */
export const PrecopyState = {
  /** The door may be open and copies may exist in v3 storage (set before the door opens). */
  Started: "started",
  Copied: "copied",
  /** The door could not be opened: everything is copied inside the lock. */
  Fallback: "fallback",
} as const;

const DOOR_API_VERSION = `${V3_GROUP}/${DOOR_VERSION}`;
const V3_API_VERSION = `${V3_GROUP}/${V3_VERSION}`;

/** What the pre-copy came to: go on to the lock, poll again, or stay unlocked with a blocker. */
export type PrecopyOutcome = { dm: DatastoreMigration; next: "lock" } | { dm: DatastoreMigration; next: "requeue"; afterMs: number } | { dm: DatastoreMigration; next: "blocked"; message: string };

/** True when copies made before the lock may exist in v3 storage (an abort must remove them). */
export function precopyStarted(dm: DatastoreMigration): boolean {
  const state = dm.metadata.annotations?.[Names.precopy];
  return state === PrecopyState.Started || state === PrecopyState.Copied;
}

/** Runs the pre-copy (idempotent: safe to run again after a crash at any point). */
export async function precopy(ctx: ControllerContext, dm: DatastoreMigration): Promise<PrecopyOutcome> {
  if (dm.metadata.annotations?.[Names.precopy] === PrecopyState.Fallback) return { dm, next: "lock" };
  const uid = dm.metadata.uid ?? "";
  if (!precopyStarted(dm)) dm = await patchMetadata(ctx, dm, { annotations: { [Names.precopy]: PrecopyState.Started } });
  const door = await openDoor(ctx.client, uid);
  if (!door.open) {
    const why = `${door.refusal.reason}; every object is copied inside the locked window instead`;
    dm = await patchMetadata(ctx, dm, { annotations: { [Names.precopy]: PrecopyState.Fallback } });
    dm = await writeStatus(ctx, dm, (s) => (s.conditions = setCondition(s.conditions, ConditionType.PreCopy, { type: ConditionType.PreCopy, status: "False", reason: "DoorRefused", message: why, lastTransitionTime: nowIso(ctx) })));
    await ctx.events.record(dm, "Warning", "PreCopyUnavailable", why);
    return { dm, next: "lock" };
  }
  // The CRD handler serves a new version a moment after the update.
  if (!(await doorServed(ctx.client))) return { dm, next: "requeue", afterMs: 1000 };
  dm = await setMessage(ctx, dm, "Copying resources before the lock (pre-copy); nothing is locked yet");
  const opts = {
    ...engineOptions(ctx, dm, await loadSchemas(ctx.client)),
    v3Storage: doorResource,
    // Entries naming the door would break server-side apply once it is removed (kubernetes#111937).
    afterWrite: async (ref: Parameters<typeof relabelManagedFields>[1], stored: Parameters<typeof relabelManagedFields>[2]) => {
      await relabelManagedFields(ctx.client, ref, stored, DOOR_API_VERSION, V3_API_VERSION);
    },
  };
  let pass: PassResult;
  try {
    pass = await runPass(opts, "copy");
  } catch (err) {
    const refused = findCreateRefused(err);
    if (!refused) throw err;
    // Refused before anything is locked: the plan's verdict, found by the copy itself.
    return { dm, next: "blocked", message: `${refused.message}. Fix: ${refused.fixCommand()} (nothing is locked)` };
  }
  await closeDoor(ctx.client);
  const sum = (f: (r: PassResult["kinds"][number]) => number) => pass.kinds.reduce((n, r) => n + f(r), 0);
  const summary = `${pass.total} v1 objects: ${sum((r) => r.migrated)} copied, ${sum((r) => r.refreshed)} brought up to date, ${sum((r) => r.alreadyCopied)} already copied, ${sum((r) => r.removed)} stale copies removed, ${pass.conflicts.length} v3 objects that differ (reported once the datastore is locked)`;
  dm = await patchMetadata(ctx, dm, { annotations: { [Names.precopy]: PrecopyState.Copied } });
  dm = await writeStatus(ctx, dm, (s) => (s.conditions = setCondition(s.conditions, ConditionType.PreCopy, { type: ConditionType.PreCopy, status: "True", reason: "Copied", message: `copied before the lock: ${summary}`, lastTransitionTime: nowIso(ctx) })));
  await ctx.events.record(dm, "Normal", "PreCopied", `copied before the lock: ${summary}`);
  ctx.log.info({ objects: pass.total, conflicts: pass.conflicts.length }, "pre-copy finished");
  return { dm, next: "lock" };
}

/**
 * Removes what a pre-copy left in v3 storage while the aggregated APIService still shadows v3
 * (an abort before the lock): opens the door again, deletes only this migration's copies through
 * it, and closes it. Returns how many it deleted.
 */
export async function removePrecopy(ctx: ControllerContext, dm: DatastoreMigration): Promise<{ deleted: number; protectedLeft: string[] }> {
  const uid = dm.metadata.uid ?? "";
  const door = await openDoor(ctx.client, uid);
  if (!door.open) throw new Error(`cannot remove the copies made before the lock: ${door.refusal.reason}`);
  if (!(await doorServed(ctx.client))) throw new Error("removing the copies made before the lock: the temporary v3 version is not served yet; retrying");
  let deleted = 0;
  const protectedLeft: string[] = [];
  for (const kind of [...CALICO_KINDS].reverse()) {
    const ref = doorResource(kind);
    for await (const obj of ctx.client.listItems(ref, { metadataOnly: true, limit: 500 })) {
      if (obj.metadata.annotations?.[Names.migratedBy] !== uid) continue;
      try {
        await ctx.client.delete(ref, obj.metadata.name ?? "", obj.metadata.namespace, { uid: obj.metadata.uid });
        deleted++;
      } catch (err) {
        if (isNotFound(err) || hasCode(err, 409)) continue;
        // Calico's admission policy protects the built-in tiers from deletion (as in an abort after the lock).
        if (kind.kind === "Tier" && hasCode(err, 403, 422)) {
          protectedLeft.push(obj.metadata.name ?? "");
          continue;
        }
        throw err;
      }
    }
  }
  await closeDoor(ctx.client);
  return { deleted, protectedLeft };
}
