/**
 * A real local Kubernetes control plane (etcd, one or more kube-apiservers, kube-controller-manager
 * running only the garbage-collector and namespace controllers) on 127.0.0.1 with free ports and
 * its own data directory, plus the process beside it (calico-side-main.ts): the egress proxy that
 * is the kube-apiservers' only way to an in-cluster address, the Calico API server stand-in, and
 * for several kube-apiservers the round-robin front proxy the clients use. Used by the tests, the
 * demo and the benchmark.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { KubeClient } from "../../src/kube/client.js";
import { isAlreadyExists, isNotFound } from "../../src/kube/errors.js";
import { controlPlaneBinaries, repoRoot } from "./binaries.js";
import { egressSelectorConfig } from "./egress-proxy.js";
import type { SideConfig } from "./calico-side-main.js";
import type { CalicoWrite } from "./calico-apiserver.js";
import { ensureCerts, type ControlPlaneCerts } from "./certs.js";
import { freePort } from "./free-port.js";
import { writeKubeconfig } from "./kubeconfig-file.js";

/** How to start a control plane. */
export interface ControlPlaneOptions {
  /** Data directory; default a fresh temporary one (removed on stop). */
  dir?: string;
  /** Feature gates; default `MutatingAdmissionPolicy=true` when mutatingAdmissionPolicy is on. */
  featureGates?: Record<string, boolean>;
  /** `--runtime-config` entries; default serves admissionregistration.k8s.io/v1beta1 when MAP is on. */
  runtimeConfig?: string[];
  /** Serve MutatingAdmissionPolicy (gate + v1beta1 API). Default true. */
  mutatingAdmissionPolicy?: boolean;
  /** Run kube-controller-manager (GC + namespace controllers). Default true. */
  controllerManager?: boolean;
  /** Leave the processes running when this process exits (dev-cluster up). */
  detached?: boolean;
  kubeVersion?: string;
  /** Progress lines (default: silent). */
  log?: (line: string) => void;
  /** kube-apiservers on the one etcd; more than one puts the round-robin front proxy before them. Default 1. */
  apiservers?: number;
  /** kube-controller-manager's `--v` (default 1); 5 logs every garbage-collector decision. */
  controllerManagerVerbosity?: number;
}

/** The Calico API Service's cluster IP (in --service-cluster-ip-range) and port: the egress proxy's only route. */
export const CALICO_SERVICE_IP = "10.0.0.100";
export const CALICO_SERVICE_PORT = 443;

/** What the side process reports (GET /state on its control socket). */
export interface SideState {
  egress: { tunnels: Record<string, number>; refused: { target: string; at: string }[] };
  calico: { served: Record<string, number>; writes: CalicoWrite[] };
  ha?: { requests: number[]; lagged: number; lagMs: number; apiServiceDeletedAt?: string };
}

interface StateFile {
  pids: number[];
  kubeconfig: string;
  server: string;
}

const STATE = "control-plane.json";

/** A running control plane; `stop()` ends every process it started. */
export class ControlPlane {
  private stopped = false;
  private readonly onExit = () => this.killAllSync();

  private constructor(
    readonly dir: string,
    readonly server: string,
    readonly kubeconfigPath: string,
    readonly certs: ControlPlaneCerts,
    private readonly children: ChildProcess[],
    private readonly ownsDir: boolean,
    readonly admin: KubeClient,
    /** The side process's control socket. */
    readonly sideSocket: string,
    /** Every kube-apiserver's own URL (behind the front proxy when more than one). */
    readonly apiservers: string[],
  ) {}

  /** Counters of the egress proxy, the Calico API server and the front proxy. */
  sideState(): Promise<SideState> {
    return sideRequest(this.sideSocket, "GET", "/state");
  }

  /** How long the lagging replica keeps proxying projectcalico.org/v3 after the APIService goes (HA only). */
  setLag(ms: number): Promise<SideState> {
    return sideRequest(this.sideSocket, "POST", `/lag?ms=${ms}`);
  }

