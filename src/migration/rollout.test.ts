import { test } from "node:test";
import assert from "node:assert/strict";
import type { KubeObject } from "../kube/object.js";
import { daemonSetRollout, deploymentRollout, envPatch } from "./rollout.js";

const node: KubeObject = {
  kind: "DaemonSet",
  metadata: { name: "calico-node", namespace: "calico-system", generation: 2 },
  spec: { template: { spec: {
    initContainers: [{ name: "install-cni", env: [{ name: "CNI_NET_DIR", value: "/etc/cni/net.d" }] }],
    containers: [{ name: "calico-node", env: [{ name: "CALICO_API_GROUP", valueFrom: { configMapKeyRef: { name: "x", key: "y" } } }] }],
  } } },
  status: { observedGeneration: 1 },
};

test("envPatch sets the variable on containers and init containers by name (dropping a valueFrom)", () => {
  assert.deepEqual(envPatch(node), {
    containers: ["calico-node"],
    initContainers: ["install-cni"],
    patch: { spec: { template: { spec: {
      containers: [{ name: "calico-node", env: [{ name: "CALICO_API_GROUP", value: "projectcalico.org/v3", valueFrom: null }] }],
      initContainers: [{ name: "install-cni", env: [{ name: "CALICO_API_GROUP", value: "projectcalico.org/v3" }] }],
    } } } },
  });
});

test("envPatch: nothing to do once every container has it", () => {
  const done: KubeObject = { metadata: {}, spec: { template: { spec: { containers: [{ name: "c", env: [{ name: "CALICO_API_GROUP", value: "projectcalico.org/v3" }] }] } } } };
  assert.deepEqual(envPatch(done), { containers: [], initContainers: [] });
});

test("daemon set rollout messages follow kubectl rollout status", () => {
  assert.equal(daemonSetRollout(node).message, "Waiting for daemon set spec update to be observed...");
  const st = (status: object) => daemonSetRollout({ ...node, status: { observedGeneration: 2, ...status } });
  assert.equal(st({ desiredNumberScheduled: 3, updatedNumberScheduled: 1 }).message, 'Waiting for daemon set "calico-node" rollout to finish: 1 out of 3 new pods have been updated...');
  assert.equal(st({ desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 2 }).message, 'Waiting for daemon set "calico-node" rollout to finish: 2 of 3 updated pods are available...');
  assert.deepEqual(st({ desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 3 }), { done: true, message: 'daemon set "calico-node" successfully rolled out' });
});

test("deployment rollout messages follow kubectl rollout status", () => {
  const d = (spec: object, status: object): KubeObject => ({ kind: "Deployment", metadata: { name: "calico-typha", namespace: "calico-system", generation: 3 }, spec, status: { observedGeneration: 3, ...status } });
  assert.equal(deploymentRollout(d({ replicas: 2 }, { updatedReplicas: 1 })).message, 'Waiting for deployment "calico-typha" rollout to finish: 1 out of 2 new replicas have been updated...');
  assert.equal(deploymentRollout(d({ replicas: 2 }, { updatedReplicas: 2, replicas: 3 })).message, 'Waiting for deployment "calico-typha" rollout to finish: 1 old replicas are pending termination...');
  assert.equal(deploymentRollout(d({ replicas: 2 }, { updatedReplicas: 2, replicas: 2, availableReplicas: 1 })).message, 'Waiting for deployment "calico-typha" rollout to finish: 1 of 2 updated replicas are available...');
  assert.equal(deploymentRollout(d({ replicas: 2 }, { updatedReplicas: 2, replicas: 2, availableReplicas: 2 })).done, true);
  assert.match(deploymentRollout(d({}, { conditions: [{ type: "Progressing", reason: "ProgressDeadlineExceeded" }] })).error ?? "", /exceeded its progress deadline/);
});
