/**
 * Runs the DatastoreMigration controller for tests: our manifests (CRD, RBAC) applied to the
 * cluster, and a Manager in this process with the ServiceAccount's kubeconfig, so it has exactly
 * the RBAC the manifests grant.
 */
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { Registry } from "prom-client";
import { Names } from "../../src/api/datastore-migration.js";
import { DEFAULT_CONFIG, type ControllerConfig } from "../../src/controller/config.js";
import { Manager } from "../../src/controller/manager.js";
import { KubeClient } from "../../src/kube/client.js";
import { systemClock } from "../../src/kube/clock.js";
import { Discovery } from "../../src/kube/discovery.js";
import { isNotFound } from "../../src/kube/errors.js";
import { loadClientConfig } from "../../src/kube/kubeconfig.js";
import type { Logger } from "../../src/kube/logger.js";
import type { KubeObject } from "../../src/kube/object.js";
import { applyAll, waitEstablished } from "./apply.js";
import { repoRoot } from "./binaries.js";
import type { TestCluster } from "./shared-cluster.js";

export const CONTROLLER_NAMESPACE = "calico-datastore-migration";
export const CONTROLLER_SA = "calico-datastore-migration";

/** Every YAML document of the files under manifests/<dir>. */
export function loadManifests(dir: string): KubeObject[] {
  const base = path.join(repoRoot, "manifests", dir);
  return fs.readdirSync(base).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml").sort().flatMap((f) =>
    YAML.parseAllDocuments(fs.readFileSync(path.join(base, f), "utf8")).map((d) => d.toJS() as KubeObject).filter(Boolean),
  );
}

/**
 * A migration the controller can run on the core role alone: the CR opts out of the foreign
 * owner-reference scan, which needs list on every resource (manifests/optional).
 */
export const CORE_ROLE_OPT_OUT: Readonly<Record<string, string>> = { [Names.remapForeignOwnerReferences]: "false" };

/**
 * Applies the CRD, namespace and the core RBAC. The wide optional foreign-owner role (`*` / `*`)
 * is bound only when asked for, and removed otherwise (the control plane is shared between
 * suites): bound, it would grant every get/list/patch the core role forgot.
 */
export async function installControllerManifests(admin: KubeClient, options: { foreignOwnerRole?: boolean } = {}): Promise<void> {
  const discovery = new Discovery(admin);
  await applyAll(admin, discovery, loadManifests("crd"));
  await waitEstablished(admin, ["datastoremigrations.migration.projectcalico.org"]);
  discovery.reset();
  await applyAll(admin, discovery, [...loadManifests("manager").filter((o) => o.kind === "Namespace"), ...loadManifests("rbac")]);
  const optional = loadManifests("optional");
  if (options.foreignOwnerRole ?? false) {
    await applyAll(admin, discovery, optional);
    return;
  }
  for (const obj of optional) {
    try {
      await admin.delete(await discovery.resourceFor(obj.apiVersion ?? "", obj.kind ?? ""), obj.metadata.name ?? "");
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

/** A logger that keeps lines in memory (and prints them when CONTROLLER_LOG is set). */
export function memoryLogger(lines: string[] = []): Logger & { lines: string[] } {
  const write = (level: string) => (fields: Record<string, unknown>, message: string) => {
    const line = `${new Date().toISOString()} ${level} ${message} ${JSON.stringify(fields)}`;
    lines.push(line);
    if (process.env.CONTROLLER_LOG) console.error(line);
  };
  return { lines, debug: () => undefined, info: write("info"), warn: write("warn"), error: write("error") };
}

/** A controller running in this process. */
export interface RunningController {
  manager: Manager;
  client: KubeClient;
  log: Logger & { lines: string[] };
  stop(): Promise<void>;
}

/** Starts the manager with the controller ServiceAccount's credentials. */
export async function startController(cluster: TestCluster, config: Partial<ControllerConfig> = {}): Promise<RunningController> {
  const kubeconfig = await cluster.serviceAccountKubeconfig(CONTROLLER_NAMESPACE, CONTROLLER_SA);
  const client = new KubeClient(await loadClientConfig({ kubeconfig }));
  const log = memoryLogger();
  const manager = new Manager({
    client,
    config: { ...DEFAULT_CONFIG, drainPeriodMs: 500, pollIntervalMs: 1000, fullPlanIntervalMs: 5_000, settleQuietMs: 500, restoreQuietMs: 2_000, ...config },
    clock: systemClock,
    log,
    registry: new Registry(),
    reportNamespace: CONTROLLER_NAMESPACE,
  });
  const abort = new AbortController();
  const running = manager.run(abort.signal).catch((err: unknown) => log.error({ err: String(err) }, "manager crashed"));
  return {
    manager,
    client,
    log,
    stop: async () => {
      abort.abort();
      await running;
      client.close();
    },
  };
}
