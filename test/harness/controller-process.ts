/**
 * The controller as a real process (`calico-migrate controller` through tsx), so a test can
 * SIGKILL it at any point and start it again: its JSON log lines are kept (and echoed to stderr
 * with CONTROLLER_LOG=1), and kubeconfigs can point it at a fault proxy.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { repoRoot } from "./binaries.js";
import { CONTROLLER_NAMESPACE, CONTROLLER_SA } from "./controller.js";
import type { TestCluster } from "./shared-cluster.js";

/** One parsed log line (pino JSON). */
export interface LogLine {
  level: number;
  msg: string;
  time: number;
  [field: string]: unknown;
}

/** How to run the controller. */
export interface ControllerProcessOptions {
  drainPeriod?: string;
  pollInterval?: string;
  /** `--restore-quiet`: 2 s keeps abort tests short; the crash loop (the soak) passes the product's 10 s. */
  restoreQuiet?: string;
  extraArgs?: string[];
  /** A label for echoed log lines. */
  name?: string;
}

/** A running (or exited) controller process. */
export class ControllerProcess {
  readonly logs: LogLine[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;

  /** Starts `calico-migrate controller --kubeconfig <kubeconfig>` with health and metrics on free ports. */
  constructor(kubeconfig: string, options: ControllerProcessOptions = {}) {
    const args = [
      "--import", "tsx", path.join(repoRoot, "src/cli/main.ts"), "controller",
      "--kubeconfig", kubeconfig,
      "--drain-period", options.drainPeriod ?? "1s",
      "--poll-interval", options.pollInterval ?? "1s",
      "--restore-quiet", options.restoreQuiet ?? "2s",
      "--metrics-bind-address", "127.0.0.1:0",
      "--health-probe-bind-address", "127.0.0.1:0",
      ...(options.extraArgs ?? []),
    ];
    this.child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
    const label = options.name ?? "controller";
    let buffered = "";
    this.child.stdout?.on("data", (d: Buffer) => {
      buffered += d.toString("utf8");
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        this.take(line, label);
      }
    });
    this.child.stderr?.on("data", (d: Buffer) => {
      if (process.env.CONTROLLER_LOG) process.stderr.write(`[${label} stderr] ${d.toString("utf8")}`);
    });
    // Never outlive the test process (a failed run must not leave a controller behind).
    const reap = () => this.child.kill("SIGKILL");
    process.on("exit", reap);
    this.exited = new Promise((resolve) => this.child.once("exit", (code, signal) => {
      process.off("exit", reap);
      resolve({ code, signal });
    }));
  }

  /** The process id. */
  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** True while the process runs. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGKILL (default) or another signal, and wait until it has exited. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (this.running) this.child.kill(signal);
    await this.exited;
  }

  /** Log lines with this message. */
  lines(msg: string): LogLine[] {
    return this.logs.filter((l) => l.msg === msg);
  }

  private take(line: string, label: string): void {
    if (!line.trim()) return;
    if (process.env.CONTROLLER_LOG) process.stderr.write(`[${label}] ${line}\n`);
    try {
      this.logs.push(JSON.parse(line) as LogLine);
    } catch {
      this.logs.push({ level: 30, msg: line, time: Date.now() });
    }
  }
}

/**
 * A kubeconfig for the controller's ServiceAccount whose server is `server` (e.g. a fault proxy
 * presenting the control plane's serving certificate, so the CA stays the same).
 */
export async function controllerKubeconfig(cluster: TestCluster, server?: string): Promise<string> {
  const original = await cluster.serviceAccountKubeconfig(CONTROLLER_NAMESPACE, CONTROLLER_SA);
  if (!server) return original;
  const doc = YAML.parse(fs.readFileSync(original, "utf8")) as { clusters: { cluster: { server: string } }[] };
  for (const c of doc.clusters) c.cluster.server = server;
  const file = `${original}-via-${new URL(server).port}`;
  fs.writeFileSync(file, YAML.stringify(doc), { mode: 0o600 });
  return file;
}
