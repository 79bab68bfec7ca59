/**
 * The pre-copy, in Pending while nothing is locked and the Calico API server keeps serving users:
 * open the door (a temporary version of the v3 CRDs), copy every kind through it into v3 CRD
 * storage with the same conversion, owner order and never-overwrite rule as the locked copy, then
 * catch up with what changed meanwhile by metadata-first passes (only objects whose v1 resourceVersion moved are read and
 * written) until little is left. The door stays open through the drain: right after it, with v1
 * locked and the APIService still registered, the final delta goes through it too, so a refusal
 * still ends the window at no cost (v1 unlocked, nothing else touched) and Migrating only verifies.
 * On the way to Complete the copies' managedFields are relabelled v3 and the door removed (closePrecopy).
 * A door that cannot be opened falls back to copying everything inside the lock, said in status and
 * an Event; nothing is lost either way.
 */
import { ConditionType, Names, type DatastoreMigration } from "../api/datastore-migration.js";
import { CALICO_KINDS } from "../calico/kinds.js";
import { hasCode, isNotFound } from "../kube/errors.js";
import { unlockV1 } from "../migration/datastore-lock.js";
import type { EngineOptions } from "../migration/engine-options.js";
import { findCreateRefused } from "../migration/create-refused.js";
import { relabelCopies } from "../migration/relabel-copies.js";
import { loadSchemas } from "../migration/planner.js";
import { closeDoor, doorResource, doorServed, openDoor } from "../migration/precopy-door.js";
import { bandDurationMs, runPass, type PassResult } from "../migration/run-kinds.js";
import { replayKept, type KeptMetadata } from "../migration/metadata-replay.js";
import { takeFence, type VerificationFence } from "../migration/verification-fence.js";
import { setCondition } from "./conditions.js";
import { nowIso, patchMetadata, setMessage, writeStatus, type ControllerContext } from "./context.js";
import { engineOptions } from "./engine.js";
import { detachCalicoOwned, detachForeignDependents } from "./foreign-detach.js";

/** The values of the CR's `precopy` annotation. */
export const PrecopyState = {
  /** The door may be open and copies may exist in v3 storage (set before the door opens). */
  Started: "started",
  Copied: "copied",
  /** The final delta was applied through the door with v1 locked and drained: v3 storage is in step, Migrating only verifies. */
  InStep: "in-step",
  /** After Converged: the copies' managedFields were relabelled v3 and the door removed. */
  Closed: "closed",
  /** The door could not be opened: everything is copied inside the lock. */
  Fallback: "fallback",
} as const;

/** What the pre-copy came to: go on to the lock, poll again, or stay unlocked with a blocker. */
export type PrecopyOutcome = { dm: DatastoreMigration; next: "lock" } | { dm: DatastoreMigration; next: "requeue"; afterMs: number } | { dm: DatastoreMigration; next: "blocked"; message: string };

/** True when copies made before the lock may exist in v3 storage (an abort must remove them). */
export function precopyStarted(dm: DatastoreMigration): boolean {
  const state = dm.metadata.annotations?.[Names.precopy];
  return state === PrecopyState.Started || state === PrecopyState.Copied || state === PrecopyState.InStep;
}

/** True when the pre-copy finished its first full pass: later passes read metadata first. */
export function precopyCopied(dm: DatastoreMigration): boolean {
  const state = dm.metadata.annotations?.[Names.precopy];
  return state === PrecopyState.Copied || state === PrecopyState.InStep;
}

/** Catch-up passes before the lock, at most. */
const CATCH_UP_PASSES = 10;
/** A catch-up pass that wrote no more than this leaves the rest to the final delta. */
const CATCH_UP_SMALL = 200;

/**
 * Whether another catch-up pass is worth it: each pass lasts about a metadata list of everything
 * plus its writes, so under steady churn the writes per pass shrink towards a floor (churn rate ×
 * list time). Stop once small, or once a pass no longer halves what the previous one wrote.
 */
