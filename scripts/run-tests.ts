/**
 * The test command: unit tests, then integration tests against one shared real control plane in
 * API-server mode (started here, stopped at the end). `--unit` runs only the unit tests; file
 * arguments narrow the run.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { ControlPlane } from "../test/harness/control-plane.js";
import { installApiServerMode } from "../test/harness/api-server-mode.js";
import { repoRoot } from "../test/harness/binaries.js";

function findTests(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return findTests(p);
    return e.name.endsWith(".test.ts") ? [p] : [];
  });
}

const args = process.argv.slice(2);
const unitOnly = args.includes("--unit");
// Long or still-unsettled suites are named *.extended.test.ts and run only with --extended
// (npm run test:extended) or when named explicitly.
const extended = args.includes("--extended");
const picked = args.filter((a) => !a.startsWith("--")).map((a) => path.resolve(a));
const all = [...findTests(path.join(repoRoot, "src")), ...findTests(path.join(repoRoot, "test"))].sort();
const isIntegration = (f: string) => !f.startsWith(path.join(repoRoot, "src")) && !f.includes(`${path.sep}unit${path.sep}`);
let files = picked.length ? all.filter((f) => picked.some((p) => f.startsWith(p))) : all.filter((f) => extended || !f.endsWith(".extended.test.ts"));
if (unitOnly) files = files.filter((f) => !isIntegration(f));
if (files.length === 0) {
  console.error("run-tests: no test files matched");
  process.exit(1);
}

let cp: ControlPlane | undefined;
const keepLogs = process.env.CALICO_TEST_KEEP_LOGS === "1";
const env: NodeJS.ProcessEnv = { ...process.env };
if (files.some(isIntegration)) {
  console.log("run-tests: starting the shared control plane (API-server mode) ...");
  // CALICO_TEST_KEEP_LOGS=1: the garbage collector logs each decision and the logs stay after the run.
  cp = await ControlPlane.start({ log: (l) => console.log(`run-tests: ${l}`), controllerManagerVerbosity: keepLogs ? 5 : undefined });
  await installApiServerMode(cp.admin);
  env.CALICO_TEST_KUBECONFIG = cp.kubeconfigPath;
  env.CALICO_TEST_CLUSTER_DIR = cp.dir;
}
const stop = async () => {
  if (cp) await cp.stop(keepLogs);
  if (cp && keepLogs) console.log(`run-tests: the control plane's logs are kept in ${cp.dir}/logs`);
};
process.on("SIGINT", () => void stop().then(() => process.exit(130)));
process.on("SIGTERM", () => void stop().then(() => process.exit(143)));

const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=1", ...files],
  { stdio: "inherit", env, cwd: repoRoot },
);
await stop();
process.exit(result.status ?? 1);
