/**
 * Stores Calico objects in crd.projectcalico.org/v1 the way the Calico API server (libcalico's
 * CRD backend) does: v1 CR name, only Calico labels/annotations on the CR, the v3 metadata in the
 * `projectcalico.org/metadata` annotation with v3 owner references rewritten to v1 + converted uid.
 */
import { kindByName, v1Resource, V1_GROUP, V3_GROUP } from "../../src/calico/kinds.js";
import { convertUid } from "../../src/convert/uid.js";
import type { KubeClient } from "../../src/kube/client.js";
import type { KubeObject, ObjectMeta, OwnerReference } from "../../src/kube/object.js";

/** A Calico object as a user wrote it against projectcalico.org/v3. */
export interface V3Input {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; ownerReferences?: OwnerReference[]; creationTimestamp?: string };
  spec?: unknown;
}

/** How the v1 CR is laid out; defaults follow Calico v3.32 (policy names stored as is, name in the annotation). */
export interface V1WriteOptions {
  /** Store under this CR name instead (e.g. a legacy `default.foo`). */
  crName?: string;
  /** Leave `name` out of the metadata annotation (pre-v3.30 policies). */
  omitNameInAnnotation?: boolean;
  /** Write no metadata annotation at all (objects written by old releases or by IPAM code). */
  noMetadataAnnotation?: boolean;
  /** Override the annotation text verbatim (malformed-input tests). */
  rawMetadataAnnotation?: string;
}

const POLICY_KINDS = new Set(["GlobalNetworkPolicy", "NetworkPolicy", "StagedGlobalNetworkPolicy", "StagedNetworkPolicy"]);
const METADATA = "projectcalico.org/metadata";

function isOurs(key: string): boolean {
  return key.includes("projectcalico.org/") || key.includes("operator.tigera.io/");
}

/** The v1 CR for a v3 object (pure). */
export function v1FromV3(obj: V3Input, options: V1WriteOptions = {}): KubeObject {
  const c = kindByName(obj.kind);
  if (!c) throw new Error(`unknown Calico kind ${obj.kind}`);
  const m = obj.metadata;
  const annotationMeta: ObjectMeta = {
    creationTimestamp: m.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, "Z"),
  };
  if (POLICY_KINDS.has(obj.kind) && !options.omitNameInAnnotation) annotationMeta.name = m.name;
  if (m.labels) annotationMeta.labels = m.labels;
  if (m.annotations) annotationMeta.annotations = m.annotations;
  if (m.ownerReferences) {
    annotationMeta.ownerReferences = m.ownerReferences.map((r) =>
      r.apiVersion === `${V3_GROUP}/v3` ? { ...r, apiVersion: `${V1_GROUP}/v1`, uid: convertUid(r.uid) } : r,
    );
  }
  const labels = Object.fromEntries(Object.entries(m.labels ?? {}).filter(([key]) => isOurs(key)));
  const annotations: Record<string, string> = Object.fromEntries(Object.entries(m.annotations ?? {}).filter(([key]) => isOurs(key)));
  if (!options.noMetadataAnnotation) annotations[METADATA] = options.rawMetadataAnnotation ?? JSON.stringify(annotationMeta);
  const metadata: ObjectMeta = { name: options.crName ?? m.name };
  if (m.namespace) metadata.namespace = m.namespace;
  if (Object.keys(labels).length) metadata.labels = labels;
  if (Object.keys(annotations).length) metadata.annotations = annotations;
  return { apiVersion: `${V1_GROUP}/v1`, kind: c.v1Kind, metadata, spec: obj.spec ?? {} };
}

/** Creates the v1 CR for a v3 object; returns the stored CR (its uid is the v1 uid). */
export async function writeV1(client: KubeClient, obj: V3Input, options: V1WriteOptions = {}): Promise<KubeObject> {
  const c = kindByName(obj.kind);
  if (!c) throw new Error(`unknown Calico kind ${obj.kind}`);
  return client.create(v1Resource(c), v1FromV3(obj, options));
}

/** Creates a raw v1 CR exactly as given (IPAM objects, which libcalico's IPAM code writes without v3 metadata). */
export async function writeRawV1(client: KubeClient, v3Kind: string, cr: { metadata: ObjectMeta; spec?: unknown }): Promise<KubeObject> {
  const c = kindByName(v3Kind);
  if (!c) throw new Error(`unknown Calico kind ${v3Kind}`);
  return client.create(v1Resource(c), { apiVersion: `${V1_GROUP}/v1`, kind: c.v1Kind, ...cr });
}

/** The uid the Calico API server showed for a stored v1 CR (what users put in owner references). */
export function apiServerUid(cr: KubeObject): string {
  return convertUid(cr.metadata.uid ?? "");
}

/** An owner reference to the v3 view of a stored v1 CR, as a user would have written it. */
export function ownerRefTo(cr: KubeObject, v3Kind: string): OwnerReference {
  return { apiVersion: `${V3_GROUP}/v3`, kind: v3Kind, name: cr.metadata.name ?? "", uid: apiServerUid(cr) };
}
