/**
 * The Calico components whose switch to the v3 API group ends the migration: calico-node
 * (DaemonSet), calico-typha and calico-kube-controllers (Deployments), those present. Each must
 * run with CALICO_API_GROUP=projectcalico.org/v3 in every container and have a finished rollout
 * (both judged by rollout.ts, the rule `calico-migrate switch-components` follows too).
 */
import type { KubeClient } from "../kube/client.js";
import { isForbidden, isNotFound } from "../kube/errors.js";
import type { KubeObject } from "../kube/object.js";
import type { ResourceRef } from "../kube/resource.js";
import { rolloutState, switchState } from "./rollout.js";

export const DAEMONSETS: ResourceRef = { group: "apps", version: "v1", plural: "daemonsets", namespaced: true, kind: "DaemonSet" };
export const DEPLOYMENTS: ResourceRef = { group: "apps", version: "v1", plural: "deployments", namespaced: true, kind: "Deployment" };

/** The components, in the order messages name them. */
export const COMPONENTS = [
  { name: "calico-node", resource: DAEMONSETS },
  { name: "calico-typha", resource: DEPLOYMENTS },
  { name: "calico-kube-controllers", resource: DEPLOYMENTS },
] as const;

/** One component's state. */
export interface ComponentState {
  name: string;
  present: boolean;
  /** Every container has CALICO_API_GROUP=projectcalico.org/v3. */
  configured: boolean;
  /** Some container or init container has it (enough to call a rollback unsafe). */
  anyConfigured: boolean;
  /** Why the rollout is not finished (kubectl rollout status's message), or undefined when it is. */
  rolloutWaiting?: string;
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
    const switched = switchState(obj);
    const rollout = rolloutState(obj);
    out.push({ name: c.name, present: true, configured: switched.all, anyConfigured: switched.any, rolloutWaiting: rollout.done ? undefined : namingComponent(rollout.message, c.name) });
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

/** kubectl's text, with the component named where kubectl leaves it out ("spec update to be observed"). */
function namingComponent(message: string, name: string): string {
  return message.includes(`"${name}"`) ? message : `${message.replace(/\.\.\.$/, "")} (${name})`;
}
