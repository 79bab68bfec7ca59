/**
 * The controller's own rollout gate, Converged → Complete: every present component must run with
 * CALICO_API_GROUP=projectcalico.org/v3 in every container AND have finished its rollout
 * (observedGeneration caught up, every replica or scheduled pod updated and available). Here no
 * rollout simulator runs: the test writes each workload's status itself, one step at a time.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { KubeObject } from "../../src/kube/object.js";
import type { ResourceRef } from "../../src/kube/resource.js";
import { COMPONENTS_NAMESPACE, DAEMONSETS, DEPLOYMENTS, resetApiServerMode } from "../harness/api-server-mode.js";
import { CORE_ROLE_OPT_OUT, installControllerManifests, startController, type RunningController } from "../harness/controller.js";
import { consistently } from "../harness/eventually.js";
import { createMigration, getMigration, setV3ApiGroup, waitMigration, waitPhase } from "../harness/migration-cr.js";
import { finishedStatus } from "../harness/rollout-simulator.js";
import { sharedCluster, type TestCluster } from "../harness/shared-cluster.js";
import { writeV1 } from "../harness/v1-writer.js";

describe("controller: the rollout gate at Converged", () => {
  let cluster: TestCluster;
  let controller: RunningController | undefined;

  /** Writes `status` (merged over a finished rollout's, unless `finished` is false) for one component. */
  async function setStatus(ref: ResourceRef, name: string, status: (obj: KubeObject) => Record<string, number>): Promise<void> {
    const obj = await cluster.admin.get(ref, name, COMPONENTS_NAMESPACE);
    obj.kind = ref.kind;
    await cluster.admin.update(ref, { ...obj, apiVersion: "apps/v1", status: status(obj) }, { subresource: "status" });
  }

  /** The CR stays Converged with exactly `message` (the controller re-reads components every poll). */
  async function staysConverged(message: string): Promise<void> {
    await waitMigration(cluster.admin, (d) => assert.equal(d.status?.message, message), { timeoutMs: 30_000, message: `status.message "${message}"` });
    await consistently(async () => {
      const dm = await getMigration(cluster.admin);
      assert.equal(dm?.status?.phase, "Converged", `phase (message: ${dm?.status?.message})`);
      assert.equal(dm?.status?.message, message);
    }, { durationMs: 2_500, message: `still Converged with "${message}"` });
  }

  before(async () => {
    cluster = await sharedCluster();
    await resetApiServerMode(cluster.admin);
    await installControllerManifests(cluster.admin);
    await writeV1(cluster.admin, { kind: "GlobalNetworkSet", metadata: { name: "rollout-gate" }, spec: { nets: ["192.0.2.0/24"] } });
    controller = await startController(cluster);
  });

  after(async () => {
    await controller?.stop();
  });

  test("Complete waits for every component's switch and finished rollout, naming the one it waits for", async () => {
    await createMigration(cluster.admin, { annotations: CORE_ROLE_OPT_OUT });
    await waitPhase(cluster.admin, "Converged");

    // Partly switched: calico-node and kube-controllers run with the v3 API group, typha does not.
    await setV3ApiGroup(cluster.admin, "calico-node");
    await setV3ApiGroup(cluster.admin, "calico-kube-controllers");
    await staysConverged("Waiting for user to set CALICO_API_GROUP=projectcalico.org/v3 on calico-typha (calico-migrate switch-components)");

    // Every component switched, no rollout begun: the workload controllers have not seen the new generation.
    await setV3ApiGroup(cluster.admin, "calico-typha");
    await staysConverged("Waiting for daemon set spec update to be observed (calico-node)");

    // calico-node: the new generation observed, one of three nodes updated.
    await setStatus(DAEMONSETS, "calico-node", (o) => ({ ...finishedStatus(o), updatedNumberScheduled: 1 }));
    await staysConverged('Waiting for daemon set "calico-node" rollout to finish: 1 out of 3 new pods have been updated...');

    // calico-node updated everywhere but one pod not available yet.
    await setStatus(DAEMONSETS, "calico-node", (o) => ({ ...finishedStatus(o), numberAvailable: 2, numberUnavailable: 1 }));
    await staysConverged('Waiting for daemon set "calico-node" rollout to finish: 2 of 3 updated pods are available...');

    // calico-node done; typha observed its generation but no replica is updated yet.
    await setStatus(DAEMONSETS, "calico-node", finishedStatus);
    await setStatus(DEPLOYMENTS, "calico-typha", (o) => ({ ...finishedStatus(o), updatedReplicas: 0 }));
    await staysConverged('Waiting for deployment "calico-typha" rollout to finish: 0 out of 1 new replicas have been updated...');

    // typha done; kube-controllers still on the previous generation (observedGeneration behind).
    await setStatus(DEPLOYMENTS, "calico-typha", finishedStatus);
    await setStatus(DEPLOYMENTS, "calico-kube-controllers", (o) => ({ ...finishedStatus(o), observedGeneration: (o.metadata.generation ?? 2) - 1 }));
    await staysConverged("Waiting for deployment spec update to be observed (calico-kube-controllers)");

    // The last rollout finishes: Complete.
    await setStatus(DEPLOYMENTS, "calico-kube-controllers", finishedStatus);
    const dm = await waitPhase(cluster.admin, "Complete", { timeoutMs: 30_000 });
    assert.equal(dm.status?.message, "Migration complete");
  });
});