export function catchUpAgain(written: number, previous: number | undefined, round: number): boolean {
  if (written <= CATCH_UP_SMALL || round >= CATCH_UP_PASSES) return false;
  return previous === undefined || written <= previous / 2;
}

/** Objects a pass wrote (created, brought up to date, removed). */
export function writtenBy(pass: PassResult): number {
  return pass.kinds.reduce((n, r) => n + r.migrated + r.refreshed + r.removed, 0);
}

/**
 * Engine options that write through the door. The copies' managedFields entries name the door
 * until Converged relabels them (relabel-copies.ts), before the door is removed.
 */
async function doorOptions(ctx: ControllerContext, dm: DatastoreMigration): Promise<EngineOptions> {
  return { ...engineOptions(ctx, dm, await loadSchemas(ctx.client)), v3Storage: doorResource };
}

/** Relabels the copies' managedFields and removes the door, once (the CR then records "closed"). */
export async function closePrecopy(ctx: ControllerContext, dm: DatastoreMigration): Promise<DatastoreMigration> {
  const state = dm.metadata.annotations?.[Names.precopy];
  if (state === undefined || state === PrecopyState.Closed) return dm;
  const started = ctx.clock.now();
  const relabelled = await relabelCopies(ctx.client, ctx.config.copyConcurrency);
  await closeDoor(ctx.client);
  ctx.log.info({ relabelled, durationMs: ctx.clock.now() - started }, "pre-copy door closed");
  return patchMetadata(ctx, dm, { annotations: { [Names.precopy]: PrecopyState.Closed } });
}

/** How long a door that was opened may stay unserved (another writer keeps removing it) before the pre-copy is given up. */
const DOOR_WAIT_MS = 30_000;

const DOOR_REMOVED = "the temporary version was removed from the v3 CRDs by another writer (an operator reconciling the CRDs?)";

/**
 * After the door was opened: requeue while the API server starts serving it, or the fallback's
 * reason once it has not been served for DOOR_WAIT_MS (someone keeps taking it away).
 */
function waitForDoor(ctx: ControllerContext, dm: DatastoreMigration, served: boolean): { afterMs: number } | { giveUp: string } | undefined {
  const key = dm.metadata.uid ?? "";
  if (served) {
    ctx.state.doorWaitSince = undefined;
    return undefined;
  }
  if (ctx.state.doorWaitSince?.key !== key) ctx.state.doorWaitSince = { key, at: ctx.clock.now() };
  if (ctx.clock.now() - ctx.state.doorWaitSince.at < DOOR_WAIT_MS) return { afterMs: 1000 };
  ctx.state.doorWaitSince = undefined;
  return { giveUp: `${DOOR_REMOVED}: it was not served for ${DOOR_WAIT_MS / 1000} s after being added` };
}

/** Records that the door could not be opened: everything is copied inside the lock. */
async function fallBack(ctx: ControllerContext, dm: DatastoreMigration, reason: string): Promise<DatastoreMigration> {
  const why = `${reason}; every object is copied inside the locked window instead`;
  dm = await patchMetadata(ctx, dm, { annotations: { [Names.precopy]: PrecopyState.Fallback } });
  dm = await writeStatus(ctx, dm, (s) => (s.conditions = setCondition(s.conditions, ConditionType.PreCopy, { type: ConditionType.PreCopy, status: "False", reason: "DoorRefused", message: why, lastTransitionTime: nowIso(ctx) })));
  await ctx.events.record(dm, "Warning", "PreCopyUnavailable", why);
  return dm;
}

