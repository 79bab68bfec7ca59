/**
 * The existing v3 objects of one kind, listed once with paged requests and held as
 * key → (uid, spec digest, migrated-by): enough to classify every v1 object without a GET each.
 */
import { Names } from "../api/datastore-migration.js";
import { v3Resource, type CalicoKind } from "../calico/kinds.js";
import type { JsonSchema } from "../convert/schema.js";
import type { KubeClient } from "../kube/client.js";
import { objectKey } from "../kube/resource.js";
import { specHash } from "./spec-hash.js";

/** What the index keeps of one v3 object. */
export interface V3Entry {
  uid: string;
  hash: string;
  migratedBy?: string;
}

/** Lists every v3 object of a kind into a map keyed `namespace/name`. */
export async function indexV3(client: KubeClient, kind: CalicoKind, schema: JsonSchema, pageSize: number, signal?: AbortSignal): Promise<Map<string, V3Entry>> {
  const index = new Map<string, V3Entry>();
  for await (const obj of client.listItems(v3Resource(kind), { limit: pageSize, signal })) {
    index.set(objectKey(obj.metadata.namespace, obj.metadata.name ?? ""), {
      uid: obj.metadata.uid ?? "",
      hash: specHash(kind.kind, obj.spec, schema),
      migratedBy: obj.metadata.annotations?.[Names.migratedBy],
    });
  }
  return index;
}
