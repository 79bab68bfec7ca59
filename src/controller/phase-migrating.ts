/**
 * Migrating: re-take both locks (idempotent, we may have resumed here), copy every kind with live
 * progress, verify with fresh lists of both sides, then either re-attach foreign owner references
 * and unlock v3 (Converged) or keep them detached and wait for conflicts to be resolved.
 */
import { ConditionReason, ConditionType, MIGRATION_NAME, Names, Phase, truncateMessage, type DatastoreMigration, type Progress, type TypeDetail } from "../api/datastore-migration.js";
import { findCreateRefused, type CreateRefusedError } from "../migration/create-refused.js";
import { CALICO_KINDS } from "../calico/kinds.js";
import { formatDuration } from "../kube/duration.js";
import { getV3ClusterInformation, lockV1, lockV3, unlockV3 } from "../migration/datastore-lock.js";
import { reattachForeignOwners, redetachForeignOwners } from "../migration/foreign-owners.js";
import { loadSchemas } from "../migration/planner.js";
import { bandDurationMs, runPass, type PassHooks, type PassResult } from "../migration/run-kinds.js";
import { migratedCount, skippedCount, type KindResult } from "../migration/types.js";
import { changedSinceFence } from "../migration/verification-fence.js";
import { setCondition, verificationMessage, verifiedCondition, withConflicts, type VerificationCounts } from "./conditions.js";
import { dmResource, nowIso, patchMetadata, writeStatus, type ControllerContext } from "./context.js";
import { engineOptions, remapForeignEnabled } from "./engine.js";
import { ensureApiServiceGone } from "./apiservice-gone.js";
import { lockedWindowCheck } from "./locked-window.js";
import { settleOn } from "./settle.js";
import { done, requeueAfter, type Result } from "./outcome.js";
import { failMigration } from "./restore.js";
import { saveReport } from "./report-builder.js";
import { precopyCopied, PrecopyState, writtenBy } from "./precopy.js";

// Phases Pending and WaitingForConflictResolution import it from here.
export { ensureApiServiceGone };

function progressOf(results: readonly KindResult[], current: string, completed: number): Progress {
  const typeDetails: TypeDetail[] = results.map((r) => ({ kind: r.kind, migrated: migratedCount(r), skipped: skippedCount(r), conflicts: r.conflicts.length }));
  const sum = (f: (r: KindResult) => number) => results.reduce((n, r) => n + f(r), 0);
  const migrated = sum(migratedCount);
  const skipped = sum(skippedCount);
  const conflicts = sum((r) => r.conflicts.length);
  return {
    totalTypes: CALICO_KINDS.length,
    completedTypes: completed,
    typeProgress: `${completed} / ${CALICO_KINDS.length}`,
    currentType: current,
    total: migrated + skipped + conflicts,
    migrated,
    skipped,
    conflicts,
    typeDetails,
  };
}

/**
 * Handles phase Migrating. A copy the v3 API refuses as invalid ends the locked window at once
 * (retrying cannot make the object valid); one refused as forbidden is retried (the denial may be
 * lifted) for at most refusalGraceMs (2 minutes), then ends it too: back to API-server mode, phase
 * Failed, and the object with its fix in status. The window never waits on a refusal for ever.
 */
export async function handleMigrating(ctx: ControllerContext, dm: DatastoreMigration): Promise<Result> {
  let result: Result;
  try {
    result = await migrate(ctx, dm);
  } catch (err) {
    const refused = findCreateRefused(err);
    if (!refused) throw err;
    if (refused.refusalKind === "invalid") return endLockedWindow(ctx, refused, "");
    const key = `${dm.metadata.uid ?? ""}/${refused.subject()}`;
    if (ctx.state.refusedSince?.key !== key) ctx.state.refusedSince = { key, at: ctx.clock.now() };
    const refusedFor = ctx.clock.now() - ctx.state.refusedSince.at;
    const grace = formatDuration(ctx.config.refusalGraceMs);
    if (refusedFor < ctx.config.refusalGraceMs) {
      // Retryable: the message goes into status and the reconcile is retried with backoff.
      throw new Error(`creating ${refused.subject()}: ${refused.refusal.message} (retried for ${grace}, then the locked window is ended)`, { cause: err });
    }
    ctx.state.refusedSince = undefined;
    return endLockedWindow(ctx, refused, ` for ${formatDuration(refusedFor)} (longer than ${grace})`);
  }
  ctx.state.refusedSince = undefined;
  return result;
}

