/**
 * The control-plane harness: dev-cluster up/down leaves nothing behind, a killed harness is reaped
 * by the next start in the same directory, MAP can be switched off, ServiceAccount kubeconfigs
 * carry only their RBAC.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { KubeClient } from "../../src/kube/client.js";
import { ApiError } from "../../src/kube/errors.js";
import { loadClientConfig } from "../../src/kube/kubeconfig.js";
import { Discovery } from "../../src/kube/discovery.js";
import { repoRoot } from "../harness/binaries.js";
import { ControlPlane } from "../harness/control-plane.js";
import { eventually } from "../harness/eventually.js";
import { portInUse } from "../harness/free-port.js";
import { servedMapVersion } from "../harness/api-server-mode.js";
import { privateCluster } from "../harness/shared-cluster.js";

function alive(pid: number): boolean {
  try {
    return !/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

function recordedState(dir: string): { pids: number[]; server: string } {
  return JSON.parse(fs.readFileSync(path.join(dir, "control-plane.json"), "utf8")) as { pids: number[]; server: string };
}

const GNP_V3 = { group: "projectcalico.org", version: "v3", plural: "globalnetworkpolicies", namespaced: false, kind: "GlobalNetworkPolicy" } as const;
const GNP_V1 = { group: "crd.projectcalico.org", version: "v1", plural: "globalnetworkpolicies", namespaced: false, kind: "GlobalNetworkPolicy" } as const;

// The HA variant is covered by ha-lagging-replica.test.ts (ControlPlane with three kube-apiservers); here
// the dev-cluster entry point, with one (CALICO_TEST_DEVCLUSTER_HA=1 adds the three-replica run).
for (const apiservers of process.env.CALICO_TEST_DEVCLUSTER_HA ? [1, 3] : [1]) {
  test(`dev-cluster up${apiservers > 1 ? ` --apiservers ${apiservers}` : ""} serves v3 from the live Calico API server; down leaves no process and no port behind`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "devc-test-"));
    const tsx = path.join(repoRoot, "node_modules/.bin/tsx");
    const out = execFileSync(tsx, ["scripts/dev-cluster.ts", "up", "--dir", dir, "--apiservers", String(apiservers)], { cwd: repoRoot, encoding: "utf8" });
    assert.match(out, new RegExp(`^KUBECONFIG=${dir}/kubeconfig$`, "m"));
    const { pids, server } = recordedState(dir);
    const port = Number(new URL(server).port);
    assert.equal(pids.length, 3 + apiservers, "etcd, the side process, the kube-apiservers, kube-controller-manager");
    assert.ok(pids.every(alive), "every process runs after up");
    const client = new KubeClient(await loadClientConfig({ kubeconfig: path.join(dir, "kubeconfig") }));
    try {
      const tiers = await client.request<{ kind: string }>("GET", "/apis/projectcalico.org/v3/tiers");
      assert.equal(tiers.kind, "TierList", "GET /apis/projectcalico.org/v3/tiers answers 200");
      const svc = await client.request<{ status?: { conditions?: { type: string; status: string }[] } }>("GET", "/apis/apiregistration.k8s.io/v1/apiservices/v3.projectcalico.org");
      assert.equal(svc.status?.conditions?.find((c) => c.type === "Available")?.status, "True", "the APIService is Available");
      await client.create(GNP_V3, { apiVersion: "projectcalico.org/v3", kind: "GlobalNetworkPolicy", metadata: { name: "devc-allow" }, spec: { selector: "all()", ingress: [{ action: "Allow" }] } });
      const stored = await client.get(GNP_V1, "devc-allow");
      assert.ok(stored.metadata.annotations?.["projectcalico.org/metadata"], "stored in crd.projectcalico.org/v1 with Calico's metadata annotation");
    } finally {
      client.close();
    }
    execFileSync(tsx, ["scripts/dev-cluster.ts", "down", "--dir", dir], { cwd: repoRoot, encoding: "utf8" });
    assert.ok(pids.every((p) => !alive(p)), "no process left after down");
    assert.equal(await portInUse(port), false, "API server port released");
    fs.rmSync(dir, { recursive: true, force: true });
  });
}

test("a harness killed with SIGKILL is reaped by the next start in the same directory", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "reap-test-"));
  const script = path.join(dir, "start.mts");
  fs.writeFileSync(
    script,
    `import { ControlPlane } from ${JSON.stringify(path.join(repoRoot, "test/harness/control-plane.ts"))};\n` +
      `await ControlPlane.start({ dir: ${JSON.stringify(dir)}, controllerManager: false });\nconsole.log("ready");\nsetInterval(() => {}, 1000);\n`,
  );
  // node itself (not the tsx wrapper, which would leave a grandchild behind) is the harness we kill.
  const child = spawn(process.execPath, ["--import", "tsx", script], { cwd: repoRoot, stdio: ["ignore", "pipe", "inherit"] });
  let stdout = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  await eventually(() => stdout.includes("ready"), { timeoutMs: 60_000, message: "harness child ready" });
  const { pids } = recordedState(dir);
  await eventually(() => pids.every(alive), { timeoutMs: 10_000 });
  child.kill("SIGKILL");
  await eventually(() => child.exitCode !== null || child.signalCode !== null, { timeoutMs: 10_000 });
  assert.ok(pids.every(alive), "the harness's children survive its SIGKILL");

  const cp = await ControlPlane.start({ dir, controllerManager: false });
  try {
    assert.ok(pids.every((p) => !alive(p)), "the next start reaped the stale processes");
  } finally {
    await cp.stop();
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test("a control plane can be started without MutatingAdmissionPolicy", async () => {
  const cp = await privateCluster({ mutatingAdmissionPolicy: false, controllerManager: false });
  assert.equal(await servedMapVersion(new Discovery(cp.admin)), null);
});

test("a ServiceAccount kubeconfig carries only that account's RBAC", async () => {
  const cp = await privateCluster({ controllerManager: false });
  const kubeconfig = await cp.serviceAccountKubeconfig("rbac-test", "reader");
  const sa = new KubeClient(await loadClientConfig({ kubeconfig }));
  try {
    const err = await sa.list({ group: "", version: "v1", plural: "secrets", namespaced: true, kind: "Secret" }, { namespace: "kube-system" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof ApiError && err.code === 403, "no grant, no list");
    const who = await sa.request<{ status: { userInfo: { username: string } } }>("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {
      body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
    });
    assert.equal(who.status.userInfo.username, "system:serviceaccount:rbac-test:reader");
  } finally {
    sa.close();
  }
});

test("stop() ends every process and frees the port", async () => {
  const cp = await ControlPlane.start({ controllerManager: true });
  const pids = cp.pids;
  const port = Number(new URL(cp.server).port);
  await cp.stop();
  assert.ok(pids.every((p) => !alive(p)));
  assert.equal(await portInUse(port), false);
});
