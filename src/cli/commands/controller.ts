/**
 * `calico-migrate controller`: runs the DatastoreMigration controller — in-cluster or with
 * --kubeconfig/--context — with health, readiness and metrics endpoints, JSON logs, and optional
 * Lease leader election (exit on loss, as controller-runtime does).
 */
import fs from "node:fs";
import os from "node:os";
import { InvalidArgumentError, Option, type Command } from "commander";
import { pino } from "pino";
import { Gauge, Registry, collectDefaultMetrics } from "prom-client";
import { DEFAULT_CONFIG, type ControllerConfig } from "../../controller/config.js";
import { Manager } from "../../controller/manager.js";
import { KubeClient } from "../../kube/client.js";
import { systemClock } from "../../kube/clock.js";
import { formatDuration } from "../../kube/duration.js";
import { isAlreadyExists, isForbidden, isNotFound } from "../../kube/errors.js";
import { startHttpServer } from "../../kube/http-server.js";
import { loadClientConfig } from "../../kube/kubeconfig.js";
import { LeaderElector } from "../../kube/leader-election.js";
import type { Logger } from "../../kube/logger.js";
import { examples, globalsOf, parseDurationFlag } from "../flags.js";

/** Options of `controller`: the configuration and the global kubeconfig flags. */
export interface ControllerCommandOptions {
  config: ControllerConfig;
  kubeconfig?: string;
  context?: string;
  /** Stops the controller (tests); default SIGINT/SIGTERM. */
  signal?: AbortSignal;
}

const SA_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
const NAMESPACES = { group: "", version: "v1", plural: "namespaces", namespaced: false, kind: "Namespace" } as const;

/** A positive whole number flag, or commander's usage error. */
function positiveInt(value: string): number {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError(`expected a positive whole number, got "${value}"`);
  return Number(value);
}

/** A duration flag whose default is shown the way it is typed. */
function durationOption(flags: string, description: string, defaultMs: number): Option {
  return new Option(flags, description).argParser(parseDurationFlag).default(defaultMs, formatDuration(defaultMs));
}

/** The flags as commander hands them over. */
interface RawControllerFlags {
  drainPeriod: number;
  pollInterval: number;
  copyConcurrency: number;
  leaderElect: boolean;
  namespace?: string;
  lockedWarning: number;
  refusalGrace: number;
  settleQuiet: number;
  restoreQuiet: number;
  precopy: boolean;
  componentsNamespace?: string;
  metricsBindAddress: string;
  healthProbeBindAddress: string;
  validate: boolean;
}

/** The configuration from the parsed flags; the namespace defaults to the pod's in-cluster. */
export function controllerConfig(raw: RawControllerFlags, inClusterNamespace?: string): ControllerConfig {
  return {
    ...DEFAULT_CONFIG,
    drainPeriodMs: raw.drainPeriod,
    pollIntervalMs: raw.pollInterval,
    lockedWarningMs: raw.lockedWarning,
    refusalGraceMs: raw.refusalGrace,
    settleQuietMs: raw.settleQuiet,
    restoreQuietMs: raw.restoreQuiet,
    precopy: raw.precopy,
    copyConcurrency: raw.copyConcurrency,
    leaderElect: raw.leaderElect,
    namespace: raw.namespace ?? inClusterNamespace ?? DEFAULT_CONFIG.namespace,
    componentsNamespace: raw.componentsNamespace,
    metricsBindAddress: raw.metricsBindAddress,
    healthProbeBindAddress: raw.healthProbeBindAddress,
    validate: raw.validate,
  };
}

