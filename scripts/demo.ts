/**
 * npm run demo [-- --keep]
 *
 * The whole migration on a local control plane: a realistic Calico cluster in API-server mode,
 * `calico-migrate plan`, the controller (as its own ServiceAccount, with the Deployment's flags),
 * `calico-migrate start --watch --until Converged`, `switch-components` (rollouts simulated: no
 * kubelet runs here), Complete, `finalize`, and a summary. Cleans up unless --keep.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { migrationResource, type DatastoreMigration } from "../src/api/datastore-migration.js";
import { ControlPlane } from "../test/harness/control-plane.js";
import { COMPONENTS_NAMESPACE, installApiServerMode } from "../test/harness/api-server-mode.js";
import { repoRoot } from "../test/harness/binaries.js";
import { CONTROLLER_NAMESPACE, CONTROLLER_SA, installControllerManifests, loadManifests } from "../test/harness/controller.js";
import { simulateRollouts } from "../test/harness/rollout-simulator.js";
import { seedSampleCluster } from "../test/harness/sample-cluster.js";

const { values } = parseArgs({ options: { keep: { type: "boolean" }, dir: { type: "string" } } });
const started = Date.now();
const say = (line: string) => console.log(`\n\x1b[1m==> ${line}\x1b[0m`);
const cli = [path.join(repoRoot, "node_modules/tsx/dist/cli.mjs"), path.join(repoRoot, "src/cli/main.ts")];

/** Runs `calico-migrate <args>` with the admin kubeconfig, streaming its output; resolves to the exit code. */
function calicoMigrate(kubeconfig: string, args: string[]): Promise<number> {
  console.log(`$ calico-migrate ${args.join(" ")}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...cli, ...args], { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, KUBECONFIG: kubeconfig, NO_COLOR: "1" } });
    child.on("error", reject);
    child.on("exit", (code) => resolve(code ?? 1));
  });
}

async function expectOk(kubeconfig: string, args: string[]): Promise<void> {
  const code = await calicoMigrate(kubeconfig, args);
  if (code !== 0) throw new Error(`calico-migrate ${args[0]} exited with ${code}`);
}

/** The controller's flags from the Deployment manifest, with local ports. */
function deploymentArgs(): string[] {
  const deployment = loadManifests("manager").find((o) => o.kind === "Deployment");
  const container = (deployment?.spec as { template: { spec: { containers: { args: string[] }[] } } }).template.spec.containers[0];
  return (container?.args ?? []).map((a) => a.replace(/=:\d+$/, "=127.0.0.1:0"));
}

const dir = values.dir ? path.resolve(values.dir) : fs.mkdtempSync(path.join(os.tmpdir(), "calico-demo-"));
let controller: ChildProcess | undefined;
const rollouts = new AbortController();
say("Starting a local control plane (etcd, kube-apiserver, kube-controller-manager with the garbage collector, the Calico API server)");
const cp = await ControlPlane.start({ dir, detached: values.keep ?? false, log: (l) => console.log(`    ${l}`) });
let ok = false;
try {
  say("Installing Calico in API-server mode and a sample cluster");
  await installApiServerMode(cp.admin);
  const objects = await seedSampleCluster(cp.admin, { throughApi: true });
  // The optional foreign-owner role: the sample cluster has a ConfigMap owned by a Calico Tier, which the demo's migration protects (README install, optional role included).
  await installControllerManifests(cp.admin, { foreignOwnerRole: true });
  console.log(`    ${objects} Calico objects, created through the live Calico API server (projectcalico.org/v3, aggregated) and stored in crd.projectcalico.org/v1`);
  const kubeconfig = cp.kubeconfigPath;

  say("What will happen (nothing is locked yet)");
  await expectOk(kubeconfig, ["plan"]);

  say("Starting the controller as its ServiceAccount, with the Deployment's flags");
  const saKubeconfig = await cp.serviceAccountKubeconfig(CONTROLLER_NAMESPACE, CONTROLLER_SA);
  const args = [...deploymentArgs(), "--kubeconfig", saKubeconfig, "--drain-period", "3s", "--poll-interval", "2s"];
  console.log(`$ calico-migrate ${args.join(" ")}`);
  const log = fs.openSync(path.join(dir, "controller.log"), "a");
  controller = spawn(process.execPath, [...cli, ...args], { stdio: ["ignore", log, log] });

  say("Migrating");
  await expectOk(kubeconfig, ["start", "--watch", "--until", "Converged", "--timeout", "5m"]);

  say("Switching the components to projectcalico.org/v3 (rollouts simulated)");
  void simulateRollouts(cp.admin, COMPONENTS_NAMESPACE, rollouts.signal);
  await expectOk(kubeconfig, ["switch-components", "--timeout", "2m"]);
  await expectOk(kubeconfig, ["watch", "--timeout", "2m"]);

  const dm = (await cp.admin.get(migrationResource("v1"), "v1-to-v3")) as unknown as DatastoreMigration;
  say("Removing the v1 CRDs");
  await expectOk(kubeconfig, ["finalize", "--yes", "--timeout", "5m"]);
  await expectOk(kubeconfig, ["report"]).catch(() => undefined);

  const lockedAt = Date.parse(dm.status?.datastoreLockedAt ?? "");
  say("Summary");
  console.log(`    Calico objects migrated:  ${dm.status?.progress?.total ?? "?"} (${dm.status?.progress?.migrated ?? 0} created, ${dm.status?.progress?.skipped ?? 0} already there)`);
  console.log(`    datastore locked at:      ${dm.status?.datastoreLockedAt}; migration started ${dm.status?.startedAt}; complete ${dm.status?.completedAt}`);
  if (!Number.isNaN(lockedAt)) console.log(`    lock to Complete:         ${((Date.parse(dm.status?.completedAt ?? "") - lockedAt) / 1000).toFixed(1)} s`);
  console.log(`    demo took:                ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`    controller log:           ${path.join(dir, "controller.log")}`);
  console.log("    next: README.md (installing in a real cluster), docs/cli.md, docs/architecture.md");
  ok = true;
} finally {
  rollouts.abort();
  controller?.kill("SIGTERM");
  if (values.keep) {
    cp.release();
    console.log(`\nThe cluster is still running. KUBECONFIG=${cp.kubeconfigPath}\nStop it with: npm run dev-cluster -- down --dir ${dir}`);
  } else {
    await cp.stop();
    if (!values.dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}
process.exit(ok ? 0 : 1);