/** Runs the pre-copy (idempotent: safe to run again after a crash at any point). */
export async function precopy(ctx: ControllerContext, dm: DatastoreMigration): Promise<PrecopyOutcome> {
  if (dm.metadata.annotations?.[Names.precopy] === PrecopyState.Fallback) return { dm, next: "lock" };
  const uid = dm.metadata.uid ?? "";
  if (!precopyStarted(dm)) {
    // Before the door's CRD updates (foreign-detach.ts says why); an abort from here on restores them.
    await detachForeignDependents(ctx, dm, "before the pre-copy opened its door");
    await detachCalicoOwned(ctx, dm, "before the pre-copy opened its door");
    dm = await patchMetadata(ctx, dm, { annotations: { [Names.precopy]: PrecopyState.Started } });
  }
  const door = await openDoor(ctx.client, uid);
  if (!door.open) return { dm: await fallBack(ctx, dm, door.refusal.reason), next: "lock" };
  // The CRD handler serves a new version a moment after the update.
  const wait = waitForDoor(ctx, dm, await doorServed(ctx.client));
  if (wait && "afterMs" in wait) return { dm, next: "requeue", afterMs: wait.afterMs };
  if (wait) return { dm: await fallBack(ctx, dm, wait.giveUp), next: "lock" };
  const opts = await doorOptions(ctx, dm);
  try {
    if (!precopyCopied(dm)) {
      dm = await setMessage(ctx, dm, "Copying resources before the lock (pre-copy); nothing is locked yet");
      const pass = await runPass(opts, "copy");
      const sum = (f: (r: PassResult["kinds"][number]) => number) => pass.kinds.reduce((n, r) => n + f(r), 0);
      const summary = `${pass.total} v1 objects: ${sum((r) => r.migrated)} copied, ${sum((r) => r.refreshed)} brought up to date, ${sum((r) => r.alreadyCopied)} already copied, ${sum((r) => r.removed)} stale copies removed, ${pass.conflicts.length} v3 objects that differ (reported once the datastore is locked)`;
      dm = await patchMetadata(ctx, dm, { annotations: { [Names.precopy]: PrecopyState.Copied } });
      dm = await writeStatus(ctx, dm, (s) => (s.conditions = setCondition(s.conditions, ConditionType.PreCopy, { type: ConditionType.PreCopy, status: "True", reason: "Copied", message: `copied before the lock: ${summary}`, lastTransitionTime: nowIso(ctx) })));
      await ctx.events.record(dm, "Normal", "PreCopied", `copied before the lock: ${summary}`);
      ctx.log.info({ objects: pass.total, conflicts: pass.conflicts.length }, "pre-copy finished");
    }
    // Catch up with what changed while copying: each pass reads metadata and writes only what
    // moved, so it is shorter than the last; the final delta (under the lock) is what is left.
    dm = await setMessage(ctx, dm, "Bringing the copies up to date before the lock; nothing is locked yet");
    let previous: number | undefined;
    for (let round = 1; ; round++) {
      const started = ctx.clock.now();
      // The last pass's metadata is kept: the final delta replays what changed since its lists.
      ctx.state.keptMetadata = undefined;
      const kept: KeptMetadata = { uid, kinds: new Map() };
      const pass = await runPass({ ...opts, metadataFirst: true, keepMetadata: (kind, metadata) => kept.kinds.set(kind.kind, { kind, metadata }) }, "copy");
      ctx.state.keptMetadata = kept;
      const written = writtenBy(pass);
      ctx.log.info({ round, objects: pass.total, written, durationMs: ctx.clock.now() - started }, "pre-copy caught up");
      if (!catchUpAgain(written, previous, round)) break;
      previous = written;
    }
  } catch (err) {
    const refused = findCreateRefused(err);
    if (!refused) {
      if (!(await doorServed(ctx.client))) return { dm: await fallBack(ctx, dm, `${DOOR_REMOVED} while the pre-copy went through it`), next: "lock" };
      throw err;
    }
    // Refused before anything is locked: the plan's verdict, found by the copy itself.
    return { dm, next: "blocked", message: refused.asBlocker() };
  }
  // The door stays open: the final delta goes through it right after the drain.
  return { dm, next: "lock" };
}

/** What the final delta came to: go on (in step, or fallen back to the locked copy), poll again, or blocked (v1 unlocked again). */
export type FinalDeltaOutcome = { dm: DatastoreMigration; next: "go" | "blocked" } | { dm: DatastoreMigration; next: "requeue"; afterMs: number };

