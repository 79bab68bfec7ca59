/**
 * What the user runs next, for every state a migration can be in: the exact commands, each
 * optionally followed by `# why`. Commands print these so a user (or a script) can follow them.
 */
import { Names, Phase, phaseOf, type DatastoreMigration } from "../../api/datastore-migration.js";

/** Facts beyond the CR that change the advice. */
export interface NextContext {
  /** An operator.tigera.io Installation exists: the operator switches the components. */
  operatorManaged: boolean;
}

/** The watch command that stops where the user has to act next. */
export function watchCommand(ctx: NextContext): string {
  return ctx.operatorManaged ? "calico-migrate watch" : "calico-migrate watch --until Converged";
}

/** The next commands for a migration (undefined: none exists). */
export function nextSteps(dm: DatastoreMigration | undefined, ctx: NextContext): string[] {
  if (!dm) return ["calico-migrate plan", "calico-migrate start"];
  const phase = phaseOf(dm);
  if (dm.metadata.deletionTimestamp) {
    return phase === Phase.Complete
      ? ["calico-migrate finalize --yes   # follows the v1 CRD cleanup until the CR is gone"]
      : ["calico-migrate abort --yes   # follows the rollback until the CR is gone"];
  }
  switch (phase) {
    case Phase.Pending: {
      const blocked = !dm.status?.datastoreLockedAt && Boolean(dm.status?.message) && dm.status?.message !== "Prerequisites met";
      return blocked
        ? ["calico-migrate plan   # every blocker with its fix; the controller starts once none is left", watchCommand(ctx)]
        : [watchCommand(ctx)];
    }
    case Phase.Migrating:
      return [watchCommand(ctx)];
    case Phase.WaitingForConflictResolution:
      return ["calico-migrate conflicts   # every conflict with the commands that resolve it"];
    case Phase.Converged:
      return ctx.operatorManaged
        ? ["calico-migrate watch   # the operator switches the components; wait for Complete", "calico-migrate finalize"]
        : ["calico-migrate switch-components", "calico-migrate finalize"];
    case Phase.Complete:
      return ["calico-migrate finalize"];
    case Phase.Failed:
      return ["calico-migrate report", "calico-migrate abort   # removes the failed migration (a Failed migration took no lock)"];
    default: {
      const never: never = phase;
      throw new Error(`unknown phase ${String(never)}`);
    }
  }
}

/** The order phases are reached in (WaitingForConflictResolution between Migrating and Converged). */
const RANK: Readonly<Record<Phase, number>> = {
  Pending: 0,
  Migrating: 1,
  WaitingForConflictResolution: 2,
  Converged: 3,
  Complete: 4,
  Failed: -1,
};

/** True when `phase` is `target` or later (never for Failed). */
export function reached(phase: Phase, target: Phase): boolean {
  return phase !== Phase.Failed && RANK[phase] >= RANK[target];
}

/** True when the user opted out of foreign owner-reference remapping on this CR. */
export function remapDisabled(dm: DatastoreMigration): boolean {
  return dm.metadata.annotations?.[Names.remapForeignOwnerReferences] === "false";
}
