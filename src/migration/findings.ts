/**
 * Plan findings: blockers (the controller refuses to lock) and warnings, each naming its fix.
 */
import type { ConversionError } from "../convert/conversion-error.js";
import type { Prerequisites } from "./prerequisites.js";

/** One problem found before the lock. */
export interface Finding {
  severity: "blocker" | "warning";
  /** A stable identifier, e.g. TierDrift, InvalidObject, NameCollision. */
  code: string;
  message: string;
  fix: string;
  /** The object concerned, `Kind/namespace/name` where there is one. */
  object?: string;
}

/** Findings of the prerequisite checks. */
export function prerequisiteFindings(p: Prerequisites): Finding[] {
  const out: Finding[] = [];
  const blocker = (code: string, message: string, fix: string) => out.push({ severity: "blocker", code, message, fix });
  if (p.v1Crds.length === 0) {
    blocker("NoV1Crds", "no v1 CRDs (crd.projectcalico.org) found - nothing to migrate", "this cluster does not run Calico in API server mode; no migration is needed");
  }
  if (p.missingV3Crds.length) {
    blocker("MissingV3Crds", `v3 CRDs (projectcalico.org) not installed — apply them before starting migration (missing: ${p.missingV3Crds.slice(0, 4).join(", ")}${p.missingV3Crds.length > 4 ? ", …" : ""})`,
      "kubectl apply -f https://raw.githubusercontent.com/projectcalico/calico/<version>/manifests/v3_projectcalico_org.yaml");
  }
  if (p.mapVersion === null) {
    blocker("MutatingAdmissionPolicyNotServed", "the MutatingAdmissionPolicy API is not served; the v3 CRDs rely on Calico's admission policies for defaulting",
      "enable the MutatingAdmissionPolicy feature gate and serve admissionregistration.k8s.io/v1beta1 on the kube-apiserver (Kubernetes 1.34/1.35), or upgrade to 1.36");
  } else if (p.missingAdmission.length) {
    blocker("AdmissionPoliciesMissing", `Calico's admission policies are not installed: ${p.missingAdmission.join(", ")}`,
      `apply the admission policies from the Calico release (admissionregistration.k8s.io/${p.mapVersion})`);
  }
  if (p.forbiddenKinds.length) {
    blocker("RbacMissing", `Waiting for migration RBAC permissions: cannot list ${p.forbiddenKinds.join(", ")}`,
      "kubectl apply -k manifests/ (the controller's ClusterRole grants list on every crd.projectcalico.org kind)");
  }
  // A ClusterInformation the caller may not read is an RBAC problem (reported above), not a missing lock.
  if (p.v1ClusterInformation === "missing" && !p.forbiddenKinds.some((k) => k.startsWith("clusterinformations."))) {
    blocker("NoClusterInformation", "v1 ClusterInformation \"default\" not found: there is no datastore lock to take",
      "check that calico-node runs (it creates ClusterInformation default on start)");
  }
  return out;
}

/** The blocker for an object that cannot be converted (its error's text ends in ". Fix: …": the two parts apart). */
export function conversionFinding(object: string, err: ConversionError): Finding {
  const at = err.message.indexOf(". Fix: ");
  return { severity: "blocker", code: "ConversionError", object, message: at >= 0 ? err.message.slice(0, at) : err.message, fix: at >= 0 ? err.message.slice(at + 7) : "" };
}

/** Blockers as one status message: the first in full (Calico's texts where it has them), then a count. */
export function summarizeBlockers(blockers: readonly Finding[]): string | undefined {
  const messages = blockers.map((b) => {
    if (b.code === "RbacMissing") return "Waiting for migration RBAC permissions";
    if (b.code === "TierDrift") return b.message;
    return `${b.message}. Fix: ${b.fix}`;
  });
  if (messages.length > 1) messages.splice(1, messages.length - 1, `and ${messages.length - 1} more problem(s): run calico-migrate plan`);
  return messages.length ? messages.join(" ") : undefined;
}
