/**
 * The v3 metadata of a v1 CR, as the Calico API server presented it: the CR's own metadata
 * overlaid by the JSON in its `projectcalico.org/metadata` annotation, owner references to Calico
 * objects rewritten to their v3 view, and the policy name rule (reference §3.1). Server-owned
 * fields (resourceVersion, generation, creationTimestamp, managedFields, selfLink, deletion
 * fields) are not carried; finalizers are carried only from the annotation (the CR's own belong
 * to the v1 object's lifecycle).
 */
import { Names } from "../api/datastore-migration.js";
import { kindByName, V3_GROUP, V3_VERSION, type CalicoKind } from "../calico/kinds.js";
import type { KubeObject, OwnerReference } from "../kube/object.js";
import { ConversionError, editCommand, type ConversionSubject } from "./conversion-error.js";
import { isCalicoOwnerReference } from "./detached-metadata.js";
import { convertUid, InvalidUidError } from "./uid.js";

/** The metadata annotation's key. */
export const METADATA_ANNOTATION = Names.calicoMetadata;

const ANNOTATION_FIELD = `metadata.annotations[${METADATA_ANNOTATION}]`;

/** The metadata fields of the v3 view that survive conversion (server-owned fields are dropped). */
export interface V3Metadata {
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
}

/** The decoded metadata annotation, shape-checked. */
interface AnnotationMeta {
  name?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
}

/** True for the tiered policy kinds (GNP, NP, SGNP, SNP: the kind table's "policy" converter), whose legacy default-tier CR names carry a `default.` prefix. */
export function isTieredPolicyKind(kind: string): boolean {
  return kindByName(kind)?.converter === "policy";
}

/**
 * The v3 name of an object: the annotation's name when non-empty; otherwise, for a default-tier
 * GNP/NP/SGNP/SNP whose CR has a metadata annotation, the CR name with one leading `default.`
 * removed; otherwise the CR name. `annotation` is undefined when the CR has no metadata annotation.
 */
export function v3Name(kind: string, crName: string, annotation: { name?: string } | undefined, tier: unknown): string {
  if (annotation === undefined) return crName;
  if (annotation.name) return annotation.name;
  const defaultTier = tier === undefined || tier === null || tier === "" || tier === "default";
  if (isTieredPolicyKind(kind) && defaultTier && crName.startsWith("default.")) return crName.slice("default.".length);
  return crName;
}

/** The v3 metadata of a v1 CR; throws ConversionError for a malformed annotation or owner reference. */
export function v3MetadataOf(c: CalicoKind, cr: KubeObject, subject: ConversionSubject): V3Metadata {
  const crName = cr.metadata.name ?? "";
  const crAnnotations = { ...(cr.metadata.annotations ?? {}) };
  const raw = crAnnotations[METADATA_ANNOTATION];
  if (raw === undefined) {
    // No annotation: the API server showed the CR's own metadata. Owner references are still
    // rewritten (the API server did not), so a v1-level reference becomes one the remap can follow.
    return compact({
      name: crName,
      labels: cr.metadata.labels,
      annotations: crAnnotations,
      ownerReferences: convertOwnerReferences(cr.metadata.ownerReferences, subject, "the CR"),
    });
  }
  delete crAnnotations[METADATA_ANNOTATION];
  const meta = decodeAnnotation(raw, subject);
  const annotations = { ...crAnnotations, ...meta.annotations };
  delete annotations[METADATA_ANNOTATION];
  const tier = (cr.spec as { tier?: unknown } | undefined)?.tier;
  return compact({
    name: v3Name(c.kind, crName, meta, tier),
    labels: { ...cr.metadata.labels, ...meta.labels },
    annotations,
    ownerReferences: convertOwnerReferences(meta.ownerReferences, subject, `the ${METADATA_ANNOTATION} annotation`),
    finalizers: meta.finalizers,
  });
}

function compact(m: V3Metadata): V3Metadata {
  const out: V3Metadata = { name: m.name };
  if (m.labels && Object.keys(m.labels).length) out.labels = { ...m.labels };
  if (m.annotations && Object.keys(m.annotations).length) out.annotations = { ...m.annotations };
  if (m.ownerReferences?.length) out.ownerReferences = m.ownerReferences;
  if (m.finalizers?.length) out.finalizers = [...m.finalizers];
  return out;
}

function decodeAnnotation(raw: string, subject: ConversionSubject): AnnotationMeta {
  const malformed = (problem: string, cause?: unknown) =>
    new ConversionError(
      subject,
      ANNOTATION_FIELD,
      problem,
      `correct the annotation to the JSON of an ObjectMeta (or remove it to present the CR's own metadata): ${editCommand(subject)}`,
      cause === undefined ? undefined : { cause },
    );
  let decoded: unknown;
  try {
    decoded = JSON.parse(raw);
  } catch (err) {
    throw malformed(`not valid JSON (${(err as Error).message})`, err);
  }
  if (!isRecord(decoded)) throw malformed("not a JSON object");
  const { name, labels, annotations, ownerReferences, finalizers } = decoded;
  if (name !== undefined && name !== null && typeof name !== "string") throw malformed("name is not a string");
  for (const [field, map] of [["labels", labels], ["annotations", annotations]] as const) {
    if (map !== undefined && map !== null && !isStringMap(map)) throw malformed(`${field} is not a map of strings`);
  }
  if (finalizers !== undefined && finalizers !== null && !(Array.isArray(finalizers) && finalizers.every((f) => typeof f === "string"))) {
    throw malformed("finalizers is not a list of strings");
  }
  if (ownerReferences !== undefined && ownerReferences !== null) {
    if (!Array.isArray(ownerReferences) || !ownerReferences.every(isRecord)) throw malformed("ownerReferences is not a list of objects");
    ownerReferences.forEach((r, i) => {
      for (const key of ["apiVersion", "kind", "name", "uid"]) {
        if (r[key] !== undefined && typeof r[key] !== "string") throw malformed(`ownerReferences[${i}].${key} is not a string`);
      }
    });
  }
  return {
    name: name ?? undefined,
    labels: (labels as Record<string, string> | null | undefined) ?? undefined,
    annotations: (annotations as Record<string, string> | null | undefined) ?? undefined,
    ownerReferences: (ownerReferences as OwnerReference[] | null | undefined) ?? undefined,
    finalizers: finalizers ?? undefined,
  };
}

/**
 * Owner references as the v3 view shows them: a reference to a Calico object (v1 CRD or v3 API)
 * becomes `projectcalico.org/v3` with the converted uid; any other reference is kept as is.
 * `where` names the references' origin in error messages.
 */
export function convertOwnerReferences(
  refs: readonly OwnerReference[] | undefined,
  subject: ConversionSubject,
  where = "the CR",
): OwnerReference[] | undefined {
  if (!refs?.length) return undefined;
  return refs.map((ref, i) => {
    if (!isCalicoOwnerReference(ref)) return { ...ref };
    try {
      return { ...ref, apiVersion: `${V3_GROUP}/${V3_VERSION}`, uid: convertUid(ref.uid ?? "") };
    } catch (err) {
      if (!(err instanceof InvalidUidError)) throw err;
      throw new ConversionError(
        subject,
        `metadata.ownerReferences[${i}].uid`,
        `owner reference to ${ref.kind} "${ref.name}" (in ${where}) has uid "${ref.uid ?? ""}", which is not a UUID`,
        `correct or remove that owner reference in ${where}: ${editCommand(subject)}`,
        { cause: err },
      );
    }
  });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isStringMap(v: unknown): v is Record<string, string> {
  return isRecord(v) && Object.values(v).every((x) => typeof x === "string");
}
