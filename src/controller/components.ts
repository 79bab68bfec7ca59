/**
 * The Calico components whose switch to the v3 API group ends the migration: calico-node
 * (DaemonSet), calico-typha and calico-kube-controllers (Deployments), those present. Each must
 * run with CALICO_API_GROUP=projectcalico.org/v3 in every container and have a finished rollout.
 */
import type { KubeClient } from "../kube/client.js";
import { isForbidden, isNotFound } from "../kube/errors.js";
import type { KubeObject } from "../kube/object.js";
import type { ResourceRef } from "../kube/resource.js";

export const V3_API_GROUP = "projectcalico.org/v3";
export const DAEMONSETS: ResourceRef = { group: "apps", version: "v1", plural: "daemonsets", namespaced: true, kind: "DaemonSet" };
export const DEPLOYMENTS: ResourceRef = { group: "apps", version: "v1", plural: "deployments", namespaced: true, kind: "Deployment" };

/** The components, in the order messages name them. */
export const COMPONENTS = [
  { name: "calico-node", resource: DAEMONSETS },
  { name: "calico-typha", resource: DEPLOYMENTS },
  { name: "calico-kube-controllers", resource: DEPLOYMENTS },
] as const;

interface Container {
  name: string;
  env?: { name: string; value?: string }[];
}

/** One component's state. */
export interface ComponentState {
  name: string;
  present: boolean;
  /** Every container has CALICO_API_GROUP=projectcalico.org/v3. */
  configured: boolean;
  /** Some container has it (enough to call a rollback unsafe). */
  anyConfigured: boolean;
  /** Why the rollout is not finished, or undefined when it is. */
  rolloutWaiting?: string;
}

function containers(obj: KubeObject): Container[] {
  const spec = (obj.spec as { template?: { spec?: { containers?: Container[] } } } | undefined)?.template?.spec;
  return spec?.containers ?? [];
}

function hasV3(c: Container): boolean {
  return (c.env ?? []).some((e) => e.name === "CALICO_API_GROUP" && e.value === V3_API_GROUP);
}

function rolloutWaiting(name: string, obj: KubeObject): string | undefined {
  const generation = obj.metadata.generation ?? 0;
  const st = (obj.status ?? {}) as Record<string, number | undefined>;
  if ((st.observedGeneration ?? 0) < generation) return `Waiting for ${name} rollout to begin`;
  if (obj.kind === "DaemonSet" || "desiredNumberScheduled" in st) {
    const desired = st.desiredNumberScheduled ?? 0;
    const updated = st.updatedNumberScheduled ?? 0;
    if (updated !== desired) return `Waiting for ${name} rollout (${updated}/${desired} updated)`;
    if ((st.numberUnavailable ?? 0) > 0) return `Waiting for ${name} pods to be available (${st.numberUnavailable} unavailable)`;
    return undefined;
  }
  const replicas = (obj.spec as { replicas?: number } | undefined)?.replicas ?? 1;
  const updated = st.updatedReplicas ?? 0;
  if (updated !== replicas) return `Waiting for ${name} rollout (${updated}/${replicas} updated)`;
  if ((st.unavailableReplicas ?? 0) > 0 || (st.availableReplicas ?? 0) < replicas) {
    return `Waiting for ${name} pods to be available (${Math.max(st.unavailableReplicas ?? 0, replicas - (st.availableReplicas ?? 0))} unavailable)`;
  }
  return undefined;
}

/** Reads every component in `namespace`. */
export async function componentStates(client: KubeClient, namespace: string): Promise<ComponentState[]> {
  const out: ComponentState[] = [];
  for (const c of COMPONENTS) {
    let obj: KubeObject | undefined;
    try {
      obj = await client.get(c.resource, c.name, namespace);
    } catch (err) {
      if (!isNotFound(err) && !isForbidden(err)) throw err;
    }
    if (!obj) {
      out.push({ name: c.name, present: false, configured: false, anyConfigured: false });
      continue;
    }
    obj.kind ??= c.resource.kind;
    const cs = containers(obj);
    out.push({ name: c.name, present: true, configured: cs.length > 0 && cs.every(hasV3), anyConfigured: cs.some(hasV3), rolloutWaiting: rolloutWaiting(c.name, obj) });
  }
  return out;
}

/** Where the components run: the configured namespace, else calico-system when calico-node is there, else kube-system. */
export async function componentsNamespace(client: KubeClient, configured?: string): Promise<string> {
  if (configured) return configured;
  try {
    await client.get(DAEMONSETS, "calico-node", "calico-system");
    return "calico-system";
  } catch (err) {
    if (isNotFound(err) || isForbidden(err)) return "kube-system";
    throw err;
  }
}

/** "a", "a and b", "a, b and c". */
export function joinNames(names: readonly string[]): string {
  if (names.length <= 1) return names.join("");
  return `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
}
