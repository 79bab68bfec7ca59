/**
 * The copies written through the pre-copy door carry managedFields entries naming the door's
 * version; before the door is removed they are relabelled `v3` (see managed-fields.ts for why).
 * Done on the way to Complete, not while copying: a relabel is a second write per copy, and before
 * the lock it doubled the pre-copy's time. Metadata-only lists (managedFields
 * included) find the objects still naming the door; idempotent, so a crash just starts it again.
 */
import { CALICO_KINDS, V3_GROUP, V3_VERSION, v3Resource } from "../calico/kinds.js";
import type { KubeClient } from "../kube/client.js";
import { relabelManagedFields, relabelledManagedFields } from "./managed-fields.js";
import { forEachConcurrent } from "./pool.js";
import { DOOR_VERSION } from "./precopy-door.js";

export const DOOR_API_VERSION = `${V3_GROUP}/${DOOR_VERSION}`;
export const V3_API_VERSION = `${V3_GROUP}/${V3_VERSION}`;

/** Relabels every v3 object whose managedFields name the door; returns how many it rewrote. */
export async function relabelCopies(client: KubeClient, concurrency = 16, signal?: AbortSignal): Promise<number> {
  let relabelled = 0;
  for (const kind of CALICO_KINDS) {
    const ref = v3Resource(kind);
    const naming = [];
    for await (const obj of client.listItems(ref, { metadataOnly: true, limit: 500, signal })) {
      if (relabelledManagedFields(obj, DOOR_API_VERSION, V3_API_VERSION)) naming.push(obj);
    }
    await forEachConcurrent(naming, concurrency, async (obj) => {
      if (await relabelManagedFields(client, ref, obj, DOOR_API_VERSION, V3_API_VERSION)) relabelled++;
    });
  }
  return relabelled;
}
