/**
 * Operator-managed installs: an operator.tigera.io Installation exists, and the operator (not the
 * user) switches the components to the v3 API group.
 */
import type { KubeClient } from "../kube/client.js";
import { isForbidden, isNotFound } from "../kube/errors.js";
import type { ResourceRef } from "../kube/resource.js";

const INSTALLATIONS: ResourceRef = { group: "operator.tigera.io", version: "v1", plural: "installations", namespaced: false, kind: "Installation" };

/** True when an Installation exists; false when there is none, the API is not served, or listing it is forbidden. */
export async function isOperatorManaged(client: KubeClient): Promise<boolean> {
  try {
    return (await client.list(INSTALLATIONS, { limit: 1 })).items.length > 0;
  } catch (err) {
    if (isNotFound(err) || isForbidden(err)) return false;
    throw err;
  }
}
