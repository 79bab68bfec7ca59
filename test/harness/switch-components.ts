/**
 * What the user (or the operator) does at Converged: CALICO_API_GROUP=projectcalico.org/v3 on
 * every container of calico-node, calico-typha and calico-kube-controllers, then the rollouts
 * finish (no kubelet runs here: their status is written as a finished rollout's).
 */
import type { KubeClient } from "../../src/kube/client.js";
import { isConflict } from "../../src/kube/errors.js";
import { COMPONENTS_NAMESPACE, DAEMONSETS, DEPLOYMENTS } from "./api-server-mode.js";
import { completeRollouts } from "./rollout-simulator.js";

/** Switches every component to the v3 API group and completes the rollouts. */
export async function switchComponentsToV3(admin: KubeClient, namespace = COMPONENTS_NAMESPACE): Promise<void> {
  for (const [ref, name] of [[DAEMONSETS, "calico-node"], [DEPLOYMENTS, "calico-typha"], [DEPLOYMENTS, "calico-kube-controllers"]] as const) {
    for (let attempt = 0; ; attempt++) {
      const obj = await admin.get(ref, name, namespace);
      const spec = obj.spec as { template: { spec: { containers: { env?: { name: string; value?: string }[] }[] } } };
      for (const c of spec.template.spec.containers) {
        c.env = [...(c.env ?? []).filter((e) => e.name !== "CALICO_API_GROUP"), { name: "CALICO_API_GROUP", value: "projectcalico.org/v3" }];
      }
      try {
        await admin.update(ref, obj);
        break;
      } catch (err) {
        if (!isConflict(err) || attempt >= 5) throw err;
      }
    }
  }
  await completeRollouts(admin, namespace);
}
