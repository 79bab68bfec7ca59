/**
 * The process that runs beside the kube-apiservers of a local control plane: the egress proxy
 * (the control plane's only way to an in-cluster address), the Calico API server stand-in, and, for
 * an HA control plane, the round-robin front proxy. A small control API on a Unix socket reports
 * counters and sets the lagging replica's lag. Started by ControlPlane; `node --import tsx` this
 * file with the path of its JSON config.
 */
import fs from "node:fs";
import http from "node:http";
import { KubeClient } from "../../src/kube/client.js";
import { CalicoApiServer } from "./calico-apiserver.js";
import { EgressProxy } from "./egress-proxy.js";
import { HaFrontProxy } from "./ha-front-proxy.js";

/** The sidecar's configuration (written by ControlPlane). */
export interface SideConfig {
  egressSocket: string;
  controlSocket: string;
  readyFile: string;
  /** The Calico API Service's cluster IP and port, e.g. 10.0.0.100:443. */
  calicoServiceTarget: string;
  calicoPort: number;
  /** A kube-apiserver to use for storage (not the front proxy). */
  storageServer: string;
  caCert: string;
  adminCert: string;
  adminKey: string;
  calicoServingCert: string;
  calicoServingKey: string;
  frontProxyCaCert: string;
  frontProxyClientCert: string;
  frontProxyClientKey: string;
  servingCert: string;
  servingKey: string;
  ha?: { port: number; backends: string[] };
}

const config = JSON.parse(fs.readFileSync(process.argv[2] ?? "", "utf8")) as SideConfig;
const read = (f: string) => fs.readFileSync(f);
const storage = new KubeClient({
  server: config.storageServer, ca: read(config.caCert), cert: read(config.adminCert), key: read(config.adminKey),
  userAgent: "calico-apiserver-standin", maxSockets: 128,
});

const egress = await EgressProxy.start(config.egressSocket, { [config.calicoServiceTarget]: config.calicoPort });
const calico = await CalicoApiServer.start({
  storage, cert: read(config.calicoServingCert), key: read(config.calicoServingKey),
  requestHeaderCa: read(config.frontProxyCaCert), port: config.calicoPort,
});
const ha = config.ha
  ? await HaFrontProxy.start({
      backends: config.ha.backends, port: config.ha.port, ca: read(config.caCert), client: storage,
      serving: { cert: read(config.servingCert), key: read(config.servingKey) },
      admin: { cert: read(config.adminCert), key: read(config.adminKey) },
      calico: { url: `https://127.0.0.1:${calico.port}`, ca: read(config.caCert), cert: read(config.frontProxyClientCert), key: read(config.frontProxyClientKey) },
    })
  : undefined;

fs.rmSync(config.controlSocket, { force: true });
const control = http.createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://control");
  if (req.method === "POST" && url.pathname === "/lag") {
    ha?.setLag(Number(url.searchParams.get("ms") ?? "0"));
  } else if (url.pathname !== "/state") {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({
    egress: { tunnels: egress.tunnels, refused: egress.refused },
    calico: { served: calico.served, writes: calico.writes },
    ha: ha?.state(),
  }));
});
await new Promise<void>((resolve) => control.listen(config.controlSocket, resolve));
fs.writeFileSync(config.readyFile, JSON.stringify({ pid: process.pid, calicoPort: calico.port, haPort: ha?.port }));

const shutdown = () => {
  void Promise.allSettled([egress.stop(), calico.stop(), ha?.stop(), new Promise<void>((r) => control.close(() => r()))]).then(() => {
    storage.close();
    fs.rmSync(config.controlSocket, { force: true });
    process.exit(0);
  });
};
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
