/**
 * Spec normalisation and comparison against the v3 CRD schema, so a converted v1 spec and a spec
 * stored in v3 compare equal exactly when the API server would store the same thing for both.
 *
 * normalizeSpec = omitEmpty(admit(default(prune(spec)))):
 * 1. prune: drop fields the schema does not declare (unless preserved or a map) and nulls of
 *    non-nullable fields, as the server does on decode (legacy IPPool `ipip`/`nat-outgoing` go);
 * 2. default: fill schema defaults into absent properties of objects that exist, recursively;
 * 3. admit: apply Calico's admission policies (policy tier and types/policyTypes, see admission.ts);
 * 4. omit-empty: drop declared properties that are null, "", [] or {} (Go `omitempty`: the
 *    Calico API server never wrote them, kubectl users often do), so absent == null == empty.
 *    Kept: properties with a schema default (the server always fills them, so removing an
 *    explicit "" or [] would let a re-normalisation default it into something else) and a
 *    policy's `types`/`policyTypes` (an explicit [] stops the admission defaulting).
 *    `false` and `0` are never dropped: Calico's Go types declare optional booleans and numbers
 *    as pointers where unset means "the component's default" (e.g. Felix ipv6Support, true), so
 *    an explicit false/0 is a different setting from an absent one. Map entries and array
 *    elements (a null allocation, an empty label value) are data and are never dropped.
 * The result is canonical (sorted keys) and normalisation is idempotent.
 */
import type { CalicoKind } from "../calico/kinds.js";
import { admissionGuardedFields, admitSpec } from "./admission.js";
import { diffSpecs, type FieldDiff } from "./diff.js";
import { specSchemaOf, type JsonSchema } from "./schema.js";
import { applyDefaults, canonical, omitEmpty, prune } from "./structural.js";

/** A kind as normalisation needs it: its v3 kind name. */
export type KindRef = Pick<CalicoKind, "kind"> | string;

function kindName(kind: KindRef): string {
  return typeof kind === "string" ? kind : kind.kind;
}

/**
 * The spec the API server would store (and return) for a create of `spec`: pruned, defaulted and
 * mutated by the admission policies, without omit-empty. `objectSchema` is the CRD's openAPIV3Schema.
 */
export function serverSpec(kind: KindRef, spec: unknown, objectSchema: JsonSchema): unknown {
  const schema = specSchemaOf(objectSchema);
  const defaulted = applyDefaults(prune(spec ?? {}, schema), schema);
  return canonical(admitSpec(kindName(kind), defaulted));
}

/** The normal form of a spec for comparison (see the module comment); `objectSchema` is the CRD's openAPIV3Schema. */
export function normalizeSpec(kind: KindRef, spec: unknown, objectSchema: JsonSchema): unknown {
  const schema = specSchemaOf(objectSchema);
  return omitEmpty(serverSpec(kind, spec, objectSchema), schema, admissionGuardedFields(kindName(kind)));
}

/** Only the fields unknown to the schema removed (and non-nullable nulls): what a create would keep. */
export function pruneSpec(spec: unknown, objectSchema: JsonSchema): unknown {
  return prune(spec ?? {}, specSchemaOf(objectSchema));
}

/** The field differences between a converted v1 spec and a v3 spec, both normalised; paths start at `spec`. */
export function specDiff(kind: KindRef, v1Spec: unknown, v3Spec: unknown, objectSchema: JsonSchema): FieldDiff[] {
  return diffSpecs(normalizeSpec(kind, v1Spec, objectSchema), normalizeSpec(kind, v3Spec, objectSchema));
}

/** True when the two specs normalise to the same value. */
export function specsEqual(kind: KindRef, v1Spec: unknown, v3Spec: unknown, objectSchema: JsonSchema): boolean {
  return specDiff(kind, v1Spec, v3Spec, objectSchema).length === 0;
}
