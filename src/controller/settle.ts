/**
 * Waiting for projectcalico.org/v3 to settle on one backend before a step the garbage collector
 * could misjudge (src/migration/aggregator-settle.ts): the verification after the APIService went
 * (invariant 26), and putting Calico owner references back after it returned (invariant 27). A
 * group that never settles does not hold the migration for ever: after the rule's timeout a
 * Warning says so and the step goes on as before.
 */
import type { DatastoreMigration } from "../api/datastore-migration.js";
import { DEFAULT_SETTLE_RULE, waitSettled, type Backend } from "../migration/aggregator-settle.js";
import { formatDuration } from "../kube/duration.js";
import type { ControllerContext } from "./context.js";

const BACKEND_NAME: Record<Backend, string> = { storage: "CRD storage", aggregated: "the Calico API server" };

/** Waits until `want` answers steadily; `before` names the step that waits, for the log and Events. */
export async function settleOn(ctx: ControllerContext, dm: DatastoreMigration, want: Backend, before: string): Promise<void> {
  const quietMs = want === "storage" ? ctx.config.settleQuietMs : ctx.config.restoreQuietMs;
  const out = await waitSettled(ctx.client, ctx.clock, want, { ...DEFAULT_SETTLE_RULE, quietMs });
  ctx.log.info({ backend: want, settled: out.settled, wrong: out.wrong, durationMs: out.waitedMs, before }, `projectcalico.org/v3 settled on ${BACKEND_NAME[want]}`);
  const other = want === "storage" ? "from the Calico API server (a kube-apiserver that has not dropped the APIService v3.projectcalico.org)" : "from CRD storage or as not found";
  // Not settled without a wrong answer: v1 ClusterInformation is gone, nothing could be probed.
  if (!out.settled && out.wrong) {
    await ctx.events.record(dm, "Warning", "APIGroupNotSettled", `after ${formatDuration(out.waitedMs)} projectcalico.org/v3 is still answered ${other} at times (in ${out.wrong} probe rounds); going on with ${before} anyway`);
  } else if (out.settled && out.wrong) {
    await ctx.events.record(dm, "Normal", "APIGroupSettled", `waited ${formatDuration(out.waitedMs)} before ${before} until projectcalico.org/v3 was no longer answered ${other} (in ${out.wrong} probe rounds)`);
  }
}