  /** Starts etcd, kube-apiserver and (by default) kube-controller-manager and waits until ready. */
  static async start(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
    const log = options.log ?? (() => undefined);
    const bins = controlPlaneBinaries(options.kubeVersion);
    const ownsDir = options.dir === undefined;
    const dir = path.resolve(options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "calico-cp-")));
    fs.mkdirSync(dir, { recursive: true });
    await reapStale(dir, log);
    for (const sub of ["etcd", "apiserver", "logs"]) fs.rmSync(path.join(dir, sub), { recursive: true, force: true });
    fs.mkdirSync(path.join(dir, "logs"), { recursive: true });
    const certs = ensureCerts(path.join(dir, "pki"));
    const replicas = Math.max(1, options.apiservers ?? 1);
    const [etcdPort, peerPort, calicoPort] = [await freePort(), await freePort(), await freePort()];
    const apiPorts: number[] = [];
    for (let i = 0; i < replicas; i++) apiPorts.push(await freePort());
    const haPort = replicas > 1 ? await freePort() : undefined;
    const backends = apiPorts.map((p) => `https://127.0.0.1:${p}`);
    const server = haPort ? `https://127.0.0.1:${haPort}` : (backends[0] ?? "");
    const children: ChildProcess[] = [];
    const started = Date.now();

    const launch = (name: string, bin: string, args: string[]): ChildProcess => {
      const logFd = fs.openSync(path.join(dir, "logs", `${name}.log`), "a");
      const child = spawn(bin, args, { stdio: ["ignore", logFd, logFd], detached: options.detached ?? false });
      fs.closeSync(logFd);
      children.push(child);
      writeState(dir, { pids: children.map((c) => c.pid ?? 0), kubeconfig: path.join(dir, "kubeconfig"), server });
      if (options.detached) child.unref();
      return child;
    };

    const mapOn = options.mutatingAdmissionPolicy ?? true;
    const gates = options.featureGates ?? (mapOn ? { MutatingAdmissionPolicy: true } : {});
    const runtimeConfig = options.runtimeConfig ?? (mapOn ? ["admissionregistration.k8s.io/v1beta1=true"] : []);

    log(`starting etcd on 127.0.0.1:${etcdPort}`);
    launch("etcd", bins.etcd, [
      "--name=default",
      `--data-dir=${path.join(dir, "etcd")}`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
      `--quota-backend-bytes=${8 * 1024 * 1024 * 1024}`,
      "--unsafe-no-fsync=true",
      "--log-level=warn",
    ]);

    const gateList = Object.entries(gates).map(([k, v]) => `${k}=${v}`);
    const egressSocket = path.join(dir, "egress.sock");
    const egressConfig = path.join(dir, "egress-selector.yaml");
    fs.writeFileSync(egressConfig, egressSelectorConfig(egressSocket));
    const side: SideConfig = {
      egressSocket, controlSocket: path.join(dir, "side.sock"), readyFile: path.join(dir, "side-ready.json"),
      calicoServiceTarget: `${CALICO_SERVICE_IP}:${CALICO_SERVICE_PORT}`, calicoPort, storageServer: backends[0] ?? "",
      caCert: certs.caCert, adminCert: certs.adminCert, adminKey: certs.adminKey,
      calicoServingCert: certs.calicoServingCert, calicoServingKey: certs.calicoServingKey,
      frontProxyCaCert: certs.frontProxyCaCert, frontProxyClientCert: certs.frontProxyClientCert, frontProxyClientKey: certs.frontProxyClientKey,
      servingCert: certs.servingCert, servingKey: certs.servingKey,
      ...(haPort ? { ha: { port: haPort, backends } } : {}),
    };
    const sideConfigFile = path.join(dir, "side.json");
    fs.writeFileSync(sideConfigFile, JSON.stringify(side));
    fs.rmSync(side.readyFile, { force: true });
    log(`starting the egress proxy and Calico API server${haPort ? ` and the front proxy on ${server}` : ""}`);
    launch("calico-side", process.execPath, ["--import", "tsx", path.join(repoRoot, "test/harness/calico-side-main.ts"), sideConfigFile]);
    try {
      await waitForFile(side.readyFile, 30_000, () => tailLogs(dir));
    } catch (err) {
      for (const child of children) child.kill("SIGKILL");
      throw err;
    }

    const apiArgs = (port: number, n: number) => [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      // A loopback address may not be an Endpoints address; nothing here dials the kubernetes Service.
      "--endpoint-reconciler-type=none",
      `--secure-port=${port}`,
      `--cert-dir=${path.join(dir, "apiserver", String(n))}`,
      `--tls-cert-file=${certs.servingCert}`,
      `--tls-private-key-file=${certs.servingKey}`,
      `--client-ca-file=${certs.caCert}`,
      `--service-account-key-file=${certs.saPub}`,
      `--service-account-signing-key-file=${certs.saKey}`,
      `--service-account-issuer=${server}`,
      "--authorization-mode=RBAC",
      "--service-cluster-ip-range=10.0.0.0/24",
      "--allow-privileged=true",
      "--profiling=false",
      "--max-requests-inflight=800",
      "--max-mutating-requests-inflight=400",
      // The aggregation layer: kube-apiserver authenticates to aggregated servers with the
      // front-proxy client certificate and reaches them only through the egress proxy.
      `--requestheader-client-ca-file=${certs.frontProxyCaCert}`,
      "--requestheader-allowed-names=front-proxy-client",
      "--requestheader-username-headers=X-Remote-User",
      "--requestheader-group-headers=X-Remote-Group",
      "--requestheader-extra-headers-prefix=X-Remote-Extra-",
      `--proxy-client-cert-file=${certs.frontProxyClientCert}`,
      `--proxy-client-key-file=${certs.frontProxyClientKey}`,
      `--egress-selector-config-file=${egressConfig}`,
      "--v=1",
      ...(gateList.length ? [`--feature-gates=${gateList.join(",")}`] : []),
      ...(runtimeConfig.length ? [`--runtime-config=${runtimeConfig.join(",")}`] : []),
    ];
    apiPorts.forEach((port, n) => {
      log(`starting kube-apiserver ${n + 1}/${replicas} on https://127.0.0.1:${port}`);
      launch(replicas > 1 ? `kube-apiserver-${n}` : "kube-apiserver", bins.kubeApiserver, apiArgs(port, n));
    });

    const kubeconfigPath = writeKubeconfig(path.join(dir, "kubeconfig"), server, certs.caCert, {
      clientCertificate: certs.adminCert,
      clientKey: certs.adminKey,
    });
    const admin = new KubeClient({
      server,
      ca: fs.readFileSync(certs.caCert),
      cert: fs.readFileSync(certs.adminCert),
      key: fs.readFileSync(certs.adminKey),
      userAgent: "calico-migration-harness",
    });
    const cp = new ControlPlane(dir, server, kubeconfigPath, certs, children, ownsDir, admin, side.controlSocket, backends);
    if (!options.detached) process.on("exit", cp.onExit);
    try {
      await cp.waitReady(120_000);
      if (options.controllerManager ?? true) {
        log("starting kube-controller-manager (garbage-collector, namespace)");
        launch("kube-controller-manager", bins.kubeControllerManager, [
          `--kubeconfig=${kubeconfigPath}`,
          "--controllers=garbage-collector-controller,namespace-controller",
          "--bind-address=127.0.0.1",
          "--secure-port=0",
          "--leader-elect=false",
          "--kube-api-qps=200",
          "--kube-api-burst=400",
          `--v=${options.controllerManagerVerbosity ?? 1}`,
        ]);
      }
      log(`control plane ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    } catch (err) {
      await cp.stop();
      throw err;
    }
    return cp;
  }

  /** Environment for a child process that should use this cluster. */
  get env(): Record<string, string> {
    return { KUBECONFIG: this.kubeconfigPath };
  }

  /** Process ids of etcd, kube-apiserver and kube-controller-manager. */
  get pids(): number[] {
    return this.children.map((c) => c.pid ?? 0);
  }

  /**
   * Writes a kubeconfig for a ServiceAccount (created if missing) with a token from the
   * TokenRequest API, so code can run with exactly the RBAC granted to it.
   */
  async serviceAccountKubeconfig(namespace: string, name: string, expirationSeconds = 86_400): Promise<string> {
    const ns = { group: "", version: "v1", plural: "namespaces", namespaced: false, kind: "Namespace" };
    const sa = { group: "", version: "v1", plural: "serviceaccounts", namespaced: true, kind: "ServiceAccount" };
    for (const [ref, obj] of [
      [ns, { metadata: { name: namespace } }],
      [sa, { metadata: { name, namespace } }],
    ] as const) {
      try {
        await this.admin.create(ref, obj);
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
    }
    const tr = await this.admin.request<{ status: { token: string } }>(
      "POST",
      `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
      { body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds } } },
    );
    const file = path.join(this.dir, `kubeconfig-${namespace}-${name}`);
    return writeKubeconfig(file, this.server, this.certs.caCert, { token: tr.status.token });
  }

  /** Lets a detached control plane outlive this process (dev-cluster up): closes our connections only. */
  release(): void {
    this.stopped = true;
    process.off("exit", this.onExit);
    this.admin.close();
  }

  /**
   * Stops every process (SIGTERM, then SIGKILL after a grace period) and removes a temporary dir,
   * unless `keepDir` (its logs kept for a post-mortem).
   */
  async stop(keepDir = false): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    process.off("exit", this.onExit);
    this.admin.close();
    // Controller manager and API server first, etcd last.
    for (const child of [...this.children].reverse()) await stopChild(child);
    fs.rmSync(path.join(this.dir, STATE), { force: true });
    if (this.ownsDir && !keepDir) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private killAllSync(): void {
    for (const child of this.children) {
      try {
        if (child.exitCode === null && child.pid) process.kill(child.pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    }
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    for (;;) {
      const dead = this.children.find((c) => c.exitCode !== null);
      if (dead) throw new Error(`${dead.spawnfile} exited with ${dead.exitCode}; see ${this.dir}/logs:\n${tailLogs(this.dir)}`);
      try {
        await this.admin.requestText("GET", "/readyz", { timeoutMs: 5000 });
        await this.admin.get({ group: "", version: "v1", plural: "namespaces", namespaced: false, kind: "Namespace" }, "default");
        return;
      } catch (err) {
        last = (err as Error).message;
        if (!isNotFound(err) && Date.now() > deadline) break;
        if (Date.now() > deadline) break;
      }
      await delay(250);
    }
    throw new Error(`control plane not ready within ${timeoutMs} ms (${last}); logs in ${this.dir}/logs:\n${tailLogs(this.dir)}`);
  }
}

/** One request to the side process's control socket. */
export function sideRequest(socketPath: string, method: string, path: string): Promise<SideState> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => (res.statusCode === 200 ? resolve(JSON.parse(body) as SideState) : reject(new Error(`side ${path}: ${res.statusCode}`))));
    });
    req.on("error", reject);
    req.end();
  });
}

