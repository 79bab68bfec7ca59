/**
 * Fault injection by admission: a ValidatingAdmissionPolicy that makes the API server refuse some
 * requests (every create of one projectcalico.org/v3 resource, every update of v1 ClusterInformation
 * …), so a step fails permanently where a test needs it to, without touching the code under test.
 */
import type { KubeClient } from "../../src/kube/client.js";
import { isNotFound } from "../../src/kube/errors.js";
import type { ResourceRef } from "../../src/kube/resource.js";
import { eventually } from "./eventually.js";

const VAP: ResourceRef = { group: "admissionregistration.k8s.io", version: "v1", plural: "validatingadmissionpolicies", namespaced: false, kind: "ValidatingAdmissionPolicy" };
const VAP_BINDING: ResourceRef = { ...VAP, plural: "validatingadmissionpolicybindings", kind: "ValidatingAdmissionPolicyBinding" };
const CONFIGMAPS: ResourceRef = { group: "", version: "v1", plural: "configmaps", namespaced: true, kind: "ConfigMap" };

/** Which requests to refuse. */
export interface Denial {
  apiGroup: string;
  apiVersion: string;
  resource: string;
  operations: ("CREATE" | "UPDATE" | "DELETE")[];
  message: string;
  /**
   * The refusal's reason: Forbidden (403, the default: a denial that can be lifted, which the
   * controller rides out) or Invalid (422: the object itself is refused).
   */
  reason?: "Forbidden" | "Invalid";
}

/**
 * Refuses the requests and waits until the policy is in force (it also refuses a probe
 * ConfigMap, tried with dry-run); returns the function that lifts the denial.
 */
export async function denyRequests(admin: KubeClient, denial: Denial): Promise<() => Promise<void>> {
  const name = `test-deny-${denial.operations.join("-").toLowerCase()}-${denial.resource}`.slice(0, 63);
  const probe = `${name}-probe`.slice(0, 63);
  await admin.create(VAP, {
    apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingAdmissionPolicy", metadata: { name },
    spec: {
      failurePolicy: "Fail",
      matchConstraints: {
        resourceRules: [
          { apiGroups: [denial.apiGroup], apiVersions: [denial.apiVersion], operations: denial.operations, resources: [denial.resource] },
          { apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["configmaps"] },
        ],
      },
      validations: [{ expression: `request.resource.resource == "configmaps" ? object.metadata.name != "${probe}" : false`, message: denial.message, reason: denial.reason ?? "Forbidden" }],
    },
  });
  await admin.create(VAP_BINDING, {
    apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingAdmissionPolicyBinding", metadata: { name },
    spec: { policyName: name, validationActions: ["Deny"] },
  });
  await eventually(async () => {
    const refused = await admin.create(CONFIGMAPS, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: probe, namespace: "default" } }, { dryRun: true })
      .then(() => false, (err: unknown) => (err as Error).message.includes(denial.message));
    if (!refused) throw new Error("the policy is not in force yet");
  }, { timeoutMs: 30_000, message: `ValidatingAdmissionPolicy ${name} in force` });
  return async () => {
    for (const ref of [VAP_BINDING, VAP]) {
      try {
        await admin.delete(ref, name);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  };
}

/** Refuses every CREATE of projectcalico.org/v3 `plural` (a copy that keeps failing). */
export function denyCreates(admin: KubeClient, plural: string, message: string): Promise<() => Promise<void>> {
  return denyRequests(admin, { apiGroup: "projectcalico.org", apiVersion: "v3", resource: plural, operations: ["CREATE"], message });
}
