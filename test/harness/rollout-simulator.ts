/**
 * Stands in for kubelets and the workload controllers (none run here): keeps the status of the
 * Calico DaemonSet and Deployments in step with their spec, so a rollout "completes" as soon as
 * it is started.
 */
import type { KubeClient } from "../../src/kube/client.js";
import type { KubeObject } from "../../src/kube/object.js";
import { systemClock } from "../../src/kube/clock.js";
import { DAEMONSETS, DEPLOYMENTS } from "./api-server-mode.js";

/** The status a finished rollout of `obj` reports. */
export function finishedStatus(obj: KubeObject): Record<string, number> {
  const generation = obj.metadata.generation ?? 1;
  if (obj.kind === "DaemonSet") {
    return { observedGeneration: generation, desiredNumberScheduled: 3, currentNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 3, numberReady: 3, numberMisscheduled: 0 };
  }
  const replicas = (obj.spec as { replicas?: number }).replicas ?? 1;
  return { observedGeneration: generation, replicas, updatedReplicas: replicas, availableReplicas: replicas, readyReplicas: replicas };
}

/** Marks every rollout in `namespace` finished once; returns how many objects it updated. */
export async function completeRollouts(client: KubeClient, namespace: string): Promise<number> {
  let n = 0;
  for (const ref of [DAEMONSETS, DEPLOYMENTS]) {
    for (const obj of await client.listAll(ref, { namespace })) {
      obj.kind = ref.kind;
      const want = finishedStatus(obj);
      const have = (obj.status ?? {}) as Record<string, number>;
      if (Object.entries(want).every(([k, v]) => have[k] === v)) continue;
      try {
        await client.update(ref, { ...obj, apiVersion: "apps/v1", status: { ...have, ...want } }, { subresource: "status" });
        n++;
      } catch {
        // A newer generation arrived meanwhile: the next round catches up.
      }
    }
  }
  return n;
}

/** Keeps rollouts finished until the signal aborts. */
export async function simulateRollouts(client: KubeClient, namespace: string, signal: AbortSignal, intervalMs = 500): Promise<void> {
  while (!signal.aborted) {
    await completeRollouts(client, namespace).catch(() => undefined);
    await systemClock.sleep(intervalMs, signal).catch(() => undefined);
  }
}
