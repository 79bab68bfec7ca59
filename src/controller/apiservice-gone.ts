/**
 * Keeping the aggregated APIService `v3.projectcalico.org` unregistered while v3 CRD storage is
 * read or written: saved on the CR first (for an abort to restore it), deleted, and an Event when
 * someone had registered it again.
 */
import { Names, type DatastoreMigration } from "../api/datastore-migration.js";
import { saveAndDeleteApiService } from "../migration/apiservice.js";
import { patchMetadata, type ControllerContext } from "./context.js";

const RECREATED_EVENT = {
  type: "Warning",
  reason: "APIServiceRecreated",
  message: "the aggregated APIService v3.projectcalico.org was registered again during the migration and has been unregistered; stop whatever re-creates it (e.g. the operator's APIServer resource or a GitOps sync)",
} as const;

/**
 * Ensures the aggregated APIService is gone (an operator may have re-created it); Event when it
 * was back. `unregistered` tells whether it had to be unregistered now (the group is switching again).
 */
export async function ensureApiServiceGone(
  ctx: ControllerContext,
  dm: DatastoreMigration,
  event: { type: "Normal" | "Warning"; reason: string; message: string } = RECREATED_EVENT,
): Promise<{ dm: DatastoreMigration; unregistered: boolean }> {
  const saved = dm.metadata.annotations?.[Names.savedApiService];
  const r = await saveAndDeleteApiService(ctx.client, Boolean(saved), async (json) => {
    dm = await patchMetadata(ctx, dm, { annotations: { [Names.savedApiService]: json } });
  });
  if (r === "deleted") {
    ctx.discovery.reset();
    await ctx.events.record(dm, event.type, event.reason, event.message);
  }
  return { dm, unregistered: r === "deleted" };
}
