/**
 * `calico-migrate controller`: runs the DatastoreMigration controller — in-cluster or with
 * --kubeconfig/--context — with health, readiness and metrics endpoints, JSON logs, and optional
 * Lease leader election (exit on loss, as controller-runtime does).
 */
import fs from "node:fs";
import os from "node:os";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { Gauge, Registry, collectDefaultMetrics } from "prom-client";
import { DEFAULT_CONFIG, type ControllerConfig } from "../../controller/config.js";
import { Manager } from "../../controller/manager.js";
import { KubeClient } from "../../kube/client.js";
import { systemClock } from "../../kube/clock.js";
import { parseDuration } from "../../kube/duration.js";
import { isAlreadyExists, isForbidden, isNotFound } from "../../kube/errors.js";
import { startHttpServer } from "../../kube/http-server.js";
import { loadClientConfig } from "../../kube/kubeconfig.js";
import { LeaderElector } from "../../kube/leader-election.js";
import type { Logger } from "../../kube/logger.js";
import { UsageError } from "../errors.js";
import type { CliIo } from "../io.js";

/** What the `controller` command receives: its own arguments (flags passed through) and the global kubeconfig flags. */
export interface ControllerCommandInput {
  args: string[];
  kubeconfig?: string;
  context?: string;
  /** Stops the controller (tests); default SIGINT/SIGTERM. */
  signal?: AbortSignal;
}

const SA_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
const NAMESPACES = { group: "", version: "v1", plural: "namespaces", namespaced: false, kind: "Namespace" } as const;

export const CONTROLLER_HELP = `Run the DatastoreMigration controller.

Usage: calico-migrate controller [flags]

Flags:
  --kubeconfig PATH                 kubeconfig (default: in-cluster, then $KUBECONFIG)
  --context NAME                    kubeconfig context
  --drain-period DURATION           wait after locking v1 before unregistering the APIService (default 10s)
  --poll-interval DURATION          how often blocked or waiting states are re-checked (default 10s)
  --copy-concurrency N              writes in flight during the copy (default ${DEFAULT_CONFIG.copyConcurrency})
  --leader-elect                    hold a Lease so only one replica acts (default off)
  --namespace NAME                  the controller's namespace for its Lease and report
                                    (default: the pod's namespace in-cluster, else calico-datastore-migration)
  --locked-warning DURATION         warn when the datastore stays locked longer (default 5m)
  --components-namespace NAME       where calico-node, calico-typha, calico-kube-controllers run
                                    (default: calico-system if calico-node is there, else kube-system)
  --metrics-bind-address ADDR       /metrics (default :8080; 0 disables)
  --health-probe-bind-address ADDR  /healthz and /readyz (default :8081; 0 disables)
  --no-validate                     skip the server-side dry-run validation in Pending

Examples:
  calico-migrate controller --kubeconfig ~/.kube/config
  calico-migrate controller --leader-elect --metrics-bind-address=:9873 --health-probe-bind-address=:9874
`;

/** Parses the flags into a configuration (usage errors name the flag and what was expected). */
export function parseControllerFlags(args: string[], inClusterNamespace?: string): { config: ControllerConfig; kubeconfig?: string; context?: string; help: boolean } {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        kubeconfig: { type: "string" }, context: { type: "string" },
        "drain-period": { type: "string" }, "poll-interval": { type: "string" },
        "copy-concurrency": { type: "string" }, "leader-elect": { type: "boolean" }, namespace: { type: "string" },
        "locked-warning": { type: "string" }, "components-namespace": { type: "string" },
        "metrics-bind-address": { type: "string" }, "health-probe-bind-address": { type: "string" },
        "no-validate": { type: "boolean" }, help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    throw new UsageError(`controller: ${(err as Error).message} (see calico-migrate controller --help)`);
  }
  const v = parsed.values;
  const duration = (flag: string, value: string | undefined, fallback: number) => {
    if (value === undefined) return fallback;
    try {
      return parseDuration(value);
    } catch (err) {
      throw new UsageError(`--${flag}: ${(err as Error).message}`);
    }
  };
  const int = (flag: string, value: string | undefined, fallback: number) => {
    if (value === undefined) return fallback;
    if (!/^[1-9]\d*$/.test(value)) throw new UsageError(`--${flag}: expected a positive whole number, got "${value}"`);
    return Number(value);
  };
  return {
    help: v.help ?? false,
    kubeconfig: v.kubeconfig,
    context: v.context,
    config: {
      ...DEFAULT_CONFIG,
      drainPeriodMs: duration("drain-period", v["drain-period"], DEFAULT_CONFIG.drainPeriodMs),
      pollIntervalMs: duration("poll-interval", v["poll-interval"], DEFAULT_CONFIG.pollIntervalMs),
      lockedWarningMs: duration("locked-warning", v["locked-warning"], DEFAULT_CONFIG.lockedWarningMs),
      copyConcurrency: int("copy-concurrency", v["copy-concurrency"], DEFAULT_CONFIG.copyConcurrency),
      leaderElect: v["leader-elect"] ?? false,
      namespace: v.namespace ?? inClusterNamespace ?? DEFAULT_CONFIG.namespace,
      componentsNamespace: v["components-namespace"],
      metricsBindAddress: v["metrics-bind-address"] ?? DEFAULT_CONFIG.metricsBindAddress,
      healthProbeBindAddress: v["health-probe-bind-address"] ?? DEFAULT_CONFIG.healthProbeBindAddress,
      validate: !(v["no-validate"] ?? false),
    },
  };
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
export async function runControllerCommand(input: ControllerCommandInput, io: CliIo): Promise<void> {
  const inClusterNamespace = fs.existsSync(SA_NAMESPACE_FILE) ? fs.readFileSync(SA_NAMESPACE_FILE, "utf8").trim() : undefined;
  const flags = parseControllerFlags(input.args, inClusterNamespace);
  if (flags.help) {
    io.stdout.write(CONTROLLER_HELP);
    return;
  }
  const { config } = flags;
  const log = pino({ base: { component: "calico-datastore-migration" } }) as unknown as Logger;
  const client = new KubeClient(await loadClientConfig({ kubeconfig: flags.kubeconfig ?? input.kubeconfig, context: flags.context ?? input.context }, {
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
