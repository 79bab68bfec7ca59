/**
 * The body a converted v1 object is written to v3 with — the one builder the copy uses for its
 * creates and `calico-migrate conflicts` prints as the "replace" resolution, so what a user is told
 * to apply is exactly what the migration would have written.
 */
import type { ConvertedObject } from "../convert/convert.js";
import { pruneSpec } from "../convert/normalize.js";
import type { JsonSchema } from "../convert/schema.js";
import type { KubeObject, OwnerReference } from "../kube/object.js";

/** What the caller adds: the copy's migrated-by annotation and the owner references it remapped. */
export interface V3BodyExtras {
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
}

/**
 * The converted object without server-set fields (uid, resourceVersion, timestamps) and without
 * owner references unless given; spec fields the v3 schema does not know (legacy IPPool ipip, …)
 * are dropped, as the API server would.
 */
export function v3Body(c: ConvertedObject, schema: JsonSchema, extras: V3BodyExtras = {}): KubeObject {
  const m = c.v3.metadata;
  const metadata: KubeObject["metadata"] = { name: m.name };
  if (m.namespace) metadata.namespace = m.namespace;
  if (m.labels && Object.keys(m.labels).length) metadata.labels = m.labels;
  const annotations = { ...(m.annotations ?? {}), ...(extras.annotations ?? {}) };
  if (Object.keys(annotations).length) metadata.annotations = annotations;
  if (extras.ownerReferences?.length) metadata.ownerReferences = extras.ownerReferences;
  return { apiVersion: c.v3.apiVersion, kind: c.v3.kind, metadata, spec: pruneSpec(c.v3.spec, schema) };
}