/**
 * Right after the drain, with v1 locked and the APIService still registered: brings every copy in
 * step with v1 as it now stays (metadata-first, through the door), so that the locked window
 * carries only this delta and a verification. It replaces the re-validation after the drain: an
 * object the v3 API refuses ends the window here at no cost (v1 unlocked, nothing else changed).
 * With no conflict found, the CR records that v3 storage is in step and Migrating only verifies.
 */
export async function applyFinalDelta(ctx: ControllerContext, dm: DatastoreMigration): Promise<FinalDeltaOutcome> {
  const uid = dm.metadata.uid ?? "";
  const door = await openDoor(ctx.client, uid);
  if (!door.open) return { dm: await fallBack(ctx, dm, door.refusal.reason), next: "go" };
  // v1 is locked here: a door someone keeps removing is given up after DOOR_WAIT_MS, never waited on for ever.
  const wait = waitForDoor(ctx, dm, await doorServed(ctx.client));
  if (wait && "afterMs" in wait) return { dm, next: "requeue", afterMs: wait.afterMs };
  if (wait) return { dm: await fallBack(ctx, dm, wait.giveUp), next: "go" };
  dm = await setMessage(ctx, dm, "Datastore is locked: copying what changed since the pre-copy (final delta)");
  const started = ctx.clock.now();
  // The fence comes before any list or replay: every change after it is replayed to the verification.
  const fence: VerificationFence = { uid, resourceVersion: await takeFence(ctx.client), removed: new Set() };
  ctx.state.finalDelta = undefined;
  // What the last catch-up pass listed, brought up to date by replaying the changes since (all
  // kinds at once): the window pays for what changed, not for what exists. A kind that cannot be
  // replayed (or a controller that restarted since) is listed again.
  const kept = ctx.state.keptMetadata?.uid === uid ? ctx.state.keptMetadata : undefined;
  ctx.state.keptMetadata = undefined;
  const replay = kept ? await replayKept(ctx.client, kept, doorResource) : undefined;
  if (replay?.dropped.length) ctx.log.info({ dropped: replay.dropped }, "final delta: kinds listed again instead of replayed");
  fence.replayed = replay?.logs;
  let pass: PassResult;
  try {
    // "verify": copies what is missing, and reports v3 objects without a v1 source.
    pass = await runPass({ ...(await doorOptions(ctx, dm)), metadataFirst: true, knownMetadata: (kind) => replay?.current.get(kind.kind), onRemoved: (kind, key) => fence.removed.add(`${kind.kind}/${key}`) }, "verify");
  } catch (err) {
    const refused = findCreateRefused(err);
    if (!refused) {
      if (!(await doorServed(ctx.client))) return { dm: await fallBack(ctx, dm, `${DOOR_REMOVED} while the final delta went through it`), next: "go" };
      throw err;
    }
    const message = `${refused.asBlocker()} (changed after it was copied: the v1 datastore was unlocked again and nothing else was changed; the migration goes on once it is fixed)`;
    // Unlock first: a crash before the status write finds datastoreLockedAt and comes here again.
    await unlockV1(ctx.client, uid);
    dm = await writeStatus(ctx, dm, (s) => {
      delete s.datastoreLockedAt;
      s.message = message;
    });
    await ctx.events.record(dm, "Warning", "ChangedObjectRefused", message);
    return { dm, next: "blocked" };
  }
  ctx.log.info({ objects: pass.total, written: writtenBy(pass), conflicts: pass.conflicts.length, replayedKinds: replay?.current.size ?? 0, durationMs: ctx.clock.now() - started, ipamMs: bandDurationMs(pass, "IPAMBlock") }, "final delta applied");
  // Conflicts are found and reported by the usual detection once the APIService is gone.
  if (pass.conflicts.length === 0) {
    dm = await patchMetadata(ctx, dm, { annotations: { [Names.precopy]: PrecopyState.InStep } });
    ctx.state.finalDelta = { fence, pass };
  }
  return { dm, next: "go" };
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
