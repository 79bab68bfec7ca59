/**
 * One reconcile of `v1-to-v3`: read the CR, refuse what it must refuse (another writer, another
 * name, an unsupported type), then dispatch on deletion or phase; and the handling of the three
 * error outcomes (terminal → Failed, retryable → status.message, requeue-after → poll).
 */
import {
  ConditionReason,
  ConditionType,
  DeletionDecision,
  deletionDecisionOf,
  MIGRATION_NAME,
  MigrationType,
  Phase,
  phaseOf,
  type DatastoreMigration,
} from "../api/datastore-migration.js";
import { describeError } from "../kube/errors.js";
import { getMigration as readMigration } from "../api/read-migration.js";
import { setCondition } from "./conditions.js";
import { dmResource, FIELD_MANAGER, nowIso, setMessage, writeStatus, type ControllerContext } from "./context.js";
import { done, isTerminal, requeueAfter, TerminalError, type Result } from "./outcome.js";
import { handleConverged } from "./phase-converged.js";
import { handleDeletion } from "./phase-deletion.js";
import { handleMigrating } from "./phase-migrating.js";
import { handlePending } from "./phase-pending.js";
import { handleWaiting } from "./phase-waiting.js";
import { closePrecopy } from "./precopy.js";
import { failMigration, finishRestore, restoredMessage, restorePending } from "./restore.js";

/** How recent another manager's status write must be for us to stand back. */
const OTHER_WRITER_WINDOW_MS = 2 * 60_000;

function getMigration(ctx: ControllerContext, name = MIGRATION_NAME): Promise<DatastoreMigration | undefined> {
  return readMigration(ctx.client, ctx.version(), name);
}

/** The manager of another recent status write on the CR (e.g. Calico's kube-controllers), if any. */
export function otherStatusWriter(dm: DatastoreMigration, now: number): string | undefined {
  const fields = (dm.metadata.managedFields ?? []) as { manager?: string; subresource?: string; time?: string }[];
  for (const f of fields) {
    if (f.subresource !== "status" || !f.manager || f.manager === FIELD_MANAGER) continue;
    if (now - Date.parse(f.time ?? "") < OTHER_WRITER_WINDOW_MS) return f.manager;
  }
  return undefined;
}

/** Reconciles `v1-to-v3` once; errors other than terminal ones propagate (retryable). */
export async function reconcile(ctx: ControllerContext): Promise<Result> {
  let dm = await getMigration(ctx);
  if (!dm) {
    // A CR with another name is still told that it is ignored, also when it is the only one.
    await flagOtherMigrations(ctx, undefined);
    return done;
  }
  if (ctx.version() !== "v1" && ctx.state.deprecationWarned !== dm.metadata.uid) {
    await ctx.events.record(dm, "Warning", "DeprecatedAPIVersion", "the cluster serves only the deprecated migration.projectcalico.org/v1beta1 DatastoreMigration API; the migration proceeds through it — apply manifests/crd to serve v1");
    ctx.state.deprecationWarned = dm.metadata.uid;
  }
  dm = await flagOtherMigrations(ctx, dm);

  // Also during deletion: two controllers running the abort (or the v1 CRD cleanup) at once
  // would each undo what the other is doing.
  const other = otherStatusWriter(dm, ctx.clock.now());
  if (other) {
    const waits = dm.metadata.deletionTimestamp ? "; the deletion waits too" : "";
    const message = `another controller ("${other}") is writing this migration's status; standing back until it stops${waits}. Run only one migration controller (see README: "Running alongside Calico's kube-controllers")`;
    if (dm.status?.conditions?.find((c) => c.type === ConditionType.AnotherWriter)?.message !== message) {
      await ctx.events.record(dm, "Warning", "AnotherWriter", message);
      await writeStatus(ctx, dm, (s) => (s.conditions = setCondition(s.conditions, ConditionType.AnotherWriter, {
        type: ConditionType.AnotherWriter, status: "True", reason: "AnotherWriter", message, lastTransitionTime: nowIso(ctx),
      })));
    }
    return requeueAfter(30_000);
  }
  if (dm.status?.conditions?.some((c) => c.type === ConditionType.AnotherWriter)) {
    dm = await writeStatus(ctx, dm, (s) => (s.conditions = setCondition(s.conditions, ConditionType.AnotherWriter, undefined)));
  }

  // Deletion first, then a Failed migration's unfinished restore: whatever the spec says now, the
  // cluster can always be unlocked and put back in API-server mode.
  if (dm.metadata.deletionTimestamp) return handleDeletion(ctx, dm);
  if (phaseOf(dm) === Phase.Failed) {
    // A restore that must wait (a resource it cannot list) is looked at again at the poll interval.
    dm = await finishRestore(ctx, dm, restoredMessage(dm));
    if (restorePending(dm)) return requeueAfter(ctx.config.pollIntervalMs);
    // Failed at Converged keeping the v3 data: the pre-copy's door goes as on the way to Complete
    // (copies relabelled v3 first), rather than stay on the v3 CRDs for good.
    if (deletionDecisionOf(dm) === DeletionDecision.Complete) await closePrecopy(ctx, dm);
    return done;
  }
  if (dm.spec?.type !== MigrationType.APIServerToCRDs) {
    throw new TerminalError(`unsupported migration type: "${dm.spec?.type ?? ""}" (only "${MigrationType.APIServerToCRDs}" is supported)`);
  }
  const phase = phaseOf(dm);
  switch (phase) {
    case Phase.Pending:
      return handlePending(ctx, dm);
    case Phase.Migrating:
      return handleMigrating(ctx, dm);
    case Phase.WaitingForConflictResolution:
      return handleWaiting(ctx, dm);
    case Phase.Converged:
      return handleConverged(ctx, dm);
    case Phase.Complete:
    case Phase.Failed:
      return done;
    default: {
      const never: never = phase;
      throw new Error(`unknown migration phase: ${String(never)}`);
    }
  }
}

