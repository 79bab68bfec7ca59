/**
 * Converged: v3 is unlocked and v1 stays locked (nodes still on v1 keep refusing new pod IPs, so
 * no IPAM allocation is lost); wait until every present component runs with the v3 API group
 * and its rollout is finished, then Complete.
 */
import { Phase, type DatastoreMigration } from "../api/datastore-migration.js";
import { forgetForeignOriginals } from "../migration/foreign-owners.js";
import { componentsNamespace, componentStates, joinNames } from "../migration/components.js";
import { V3_API_GROUP } from "../migration/rollout.js";
import { nowIso, setMessage, writeStatus, type ControllerContext } from "./context.js";
import { requeueAfter, type Result } from "./outcome.js";
import { isOperatorManaged } from "./operator.js";
import { closePrecopy } from "./precopy.js";

/** Handles phase Converged (also while a deletion waits for completion). */
export async function handleConverged(ctx: ControllerContext, dm: DatastoreMigration, messagePrefix = ""): Promise<Result> {
  const namespace = await componentsNamespace(ctx.client, ctx.config.componentsNamespace);
  const states = (await componentStates(ctx.client, namespace)).filter((s) => s.present);
  const operator = await isOperatorManaged(ctx);
  const missing = states.filter((s) => !s.configured).map((s) => s.name);
  if (missing.length) {
    const what = joinNames(missing);
    const message = operator
      ? `Waiting for operator to configure ${what} with v3 API group`
      : `Waiting for user to set CALICO_API_GROUP=${V3_API_GROUP} on ${what} (calico-migrate switch-components)`;
    await setMessage(ctx, dm, messagePrefix + message);
    return requeueAfter(ctx.config.pollIntervalMs);
  }
  const waiting = states.map((s) => s.rolloutWaiting).find((w) => w !== undefined);
  if (waiting) {
    await setMessage(ctx, dm, messagePrefix + waiting);
    return requeueAfter(ctx.config.pollIntervalMs);
  }
  await forgetForeignOriginals(ctx.client, ctx.discovery, dm.metadata.uid ?? "");
  // The pre-copy's copies are relabelled v3 and its temporary version removed (once; also after a
  // fallen-back pre-copy, which may have left the version on some CRDs). Not before: a CRD update
  // restarts the API server's watch cache of its kind, and the rollback-safety check at Converged
  // watches v3 from the end of the copy — history a restart would lose.
  dm = await closePrecopy(ctx, dm);
  await writeStatus(ctx, dm, (s) => {
    s.phase = Phase.Complete;
    s.message = "Migration complete";
    s.completedAt = nowIso(ctx);
  });
  await ctx.events.record(dm, "Normal", "Complete", `all components run with CALICO_API_GROUP=${V3_API_GROUP}; delete the DatastoreMigration (calico-migrate finalize) to remove the v1 CRDs`);
  // A deletion waiting for Complete goes on to the v1 CRD cleanup at once.
  return requeueAfter(0);
}
