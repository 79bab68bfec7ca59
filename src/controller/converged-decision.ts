/**
 * The one decision about v3 data once a migration has reached Converged: roll back (delete the v3
 * copies, back to API-server mode) or keep them and drive on. Taken once, when the CR is deleted
 * or the migration fails at Converged or later, and recorded on the CR before the first
 * destructive step, so that every re-entry (and `calico-migrate abort`) honours the same answer.
 */
import { DeletionDecision, deletionDecisionOf, Names, Phase, phaseOf, type DatastoreMigration } from "../api/datastore-migration.js";
import { patchMetadata, type ControllerContext } from "./context.js";
import { rollbackSafety } from "../migration/rollback-safety.js";

/** Why the decision is being taken: the CR was deleted, or the migration failed. */
export type DecisionCause = "deletion" | "failure";

const SAFE_REASON = "no component uses the v3 API group and nothing was written to v3 since the copy";
const COMPLETE_REASON = "the migration is Complete: every component runs with the v3 API group";

/**
 * Returns the CR with the decision recorded: an existing one is kept; at Complete it is always
 * "complete" (never roll back); otherwise the rollback-safety check decides.
 */
export async function decideAtConverged(ctx: ControllerContext, dm: DatastoreMigration, cause: DecisionCause): Promise<DatastoreMigration> {
  if (deletionDecisionOf(dm)) return dm;
  const complete = phaseOf(dm) === Phase.Complete;
  const safety = complete ? { safe: false, reason: COMPLETE_REASON } : await rollbackSafety(ctx.client, dm, ctx.config.componentsNamespace);
  const decision = safety.safe ? DeletionDecision.Rollback : DeletionDecision.Complete;
  const reason = safety.safe ? SAFE_REASON : safety.reason;
  const updated = await patchMetadata(ctx, dm, { annotations: { [Names.deletionDecision]: decision, [Names.deletionDecisionReason]: reason } });
  if (safety.safe) await ctx.events.record(dm, "Normal", "RollbackAtConverged", `${reason}: rolling back`);
  else if (cause === "deletion") await ctx.events.record(dm, "Warning", "DeletionDrivesOnToComplete", `the migration is Converged and cannot be rolled back (${reason}): it goes on to Complete, then the v1 CRDs are deleted`);
  else await ctx.events.record(dm, "Warning", "NotRolledBack", `the migration failed after Converged and is not rolled back (${reason}): the v3 data is kept`);
  return updated;
}

/** The recorded reason of the decision ("" when none was recorded). */
export function decisionReason(dm: DatastoreMigration): string {
  return dm.metadata.annotations?.[Names.deletionDecisionReason] ?? "";
}
