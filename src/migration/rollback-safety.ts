/**
 * Whether a Converged migration can still be rolled back: only when no component runs with the
 * v3 API group yet and nothing was written to v3 since the copy — checked, not assumed, by
 * watching every v3 kind from the resourceVersion recorded at the end of the copy. A watch that
 * cannot be resumed (history compacted) counts as unsafe.
 */
import { Names, type DatastoreMigration } from "../api/datastore-migration.js";
import { CALICO_KINDS, CLUSTER_INFORMATION_V3, v3Resource } from "../calico/kinds.js";
import type { WatchEvent } from "../kube/object.js";
import type { ResourceRef } from "../kube/resource.js";
import { componentsNamespace, componentStates } from "./components.js";
import { firstWrite } from "./first-write.js";
import type { KubeClient } from "../kube/client.js";
import { COPY_FIELD_MANAGER } from "./copy-writes.js";
import { ownedOnlyBy } from "./v3-index.js";

/** The verdict, with the reason when unsafe. */
export interface Safety {
  safe: boolean;
  reason: string;
}

/** Checks both conditions (shared by the controller and `calico-migrate abort`). */
export async function rollbackSafety(client: KubeClient, dm: DatastoreMigration, configuredNamespace?: string): Promise<Safety> {
  const namespace = await componentsNamespace(client, configuredNamespace);
  const switched = (await componentStates(client, namespace)).filter((s) => s.anyConfigured).map((s) => s.name);
  if (switched.length) return { safe: false, reason: `${switched.join(", ")} already run with the v3 API group` };
  const rv = dm.metadata.annotations?.[Names.copyResourceVersion];
  if (!rv) return { safe: false, reason: "the end of the copy was not recorded" };
  const refs: ResourceRef[] = [...CALICO_KINDS.map(v3Resource), CLUSTER_INFORMATION_V3];
  const uid = dm.metadata.uid ?? "";
  // This migration's own relabelling of its copies' managedFields (at Converged): a copy still
  // ours and untouched holds nothing a rollback would lose.
  const relabel = (ev: WatchEvent) => ev.type === "MODIFIED" && ev.object.metadata.annotations?.[Names.migratedBy] === uid && ownedOnlyBy(ev.object, COPY_FIELD_MANAGER);
  const verdicts = await Promise.all(refs.map(async (ref) => {
    const found = await firstWrite(client, ref, rv, relabel);
    if (!found) return undefined;
    if ("write" in found) return `${found.write} was written in v3 since the copy`;
    if ("gone" in found) return `v3 ${ref.kind} history since the copy is no longer available, so no write can be ruled out`;
    return `could not check v3 ${ref.kind} for writes since the copy: ${found.error}`;
  }));
  const written = verdicts.find((v) => v !== undefined);
  return written ? { safe: false, reason: written } : { safe: true, reason: "" };
}
