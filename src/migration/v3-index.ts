/**
 * The existing v3 objects of one kind, listed once with paged requests and held as
 * key → (uid, spec digest, migrated-by): enough to classify every v1 object without a GET each.
 */
import { Names } from "../api/datastore-migration.js";
import type { CalicoKind } from "../calico/kinds.js";
import type { JsonSchema } from "../convert/schema.js";
import type { KubeClient } from "../kube/client.js";
import type { KubeObject } from "../kube/object.js";
import { objectKey, type ResourceRef } from "../kube/resource.js";
import { specHash } from "./spec-hash.js";

/** What the index keeps of one v3 object. */
export interface V3Entry {
  uid: string;
  hash: string;
  migratedBy?: string;
  /** The v1 resourceVersion a copy of ours was made from. */
  sourceRv?: string;
  /** True when no other field manager owns any of the object's spec or labels (see ownedOnlyBy). */
  untouched?: boolean;
}

interface ManagedFieldsEntry {
  manager?: string;
  fieldsV1?: { "f:spec"?: unknown; "f:metadata"?: { "f:labels"?: unknown } };
}

/**
 * True when every managedFields entry that owns spec or label fields is `manager`'s: nobody else
 * has changed what this migration wrote (status writes and the relabelling of its own entries do
 * not count). An object without managedFields (reset by someone) is not known to be untouched.
 */
export function ownedOnlyBy(obj: KubeObject, manager: string): boolean {
  const entries = (obj.metadata.managedFields ?? []) as ManagedFieldsEntry[];
  if (entries.length === 0) return false;
  return entries.every((e) => e.manager === manager || (e.fieldsV1?.["f:spec"] === undefined && e.fieldsV1?.["f:metadata"]?.["f:labels"] === undefined));
}

/** The index entry of a v3 object. */
export function v3Entry(kind: CalicoKind, obj: KubeObject, schema: JsonSchema, fieldManager: string): V3Entry {
  const a = obj.metadata.annotations ?? {};
  return {
    uid: obj.metadata.uid ?? "",
    hash: specHash(kind.kind, obj.spec, schema),
    migratedBy: a[Names.migratedBy],
    sourceRv: a[Names.sourceResourceVersion],
    untouched: ownedOnlyBy(obj, fieldManager),
  };
}

/** Lists every v3 object of a kind (read through `ref`: v3 or the pre-copy door) into a map keyed `namespace/name`. */
export async function indexV3(client: KubeClient, ref: ResourceRef, kind: CalicoKind, schema: JsonSchema, fieldManager: string, pageSize: number, signal?: AbortSignal): Promise<Map<string, V3Entry>> {
  const index = new Map<string, V3Entry>();
  for await (const obj of client.listItems(ref, { limit: pageSize, signal })) {
    index.set(objectKey(obj.metadata.namespace, obj.metadata.name ?? ""), v3Entry(kind, obj, schema, fieldManager));
  }
  return index;
}
