import { test } from "node:test";
import assert from "node:assert/strict";
import type { KubeObject } from "../kube/object.js";
import { daemonSetRollout, deploymentRollout, envPatch, rolloutState, switchState } from "./rollout.js";

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

test("switchState: one rule for the controller's Complete and rollback checks — every container, or any container or init container", () => {
  const spec = (containers: object[], initContainers: object[] = []): KubeObject => ({ metadata: {}, spec: { template: { spec: { containers, initContainers } } } });
  const v3 = { name: "CALICO_API_GROUP", value: "projectcalico.org/v3" };
  assert.deepEqual(switchState(node), { all: false, any: false }, "a valueFrom beside the value does not count");
  assert.deepEqual(switchState(spec([{ name: "a", env: [v3] }, { name: "b" }])), { all: false, any: true });
  assert.deepEqual(switchState(spec([{ name: "a", env: [v3] }], [{ name: "init" }])), { all: true, any: true }, "init containers are patched but not required");
  assert.deepEqual(switchState(spec([{ name: "a" }], [{ name: "init", env: [v3] }])), { all: false, any: true }, "an init container on v3 already makes a rollback unsafe");
  assert.deepEqual(switchState(spec([])), { all: false, any: false });
  // What envPatch leaves nothing to do for is switched, and the other way round.
  const patched = spec([{ name: "a", env: [v3] }], [{ name: "init", env: [v3] }]);
  assert.equal(envPatch(patched).patch, undefined);
  assert.equal(switchState(patched).all, true);
});

test("rolloutState picks the kubectl rule by kind (the controller's Converged → Complete gate uses it too)", () => {
  assert.equal(rolloutState({ ...node, status: { observedGeneration: 2, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 3 } }).done, true);
  assert.equal(rolloutState({ kind: "Deployment", metadata: { name: "t", generation: 1 }, spec: { replicas: 1 }, status: { observedGeneration: 1, updatedReplicas: 1, replicas: 1, availableReplicas: 0 } }).done, false);
});
