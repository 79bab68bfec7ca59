/**
 * The one rule for "switched to the v3 API group and rolled out", used by the controller (to
 * move Converged → Complete and to judge a rollback) and by `calico-migrate switch-components`
 * (to patch and to follow), so the two can never disagree: the env var on the containers, a
 * strategic-merge patch that sets it the way `kubectl set env` does, and the rollout state the
 * way `kubectl rollout status` reports it. Pure.
 */
import { V3_GROUP, V3_VERSION } from "../calico/kinds.js";
import type { KubeObject } from "../kube/object.js";

/** The env var the components read. */
export const API_GROUP_ENV = "CALICO_API_GROUP";
/** Its value once a component reads the v3 CRDs. */
export const V3_API_GROUP = `${V3_GROUP}/${V3_VERSION}`;

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}
interface Container {
  name: string;
  env?: EnvVar[];
}
interface PodSpec {
  containers?: Container[];
  initContainers?: Container[];
}

/** What switching one workload takes. */
export interface EnvPatch {
  /** Containers that still need the variable. */
  containers: string[];
  initContainers: string[];
  /** The strategic-merge patch, or undefined when every container already has it. */
  patch?: Record<string, unknown>;
}

function podSpec(obj: KubeObject): PodSpec {
  return (obj.spec as { template?: { spec?: PodSpec } } | undefined)?.template?.spec ?? {};
}

/** The container runs with CALICO_API_GROUP=projectcalico.org/v3 (a valueFrom beside the value makes the variable invalid). */
function runsWithV3(c: Container): boolean {
  const e = c.env?.find((v) => v.name === API_GROUP_ENV);
  return e?.value === V3_API_GROUP && e.valueFrom === undefined;
}

function needs(c: Container): boolean {
  return !runsWithV3(c);
}

/** Whether a workload is switched: every (main) container runs with the v3 API group; some container or init container does. */
export interface SwitchState {
  /**
   * Every container has it. Init containers are patched too but not required: they run once at
   * pod start, and the rollout that follows the patch restarts them with the new value anyway.
   */
  all: boolean;
  /** Some container or init container has it: enough to call a rollback unsafe. */
  any: boolean;
}

/** How far a DaemonSet or Deployment is switched to the v3 API group. */
export function switchState(obj: KubeObject): SwitchState {
  const spec = podSpec(obj);
  const containers = spec.containers ?? [];
  return {
    all: containers.length > 0 && containers.every(runsWithV3),
    any: [...containers, ...(spec.initContainers ?? [])].some(runsWithV3),
  };
}

function entry(c: Container): Record<string, unknown> {
  const had = c.env?.find((v) => v.name === API_GROUP_ENV);
  // env merges by name; a valueFrom left over would make the variable invalid.
  return { name: c.name, env: [{ name: API_GROUP_ENV, value: V3_API_GROUP, ...(had?.valueFrom !== undefined ? { valueFrom: null } : {}) }] };
}

/** The patch setting CALICO_API_GROUP=projectcalico.org/v3 on every container and init container. */
export function envPatch(obj: KubeObject): EnvPatch {
  const spec = podSpec(obj);
  const containers = (spec.containers ?? []).filter(needs);
  const initContainers = (spec.initContainers ?? []).filter(needs);
  if (!containers.length && !initContainers.length) return { containers: [], initContainers: [] };
  const template: Record<string, unknown> = {};
  if (containers.length) template.containers = containers.map(entry);
  if (initContainers.length) template.initContainers = initContainers.map(entry);
  return { containers: containers.map((c) => c.name), initContainers: initContainers.map((c) => c.name), patch: { spec: { template: { spec: template } } } };
}

/** A rollout's state as kubectl reports it. */
export interface RolloutState {
  done: boolean;
  message: string;
  /** The rollout cannot finish by waiting (e.g. a Deployment past its progress deadline). */
  error?: string;
}

type Num = number | undefined;

/** `kubectl rollout status` for a DaemonSet. */
export function daemonSetRollout(obj: KubeObject): RolloutState {
  const name = obj.metadata.name ?? "";
  const st = (obj.status ?? {}) as Record<string, Num>;
  const strategy = (obj.spec as { updateStrategy?: { type?: string } } | undefined)?.updateStrategy?.type ?? "RollingUpdate";
  if ((obj.metadata.generation ?? 0) > (st.observedGeneration ?? 0)) return { done: false, message: "Waiting for daemon set spec update to be observed..." };
  const desired = st.desiredNumberScheduled ?? 0;
  const updated = st.updatedNumberScheduled ?? 0;
  if (updated < desired) {
    const hint = strategy === "OnDelete" ? ` (updateStrategy OnDelete: delete the old pods: kubectl -n ${obj.metadata.namespace} delete pod -l ${selectorOf(obj)})` : "";
    return { done: false, message: `Waiting for daemon set "${name}" rollout to finish: ${updated} out of ${desired} new pods have been updated...${hint}` };
  }
  const available = st.numberAvailable ?? 0;
  if (available < desired) return { done: false, message: `Waiting for daemon set "${name}" rollout to finish: ${available} of ${desired} updated pods are available...` };
  return { done: true, message: `daemon set "${name}" successfully rolled out` };
}

/** `kubectl rollout status` for a Deployment. */
export function deploymentRollout(obj: KubeObject): RolloutState {
  const name = obj.metadata.name ?? "";
  const st = (obj.status ?? {}) as Record<string, Num> & { conditions?: { type: string; reason?: string }[] };
  if ((obj.metadata.generation ?? 0) > (st.observedGeneration ?? 0)) return { done: false, message: "Waiting for deployment spec update to be observed..." };
  if (st.conditions?.some((c) => c.type === "Progressing" && c.reason === "ProgressDeadlineExceeded")) {
    return { done: false, message: `deployment "${name}" exceeded its progress deadline`, error: `deployment "${name}" exceeded its progress deadline: kubectl -n ${obj.metadata.namespace} describe deployment ${name}` };
  }
  const replicas = (obj.spec as { replicas?: number } | undefined)?.replicas ?? 1;
  const updated = st.updatedReplicas ?? 0;
  if (updated < replicas) return { done: false, message: `Waiting for deployment "${name}" rollout to finish: ${updated} out of ${replicas} new replicas have been updated...` };
  const current = st.replicas ?? 0;
  if (current > updated) return { done: false, message: `Waiting for deployment "${name}" rollout to finish: ${current - updated} old replicas are pending termination...` };
  const available = st.availableReplicas ?? 0;
  if (available < updated) return { done: false, message: `Waiting for deployment "${name}" rollout to finish: ${available} of ${updated} updated replicas are available...` };
  return { done: true, message: `deployment "${name}" successfully rolled out` };
}

function selectorOf(obj: KubeObject): string {
  const labels = (obj.spec as { selector?: { matchLabels?: Record<string, string> } } | undefined)?.selector?.matchLabels ?? {};
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(",");
}

/** The rollout state of a DaemonSet or Deployment. */
export function rolloutState(obj: KubeObject): RolloutState {
  return obj.kind === "DaemonSet" ? daemonSetRollout(obj) : deploymentRollout(obj);
}