async function waitForFile(file: string, timeoutMs: number, logs: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fs.existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`${file} did not appear within ${timeoutMs} ms:\n${logs()}`);
    await delay(100);
  }
}

/** Stops a control plane left running in `dir` (dev-cluster down, or a killed harness). */
export async function stopControlPlaneInDir(dir: string, log: (line: string) => void = () => undefined): Promise<boolean> {
  return reapStale(path.resolve(dir), log);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timedOut = await Promise.race([exited.then(() => false), delay(10_000).then(() => true)]);
  if (timedOut) {
    child.kill("SIGKILL");
    await exited;
  }
}

function writeState(dir: string, state: StateFile): void {
  fs.writeFileSync(path.join(dir, STATE), JSON.stringify(state));
}

/** Kills processes recorded in `dir` by an earlier start that did not stop them. */
async function reapStale(dir: string, log: (line: string) => void): Promise<boolean> {
  const file = path.join(dir, STATE);
  if (!fs.existsSync(file)) return false;
  const state = JSON.parse(fs.readFileSync(file, "utf8")) as StateFile;
  const ours = state.pids.filter((pid) => pid > 0 && isOurs(pid, dir));
  if (ours.length) log(`stopping ${ours.length} process(es) left running in ${dir}`);
  for (const pid of [...ours].reverse()) signal(pid, "SIGTERM");
  const deadline = Date.now() + 10_000;
  while (ours.some((pid) => alive(pid)) && Date.now() < deadline) await delay(100);
  for (const pid of ours) if (alive(pid)) signal(pid, "SIGKILL");
  while (ours.some((pid) => alive(pid))) await delay(50);
  fs.rmSync(file, { force: true });
  return ours.length > 0;
}

/** A recorded pid is ours only if its command line still names our data directory. */
function isOurs(pid: number, dir: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(dir);
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/\) Z /.test(stat);
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone */
  }
}

function tailLogs(dir: string): string {
  const logs = path.join(dir, "logs");
  if (!fs.existsSync(logs)) return "";
  return fs
    .readdirSync(logs)
    .map((f) => `--- ${f}\n${fs.readFileSync(path.join(logs, f), "utf8").split("\n").slice(-15).join("\n")}`)
    .join("\n");
}