/**
 * DatastoreMigrations with another name are ignored, told so in their own status, and flagged on
 * v1-to-v3 (the Tigera operator reads the first CR it lists, so a stray one can hide ours).
 */
async function flagOtherMigrations(ctx: ControllerContext, dm: DatastoreMigration): Promise<DatastoreMigration>;
async function flagOtherMigrations(ctx: ControllerContext, dm: undefined): Promise<undefined>;
async function flagOtherMigrations(ctx: ControllerContext, dm: DatastoreMigration | undefined): Promise<DatastoreMigration | undefined> {
  const others = (await ctx.client.listAll(dmResource(ctx))).filter((o) => o.metadata.name !== MIGRATION_NAME) as unknown as DatastoreMigration[];
  for (const o of others) {
    const msg = `ignored: only the DatastoreMigration named "${MIGRATION_NAME}" is acted on; delete this one (kubectl delete datastoremigration ${o.metadata.name})`;
    if (o.status?.message !== msg) await setMessage(ctx, o, msg).catch(() => undefined);
  }
  if (!dm) return undefined;
  const flagged = dm.status?.conditions?.some((c) => c.type === ConditionType.OtherMigrations) ?? false;
  if (others.length && !flagged) {
    const message = `other DatastoreMigrations exist and are ignored: ${others.map((o) => o.metadata.name).join(", ")}; delete them — the operator may read one of them instead of ${MIGRATION_NAME}`;
    await ctx.events.record(dm, "Warning", "OtherMigrations", message);
    return writeStatus(ctx, dm, (s) => (s.conditions = setCondition(s.conditions, ConditionType.OtherMigrations, {
      type: ConditionType.OtherMigrations, status: "True", reason: "OtherMigrationsIgnored", message, lastTransitionTime: nowIso(ctx),
    })));
  }
  if (!others.length && flagged) return writeStatus(ctx, dm, (s) => (s.conditions = setCondition(s.conditions, ConditionType.OtherMigrations, undefined)));
  return dm;
}

/**
 * Turns an error of a reconcile into status: terminal → phase Failed with a Failed condition;
 * anything else → status.message (the phase is untouched). Returns whether the status write
 * succeeded (the caller retries with backoff either way for retryable errors).
 */
export async function recordError(ctx: ControllerContext, err: unknown): Promise<void> {
  const dm = await getMigration(ctx);
  if (!dm) return;
  const text = describeError(err);
  if (isTerminal(err)) {
    await failMigration(ctx, dm, { reason: ConditionReason.MigrationError, condition: text, message: text, event: text });
    return;
  }
  await setMessage(ctx, dm, text);
}
