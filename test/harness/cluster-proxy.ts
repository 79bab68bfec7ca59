/**
 * A fault proxy in front of a test cluster's API server, presenting the control plane's own
 * serving certificate (so the cluster CA stays valid), and the controller's kubeconfig for it.
 */
import fs from "node:fs";
import path from "node:path";
import { ensureCerts } from "./certs.js";
import { controllerKubeconfig } from "./controller-process.js";
import { FaultProxy, type FaultProxyOptions } from "./fault-proxy.js";
import type { TestCluster } from "./shared-cluster.js";

/** A proxy and a controller kubeconfig that goes through it. */
export interface ClusterProxy {
  proxy: FaultProxy;
  kubeconfig: string;
}

/** Starts a TLS fault proxy for `cluster`; the caller stops it. */
export async function proxyForCluster(cluster: TestCluster, options: Omit<FaultProxyOptions, "target" | "ca" | "tls">): Promise<ClusterProxy> {
  const certs = ensureCerts(path.join(cluster.dir, "pki"));
  const proxy = await FaultProxy.start({
    ...options,
    target: cluster.admin.config.server,
    ca: cluster.admin.config.ca,
    tls: { cert: fs.readFileSync(certs.servingCert), key: fs.readFileSync(certs.servingKey) },
  });
  return { proxy, kubeconfig: await controllerKubeconfig(cluster, proxy.url) };
}
