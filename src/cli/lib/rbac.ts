/**
 * The optional RBAC for foreign owner references, scoped to exactly the resources a plan found
 * Calico-owned objects in (instead of manifests/optional's wildcard role).
 */
import type { KubeObject } from "../../kube/object.js";
import type { ForeignDependent } from "../../migration/foreign-owners.js";

/** Name of the role (the same as manifests/optional, which it replaces). */
export const FOREIGN_OWNER_ROLE = "calico-datastore-migration-foreign-owners";
/** The controller's ServiceAccount. */
export const CONTROLLER_SERVICE_ACCOUNT = { namespace: "calico-datastore-migration", name: "calico-datastore-migration" } as const;

/** `group` → sorted resource plurals of the dependents. */
export function resourcesByGroup(dependents: readonly Pick<ForeignDependent, "resource">[]): Map<string, string[]> {
  const byGroup = new Map<string, Set<string>>();
  for (const d of dependents) byGroup.set(d.resource.group, (byGroup.get(d.resource.group) ?? new Set()).add(d.resource.plural));
  return new Map([...byGroup.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([g, r]) => [g, [...r].sort()]));
}

/** A ClusterRole (get, list, patch on exactly those resources) and its binding to the controller's ServiceAccount. */
export function foreignOwnerRbac(dependents: readonly Pick<ForeignDependent, "resource">[]): KubeObject[] {
  const labels = { "app.kubernetes.io/name": "calico-datastore-migration" };
  const rules = [...resourcesByGroup(dependents)].map(([group, resources]) => ({ apiGroups: [group], resources, verbs: ["get", "list", "patch"] }));
  return [
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: FOREIGN_OWNER_ROLE, labels }, rules },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: FOREIGN_OWNER_ROLE, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: FOREIGN_OWNER_ROLE },
      subjects: [{ kind: "ServiceAccount", ...CONTROLLER_SERVICE_ACCOUNT }],
    },
  ];
}
