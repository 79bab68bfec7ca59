/**
 * v1 → v3 conversion: the projectcalico.org/v3 object the Calico API server presented for a
 * crd.projectcalico.org/v1 CR (reference §3.1, §3.3). Pure: no I/O, no schema.
 */
import { V3_GROUP, V3_VERSION, type CalicoKind } from "../calico/kinds.js";
import { cloneJson, type KubeObject, type ObjectMeta } from "../kube/object.js";
import { ConversionError, type ConversionSubject } from "./conversion-error.js";
import { convertBlockAffinitySpec, convertIpamBlock, convertIpamHandle } from "./ipam.js";
import { asRecorded } from "./detached-metadata.js";
import { v3MetadataOf, type V3Metadata } from "./metadata.js";
import { convertUid, InvalidUidError } from "./uid.js";

/** Tier fields libcalico fills in on read when the CR leaves them unset. */
export const TIER_DEFAULTS = { order: 1_000_000, defaultAction: "Deny" } as const;

/** One converted object and where it came from. */
export interface ConvertedObject {
  kind: CalicoKind;
  /** The v1 CR: its name, namespace, raw (v1) uid and the resourceVersion it was read at. */
  source: { name: string; namespace?: string; uid: string; resourceVersion?: string };
  /**
   * The v3 object: apiVersion, kind, metadata {name, namespace, uid (the v3-view uid, for uid
   * mapping: strip before create), labels, annotations, ownerReferences, finalizers} and spec.
   */
  v3: KubeObject;
  /** The CR name, when the v3 name differs from it (legacy `default.` policy names). */
  renamedFrom?: string;
}

/** Converts one v1 CR of `kind` to its v3 view; throws ConversionError for a CR that has none. */
export function convertV1ToV3(kind: CalicoKind, stored: KubeObject, options: { asStored?: boolean } = {}): ConvertedObject {
  // A CR the migration detached from its Calico owners converts as it was (detached-metadata.ts);
  // `asStored` presents it as the Calico API server does, marks and all.
  const cr = options.asStored ? stored : asRecorded(stored);
  const crName = cr.metadata.name ?? "";
  const namespace = kind.namespaced ? cr.metadata.namespace : undefined;
  const subject: ConversionSubject = { kind, namespace, name: crName };
  const v1Uid = cr.metadata.uid ?? "";
  const uid = v3Uid(v1Uid, subject);
  const spec = isRecord(cr.spec) ? cr.spec : {};

  let meta: V3Metadata;
  let v3Spec: Record<string, unknown>;
  switch (kind.converter) {
    case "generic":
    case "policy":
    case "ipamConfig":
      meta = v3MetadataOf(kind, cr, subject);
      v3Spec = cloneJson(spec);
      break;
    case "tier":
      meta = v3MetadataOf(kind, cr, subject);
      v3Spec = {
        ...cloneJson(spec),
        order: spec.order ?? TIER_DEFAULTS.order,
        defaultAction: spec.defaultAction ?? TIER_DEFAULTS.defaultAction,
      };
      break;
    case "blockAffinity":
      meta = v3MetadataOf(kind, cr, subject);
      v3Spec = convertBlockAffinitySpec(spec);
      break;
    case "ipamBlock": {
      // Fresh metadata: labels and annotations of the CR are dropped.
      const block = convertIpamBlock(spec, subject);
      meta = { name: block.name };
      v3Spec = block.spec;
      break;
    }
    case "ipamHandle": {
      const handle = convertIpamHandle(spec, subject);
      meta = { name: handle.name };
      v3Spec = handle.spec;
      break;
    }
    default: {
      const unknown: never = kind.converter;
      throw new Error(`unknown converter ${String(unknown)}`);
    }
  }

  const metadata: ObjectMeta = { name: meta.name };
  if (namespace !== undefined) metadata.namespace = namespace;
  metadata.uid = uid;
  if (meta.labels) metadata.labels = meta.labels;
  if (meta.annotations) metadata.annotations = meta.annotations;
  if (meta.ownerReferences) metadata.ownerReferences = meta.ownerReferences;
  if (meta.finalizers) metadata.finalizers = meta.finalizers;

  const out: ConvertedObject = {
    kind,
    source: { name: crName, ...(namespace !== undefined ? { namespace } : {}), uid: v1Uid, ...(cr.metadata.resourceVersion ? { resourceVersion: cr.metadata.resourceVersion } : {}) },
    v3: { apiVersion: `${V3_GROUP}/${V3_VERSION}`, kind: kind.kind, metadata, spec: v3Spec },
  };
  if (meta.name !== crName) out.renamedFrom = crName;
  return out;
}

function v3Uid(v1Uid: string, subject: ConversionSubject): string {
  try {
    return convertUid(v1Uid);
  } catch (err) {
    if (!(err instanceof InvalidUidError)) throw err;
    throw new ConversionError(
      subject,
      "metadata.uid",
      `uid "${v1Uid}" is not a UUID, so the object has no v3 uid (the Calico API server fails to list it too)`,
      "re-create the CR so the API server assigns it a UUID (export it, delete it, create it again without metadata.uid)",
      { cause: err },
    );
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
