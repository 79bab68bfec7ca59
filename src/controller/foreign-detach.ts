/**
 * Detaching dependents from their Calico owners, as the controller does it: foreign ones before the
 * pre-copy's door opens and again before the APIService goes (each time the whole scan, so a
 * dependent created in between is caught; already-detached ones are left as they are), Calico ones
 * in v1 as detachCalicoOwned says.
 */
import { Names, type DatastoreMigration } from "../api/datastore-migration.js";
import { detachCalicoDependents } from "../migration/calico-dependents.js";
import { detachForeignOwners, scanForeignDependents } from "../migration/foreign-owners.js";
import type { ControllerContext } from "./context.js";
import { remapForeignEnabled } from "./engine.js";

/**
 * Why before the door: updating the v3 CRDs re-initialises their storage in kube-apiserver, and the
 * crash soak saw the garbage collector told "not found" for Calico owners at those moments, though
 * the aggregated APIService was registered; it remembers such an owner as absent and deletes
 * dependents that name it (docs/architecture.md, "The garbage collector remembers absent owners").
 * A dependent without Calico owner references gives it nothing to act on.
 */
export async function detachForeignDependents(ctx: ControllerContext, dm: DatastoreMigration, when: string): Promise<number> {
  if (!remapForeignEnabled(dm)) return 0;
  const scan = await scanForeignDependents(ctx.client, ctx.discovery);
  const detached = await detachForeignOwners(ctx.client, scan.dependents, dm.metadata.uid ?? "");
  if (detached) {
    await ctx.events.record(dm, "Normal", "ForeignOwnersDetached", `detached Calico owner references from ${detached} non-Calico object(s) ${when}; they are re-attached to the v3 owners after the copy`);
  }
  return detached;
}

/**
 * The same for Calico objects owned by Calico objects, in v1 (calico-dependents.ts): before the
 * door opens, again right before the lock (what was created during the pre-copy) and, without a
 * pre-copy, at the lock. Not gated by the foreign opt-out: these references never leave Calico's
 * own objects, and the copies carry them. Without `patch` on a v1 kind they stay attached: a
 * Warning says which.
 */
export async function detachCalicoOwned(ctx: ControllerContext, dm: DatastoreMigration, when: string): Promise<number> {
  const out = await detachCalicoDependents(ctx.client, dm.metadata.uid ?? "");
  if (out.changed) {
    await ctx.events.record(dm, "Normal", "CalicoOwnersDetached", `took the Calico owner references of ${out.changed} v1 object(s) out of their metadata annotation ${when} (recorded in ${Names.detachedMetadata}); the copies carry them, and an abort puts them back`);
  }
  if (out.forbidden.length) {
    await ctx.events.record(dm, "Warning", "CalicoOwnersNotDetached", `cannot patch ${out.forbidden.join(", ")}.crd.projectcalico.org: objects there owned by Calico objects keep their owner references, which the garbage collector may misjudge if the migration is aborted; grant patch on them (manifests/rbac)`);
  }
  return out.changed;
}
