/**
 * The cluster an integration test file runs against: the shared one started by the test command
 * (CALICO_TEST_KUBECONFIG), or, when a file is run on its own, one started for that file.
 */
import { after } from "node:test";
import fs from "node:fs";
import path from "node:path";
import { KubeClient } from "../../src/kube/client.js";
import { loadClientConfig } from "../../src/kube/kubeconfig.js";
import { isAlreadyExists } from "../../src/kube/errors.js";
import { ControlPlane, sideRequest, type ControlPlaneOptions, type SideState } from "./control-plane.js";
import { installApiServerMode } from "./api-server-mode.js";
import { writeKubeconfig } from "./kubeconfig-file.js";

/** A running cluster a test can use. */
export interface TestCluster {
  admin: KubeClient;
  kubeconfigPath: string;
  dir: string;
  /** A kubeconfig with a token of the ServiceAccount (created if missing). */
  serviceAccountKubeconfig(namespace: string, name: string): Promise<string>;
  /** Counters of the egress proxy, the Calico API server and (HA) the front proxy. */
  sideState(): Promise<SideState>;
}

/**
 * The shared API-server-mode cluster. Registers an `after` hook that stops a cluster it started.
 */
export async function sharedCluster(): Promise<TestCluster> {
  const kubeconfig = process.env.CALICO_TEST_KUBECONFIG;
  if (kubeconfig) {
    const admin = new KubeClient(await loadClientConfig({ kubeconfig }));
    const dir = process.env.CALICO_TEST_CLUSTER_DIR ?? path.dirname(kubeconfig);
    after(() => admin.close());
    return {
      admin, kubeconfigPath: kubeconfig, dir,
      serviceAccountKubeconfig: (ns, n) => mintServiceAccountKubeconfig(admin, dir, ns, n),
      sideState: () => sideRequest(path.join(dir, "side.sock"), "GET", "/state"),
    };
  }
  // Run on its own: the cluster lives as long as this test process. Not `after()`: called from a
  // `before()` hook, that would stop the cluster as soon as the hook ends. The harness kills its
  // processes when this process exits; the temporary directory goes with them.
  const cp = await ControlPlane.start();
  process.once("exit", () => fs.rmSync(cp.dir, { recursive: true, force: true }));
  await installApiServerMode(cp.admin);
  return { admin: cp.admin, kubeconfigPath: cp.kubeconfigPath, dir: cp.dir, serviceAccountKubeconfig: (ns, n) => cp.serviceAccountKubeconfig(ns, n), sideState: () => cp.sideState() };
}

/** A private control plane for tests that need other flags (e.g. no MutatingAdmissionPolicy). */
export async function privateCluster(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const cp = await ControlPlane.start(options);
  after(() => cp.stop());
  return cp;
}

async function mintServiceAccountKubeconfig(admin: KubeClient, dir: string, namespace: string, name: string): Promise<string> {
  for (const [path, body] of [
    ["/api/v1/namespaces", { metadata: { name: namespace } }],
    [`/api/v1/namespaces/${namespace}/serviceaccounts`, { metadata: { name, namespace } }],
  ] as const) {
    try {
      await admin.request("POST", path, { body });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }
  const tr = await admin.request<{ status: { token: string } }>("POST", `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
    body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 86_400 } },
  });
  const caFile = path.join(dir, `ca-${process.pid}.crt`);
  fs.writeFileSync(caFile, admin.config.ca ?? "");
  return writeKubeconfig(path.join(dir, `kubeconfig-${namespace}-${name}-${process.pid}`), admin.config.server, caFile, { token: tr.status.token });
}
