/**
 * Resource descriptors (group/version/plural/scope) and the URL paths the API server serves them at.
 */

/** One served resource: enough to build its REST paths. */
export interface ResourceRef {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly namespaced: boolean;
  /** Kind, for objects this code builds and for messages. */
  readonly kind: string;
}

/** The apiVersion string of a resource (`v1` for the core group). */
export function apiVersionOf(ref: Pick<ResourceRef, "group" | "version">): string {
  return ref.group === "" ? ref.version : `${ref.group}/${ref.version}`;
}

/** The collection path, namespaced when `namespace` is given for a namespaced resource. */
export function collectionPath(ref: ResourceRef, namespace?: string): string {
  const base = ref.group === "" ? `/api/${ref.version}` : `/apis/${ref.group}/${ref.version}`;
  if (ref.namespaced && namespace !== undefined && namespace !== "") {
    return `${base}/namespaces/${encodeURIComponent(namespace)}/${ref.plural}`;
  }
  return `${base}/${ref.plural}`;
}

/** The path of one object (and optionally one of its subresources). */
export function objectPath(ref: ResourceRef, name: string, namespace?: string, subresource?: string): string {
  const path = `${collectionPath(ref, namespace)}/${encodeURIComponent(name)}`;
  return subresource ? `${path}/${subresource}` : path;
}

/** `namespace/name` or `name`, the way kubectl prints an object key. */
export function objectKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}
