/**
 * Detaching foreign dependents from their Calico owners, as the controller does it: before the
 * pre-copy's door opens and again before the APIService goes (each time the whole scan, so a
 * dependent created in between is caught; already-detached ones are left as they are).
 */
import type { DatastoreMigration } from "../api/datastore-migration.js";
import { detachForeignOwners, scanForeignDependents } from "../migration/foreign-owners.js";
import type { ControllerContext } from "./context.js";
import { remapForeignEnabled } from "./engine.js";

/**
 * Why before the door: updating the v3 CRDs re-initialises their storage in kube-apiserver, and the
 * crash soak saw the garbage collector told "not found" for Calico owners at those moments, though
 * the aggregated APIService was registered; it remembers such an owner as absent and deletes
 * dependents that name it (docs/architecture.md, "Open: the garbage collector remembers absent
 * owners"). A dependent without Calico owner references gives it nothing to act on.
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
