/**
 * Whether every dependent whose Calico owner references this migration detached can be found
 * again: resources the controller cannot list are named in a ForeignOwnersNotScanned condition
 * (with the fix), never skipped silently.
 */
import { ConditionType, type DatastoreMigration } from "../api/datastore-migration.js";
import { DETACHED_LABEL, scanForeignDependents } from "../migration/foreign-owners.js";
import { setCondition } from "./conditions.js";
import { nowIso, writeStatus, type ControllerContext } from "./context.js";

/** A resource that could not be listed, and why. */
export interface NotScanned {
  resource: string;
  reason: string;
}

const SHOWN = 5;

/** The condition's message: the resources (the first few) and what fixes it. */
export function notScannedMessage(notScanned: readonly NotScanned[]): string {
  const shown = notScanned.slice(0, SHOWN).map((n) => `${n.resource} (${n.reason})`).join(", ");
  const more = notScanned.length > SHOWN ? ` and ${notScanned.length - SHOWN} more` : "";
  return `cannot list ${notScanned.length} resource(s) to find the objects whose Calico owner references this migration detached: ${shown}${more}. ` +
    "Grant the controller list on them, or apply the optional ClusterRole (manifests/optional/foreign-owner-references.yaml, or calico-migrate plan --emit-rbac)";
}

/**
 * Lists (by the migration's label) every resource that may hold a detached dependent; sets the
 * ForeignOwnersNotScanned condition when some cannot be listed and clears it when all can.
 * Returns the CR as written and what could not be scanned.
 */
export async function checkDetachedScannable(ctx: ControllerContext, dm: DatastoreMigration): Promise<{ dm: DatastoreMigration; notScanned: NotScanned[] }> {
  const scan = await scanForeignDependents(ctx.client, ctx.discovery, { labelSelector: `${DETACHED_LABEL}=${dm.metadata.uid ?? ""}` });
  const flagged = dm.status?.conditions?.find((c) => c.type === ConditionType.ForeignOwnersNotScanned);
  if (scan.notScanned.length) {
    const message = notScannedMessage(scan.notScanned);
    if (flagged?.message !== message) {
      await ctx.events.record(dm, "Warning", "ForeignOwnersNotScanned", message);
      dm = await writeStatus(ctx, dm, (s) => (s.conditions = setCondition(s.conditions, ConditionType.ForeignOwnersNotScanned, {
        type: ConditionType.ForeignOwnersNotScanned, status: "True", reason: "ListFailed", message, lastTransitionTime: nowIso(ctx),
      })));
    }
  } else if (flagged) {
    dm = await writeStatus(ctx, dm, (s) => (s.conditions = setCondition(s.conditions, ConditionType.ForeignOwnersNotScanned, undefined)));
  }
  return { dm, notScanned: scan.notScanned };
}