async function endLockedWindow(ctx: ControllerContext, refused: CreateRefusedError, refusedFor: string): Promise<Result> {
  const dm = await readMigration(ctx);
  const fix = refused.refusalKind === "invalid"
    ? `Fix the v1 object (${refused.fixCommand()}) until calico-migrate plan passes`
    : `Lift the denial (the admission policy, webhook or permission named above) or fix the v1 object (${refused.fixCommand()})`;
  const why = `${refused.message}. The locked window was ended${refusedFor ? ` after the create was refused${refusedFor}` : ""}: API server mode is restored and the v1 datastore unlocked; nothing in v1 was changed. ` +
    `${fix}, then delete this DatastoreMigration (calico-migrate abort) and start again`;
  await ctx.events.record(dm, "Warning", "CopyRefused", `${refused.message}; ending the locked window and restoring API server mode`);
  await failMigration(ctx, dm, { reason: ConditionReason.CopyRefused, condition: truncateMessage(why), message: refused.message, event: why });
  return done;
}

/** The CR as stored now. */
async function readMigration(ctx: ControllerContext): Promise<DatastoreMigration> {
  return (await ctx.client.get(dmResource(ctx), MIGRATION_NAME)) as unknown as DatastoreMigration;
}

/** Handles the migration body of phase Migrating. */
async function migrate(ctx: ControllerContext, dm: DatastoreMigration): Promise<Result> {
  const uid = dm.metadata.uid ?? "";
  if (dm.status?.message !== "Migrating resources") dm = await writeStatus(ctx, dm, (s) => (s.message = "Migrating resources"));
  // 1. v1 lock first, in case we resumed here without Pending having taken it.
  await lockV1(ctx.client, uid);
  // 2. The APIService must be gone before v3 ClusterInformation can be written to CRD storage.
  ({ dm } = await ensureApiServiceGone(ctx, dm));
  // 3. Lock v3: components switching early must not see a half-copied datastore.
  await lockV3(ctx.client, uid);

  const schemas = await loadSchemas(ctx.client);
  // After a pre-copy, passes read metadata first: only what changed since its copy is read in full.
  const opts = { ...engineOptions(ctx, dm, schemas), metadataFirst: precopyCopied(dm) };
  // The final delta brought v3 storage in step under the lock (Pending): the copy pass would find
  // nothing to do, so the verification (which creates anything missing too) is the only pass. A
  // return from WaitingForConflictResolution (a Verified condition exists) copies again.
  const inStep = dm.metadata.annotations?.[Names.precopy] === PrecopyState.InStep && !dm.status?.conditions?.some((c) => c.type === ConditionType.Verified);
  const results: KindResult[] = [];
  let lastWrite = 0;
  // Progress writes one at a time, each on the CR the previous one returned: two in flight at
  // once make the later fail with 409 (and the final write re-run the whole pass).
  let writes: Promise<void> = Promise.resolve();
  let pageWriteQueued = false;
  const writeProgress = (progress: () => Progress): Promise<void> => {
    writes = writes.then(async () => {
      dm = await writeStatus(ctx, dm, (s) => (s.progress = progress())).catch(async (err: unknown) => {
        ctx.log.warn({ err: (err as Error).message }, "progress status write failed");
        // Another writer changed the CR (or our write landed and its answer was lost): carry on
        // from the CR as it is now, or every later write, the final one too, fails with 409.
        return readMigration(ctx).catch(() => dm);
      });
      lastWrite = ctx.clock.now();
    });
    return writes;
  };
  const hooks: PassHooks = {
    onKindStart: async (kind, i) => {
      // Kinds of a band run together: currentType lists them all.
      const first = results.length === i;
      await writeProgress(() => progressOf(results, (first ? kind.kind : `${dm.status?.progress?.currentType ?? ""}, ${kind.kind}`).slice(0, 253), results.length));
    },
    onKindDone: (result) => {
      results.push(result);
      ctx.log.info({ kind: result.kind, total: result.total, migrated: result.migrated, skipped: result.skipped, conflicts: result.conflicts.length, durationMs: result.durationMs, transitionalMs: result.transitionalRetryMs }, "kind copied");
      ctx.metrics.typeDuration.observe({ kind: result.kind }, result.durationMs / 1000);
    },
    onRestart: () => {
      results.length = 0;
    },
    onPage: (partial) => {
      // Live counters within a large kind, at most once a second.
      if (pageWriteQueued || ctx.clock.now() - lastWrite < 1000) return;
      pageWriteQueued = true;
      lastWrite = ctx.clock.now();
      void writeProgress(() => progressOf([...results, partial], partial.kind, results.length)).finally(() => (pageWriteQueued = false));
    },
  };
  const copyStarted = ctx.clock.now();
  const copied: PassResult | undefined = inStep ? undefined : await runPass(opts, "copy", hooks);
  if (copied) {
    await writes;
    ctx.log.info({ objects: copied.total, written: writtenBy(copied), durationMs: ctx.clock.now() - copyStarted, ipamMs: bandDurationMs(copied, "IPAMBlock") }, "locked copy finished");
    dm = await writeStatus(ctx, dm, (s) => (s.progress = progressOf(copied.kinds, "", CALICO_KINDS.length)));
  }

  // 4. Verification with fresh lists of both sides: nothing is waved through on the copy's counters
  // (after a pre-copy: metadata of both sides, and a full read of whatever differs). First, every
  // kube-apiserver must have dropped the APIService: until then the garbage collector can delete a
  // copy through a lagging replica, after a verification that would no longer see it. Back from
  // WaitingForConflictResolution (a verification ran, the APIService went long before) it has.
  if (!dm.status?.conditions?.some((c) => c.type === ConditionType.Verified)) await settleOn(ctx, dm, "storage", "the verification");
  const verifyStarted = ctx.clock.now();
  // Right after a final delta (this process ran it): nothing but its own writes since its fence
  // means what it established holds; the full verification runs otherwise.
  const fenced = inStep && ctx.state.finalDelta?.fence.uid === uid ? ctx.state.finalDelta : undefined;
  const changed = fenced ? await changedSinceFence(ctx.client, fenced.fence) : "no final delta in this process";
  if (fenced && changed) ctx.log.info({ reason: changed }, "changes since the final delta: full verification");
  const verify = fenced && !changed ? fenced.pass : await runPass(opts, "verify", inStep ? hooks : {});
  ctx.state.finalDelta = undefined;
  ctx.log.info({ objects: verify.total, durationMs: ctx.clock.now() - verifyStarted, metadataFirst: opts.metadataFirst, byFence: verify === fenced?.pass, ipamMs: verify === fenced?.pass ? 0 : bandDurationMs(verify, "IPAMBlock") }, "verification finished");
  const copy = copied ?? verify;
  if (!copied) {
    await writes;
    dm = await writeStatus(ctx, dm, (s) => (s.progress = progressOf(verify.kinds, "", CALICO_KINDS.length)));
  }
  // By fence, the final delta's creates and updates were the copy, not objects found missing.
  const byFence = verify === fenced?.pass;
  const counts: VerificationCounts = {
    v1: verify.total,
    equal: verify.kinds.reduce((n, r) => n + r.skipped + (byFence ? r.migrated + r.refreshed : 0), 0),
    recreated: byFence ? 0 : verify.kinds.reduce((n, r) => n + r.migrated, 0),
    conflicts: verify.conflicts.length,
    extras: verify.kinds.reduce((n, r) => n + r.extras.length, 0),
  };
  const verifyMsg = verificationMessage(counts);
  await ctx.events.record(dm, counts.recreated || counts.conflicts || counts.extras ? "Warning" : "Normal", "Verified", verifyMsg);

  // 5. Foreign dependents point at their new v3 owners only on the way to Converged: with a
  // conflict a v3 owner may be the user's object, which the first fix offered deletes (and the
  // garbage collector its dependents with it). An earlier pass may have re-attached them.
  let reattached: Awaited<ReturnType<typeof reattachForeignOwners>> = [];
  if (remapForeignEnabled(dm)) {
    if (verify.conflicts.length) await redetachForeignOwners(ctx.client, ctx.discovery, uid);
    else reattached = await reattachForeignOwners(ctx.client, ctx.discovery, uid);
  }
  await saveReport(ctx, dm, { copy, verify, reattached });
  // The check may write a LockedTooLong condition: the writes below go on from the CR it returns.
  dm = await lockedWindowCheck(ctx, dm);
  const verified = verifiedCondition(counts, nowIso(ctx));

  if (verify.conflicts.length) {
    const n = verify.conflicts.length;
    await writeStatus(ctx, dm, (s) => {
      s.phase = Phase.WaitingForConflictResolution;
      s.message = `Datastore is locked: resolve ${n} resource conflicts to let the migration continue`;
      s.conditions = withConflicts(setCondition(s.conditions, ConditionType.Verified, verified), verify.conflicts, nowIso(ctx));
      if (s.progress) s.progress.conflicts = n;
    });
    await ctx.events.record(dm, "Warning", "ConflictsFound", `${n} v3 object(s) differ from their v1 source; run: calico-migrate conflicts`);
    return requeueAfter(ctx.config.pollIntervalMs);
  }

  // 6. Unlock v3 and remember where v3 storage stood, for the rollback-safety check at Converged.
  await unlockV3(ctx.client);
  const ci = await getV3ClusterInformation(ctx.client);
  dm = await patchMetadata(ctx, dm, { annotations: { [Names.copyResourceVersion]: ci.metadata.resourceVersion ?? "" } });
  await writeStatus(ctx, dm, (s) => {
    s.phase = Phase.Converged;
    s.message = "Waiting for components to switch to v3 API group";
    s.conditions = withConflicts(setCondition(s.conditions, ConditionType.Verified, verified), [], nowIso(ctx));
  });
  const started = Date.parse(dm.status?.startedAt ?? "");
  if (!Number.isNaN(started)) ctx.metrics.duration.observe((ctx.clock.now() - started) / 1000);
  await ctx.events.record(dm, "Normal", "Converged", `all resources migrated; v3 datastore unlocked (${verifyMsg})`);
  return requeueAfter(0);
}