/** Registers `controller`, with the same flag parser and help as every other command. */
export function registerController(program: Command): void {
  const d = DEFAULT_CONFIG;
  program
    .command("controller")
    .description("run the DatastoreMigration controller (in-cluster, or with --kubeconfig/--context)")
    .configureHelp({ showGlobalOptions: true })
    .addOption(durationOption("--drain-period <duration>", "wait after locking v1 before unregistering the APIService", d.drainPeriodMs))
    .addOption(durationOption("--poll-interval <duration>", "how often blocked or waiting states are re-checked", d.pollIntervalMs))
    .addOption(new Option("--copy-concurrency <n>", "writes in flight during the copy").argParser(positiveInt).default(d.copyConcurrency))
    .addOption(new Option("--leader-elect", "hold a Lease so only one replica acts").default(false))
    .option("--namespace <name>", `the controller's namespace for its Lease and report (default: the pod's namespace in-cluster, else ${d.namespace})`)
    .addOption(durationOption("--locked-warning <duration>", "warn when the datastore stays locked longer", d.lockedWarningMs))
    .addOption(durationOption("--refusal-grace <duration>", "how long a copy refused as forbidden inside the locked window is retried before the window is ended", d.refusalGraceMs))
    .addOption(durationOption("--settle-quiet <duration>", "before the verification, how long every kube-apiserver must have served projectcalico.org/v3 from the CRDs (an HA replica may still proxy to the Calico API server for a moment)", d.settleQuietMs))
    .addOption(durationOption("--restore-quiet <duration>", "on an abort, how long the Calico API server must alone have answered projectcalico.org/v3 before owner references go back", d.restoreQuietMs))
    .option("--components-namespace <name>", "where calico-node, calico-typha and calico-kube-controllers run (default: calico-system if calico-node is there, else kube-system)")
    .addOption(new Option("--metrics-bind-address <addr>", "/metrics (0 disables)").default(d.metricsBindAddress))
    .addOption(new Option("--health-probe-bind-address <addr>", "/healthz and /readyz (0 disables)").default(d.healthProbeBindAddress))
    .option("--no-validate", "skip the server-side dry-run validation in Pending")
    .option("--no-precopy", "copy everything inside the locked window instead of before the lock through a temporary version of the v3 CRDs (the pre-copy needs update on the v3 CRDs, and falls back to this by itself without it)")
    .addHelpText("after", examples(
      "calico-migrate controller --kubeconfig ~/.kube/config",
      "calico-migrate controller --leader-elect --metrics-bind-address=:9873 --health-probe-bind-address=:9874",
    ))
    .action(async (raw: RawControllerFlags, cmd: Command) => {
      const g = globalsOf(cmd);
      const inClusterNamespace = fs.existsSync(SA_NAMESPACE_FILE) ? fs.readFileSync(SA_NAMESPACE_FILE, "utf8").trim() : undefined;
      await runController({ config: controllerConfig(raw, inClusterNamespace), kubeconfig: g.kubeconfig, context: g.context });
    });
}

/** True when the namespace exists or could be created. */
async function ensureNamespace(client: KubeClient, name: string, log: Logger): Promise<boolean> {
  try {
    await client.get(NAMESPACES, name);
    return true;
  } catch (err) {
    if (!isNotFound(err) && !isForbidden(err)) throw err;
  }
  try {
    await client.create(NAMESPACES, { apiVersion: "v1", kind: "Namespace", metadata: { name } });
    return true;
  } catch (err) {
    if (isAlreadyExists(err)) return true;
    log.warn({ namespace: name, err: (err as Error).message }, "the controller's namespace does not exist and cannot be created: running without leader election and without a persisted report");
    return false;
  }
}

/** Runs the controller until the signal (or SIGINT/SIGTERM) stops it, or leadership is lost. */
export async function runController(input: ControllerCommandOptions): Promise<void> {
  const { config } = input;
  const log = pino({ base: { component: "calico-datastore-migration" } }) as unknown as Logger;
  const client = new KubeClient(await loadClientConfig({ kubeconfig: input.kubeconfig, context: input.context }, {
    userAgent: "calico-datastore-migration/controller", maxSockets: Math.max(32, config.copyConcurrency * 6),
  }));
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: "calico_migration_api_requests_total", help: "HTTP requests this controller has sent to the API server.", registers: [registry],
    collect() { this.set(client.requestCount); },
  });

  const stop = new AbortController();
  const onSignal = () => stop.abort();
  if (input.signal) input.signal.addEventListener("abort", onSignal, { once: true });
  else {
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
  }
  const haveNamespace = await ensureNamespace(client, config.namespace, log);
  const manager = new Manager({ client, config, clock: systemClock, log, registry, reportNamespace: haveNamespace ? config.namespace : undefined });
  const health = await startHttpServer({ bindAddress: config.healthProbeBindAddress, ready: () => manager.isReady(), logger: log });
  const metrics = await startHttpServer({ bindAddress: config.metricsBindAddress, registry, logger: log });
  log.info({ drainPeriodMs: config.drainPeriodMs, pollIntervalMs: config.pollIntervalMs, leaderElect: config.leaderElect && haveNamespace, namespace: config.namespace, healthPort: health?.port, metricsPort: metrics?.port }, "controller starting");
  let lostLeadership = false;
  try {
    if (config.leaderElect && haveNamespace) {
      const elector = new LeaderElector({ client, namespace: config.namespace, name: "calico-datastore-migration", identity: `${os.hostname()}_${process.pid}`, logger: log });
      await elector.run({
        onStartedLeading: (signal) => manager.run(signal),
        onStoppedLeading: () => {
          if (!stop.signal.aborted) lostLeadership = true;
          stop.abort();
        },
      }, stop.signal);
    } else {
      await manager.run(stop.signal);
    }
  } finally {
    await health?.close();
    await metrics?.close();
    client.close();
    log.info({ lostLeadership }, "controller stopped");
  }
  if (lostLeadership) throw new Error("leader election lost: exiting so a new leader can take over");
}
