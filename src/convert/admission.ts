/**
 * The spec mutations of the MutatingAdmissionPolicies shipped with the v3 CRDs
 * (`api/admission/*.mutatingadmissionpolicy.yaml`), evaluated as their CEL does on the pruned and
 * defaulted object. `has(x)` in CEL is key presence: an empty list counts as present.
 */
import { isTieredPolicyKind } from "./metadata.js";
import { isRecord } from "./structural.js";

const SKNP = "StagedKubernetesNetworkPolicy";

/** Kinds the `policytypes.policy.projectcalico.org` policy mutates: the tiered policies (which `tierlabel.policy.projectcalico.org` also mutates) and SKNP. */
function hasPolicyTypes(kind: string): boolean {
  return isTieredPolicyKind(kind) || kind === SKNP;
}

/** The spec field the policy-types mutation writes for a kind: `policyTypes` for SKNP, else `types`. */
export function policyTypesField(kind: string): "types" | "policyTypes" | undefined {
  if (!hasPolicyTypes(kind)) return undefined;
  return kind === SKNP ? "policyTypes" : "types";
}

/** Top-level spec fields whose emptiness the admission policies test (an explicit `[]` stops the defaulting). */
export function admissionGuardedFields(kind: string): ReadonlySet<string> {
  return hasPolicyTypes(kind) ? new Set(["types", "policyTypes"]) : new Set();
}

/**
 * The spec after Calico's admission policies: for NP/GNP/SNP/SGNP, an unset or empty tier becomes
 * "default"; for those and SKNP, when neither `types` nor `policyTypes` is present, the types are
 * derived from which of `ingress`/`egress` are present. Other kinds pass through unchanged.
 */
export function admitSpec(kind: string, spec: unknown): unknown {
  const typesField = policyTypesField(kind);
  if (typesField === undefined) return spec;
  // CEL on an object without spec fails and the policy (failurePolicy Fail) rejects the write;
  // for comparison, an absent spec is treated as an empty one.
  const out: Record<string, unknown> = isRecord(spec) ? { ...spec } : {};
  if (isTieredPolicyKind(kind) && (!("tier" in out) || out.tier === "")) out.tier = "default";
  if (!("types" in out) && !("policyTypes" in out)) {
    const ingress = "ingress" in out;
    const egress = "egress" in out;
    if (kind === SKNP) {
      out[typesField] = egress ? ["Ingress", "Egress"] : ["Ingress"];
    } else {
      out[typesField] = ingress && egress ? ["Ingress", "Egress"] : egress ? ["Egress"] : ["Ingress"];
    }
  }
  return out;
}
