/**
 * npm run dev-cluster -- up [--dir DIR] [--empty]   start a local control plane in API-server mode
 * npm run dev-cluster -- down [--dir DIR]           stop it
 */
import path from "node:path";
import { parseArgs } from "node:util";
import { ControlPlane, stopControlPlaneInDir } from "../test/harness/control-plane.js";
import { installApiServerMode } from "../test/harness/api-server-mode.js";
import { repoRoot } from "../test/harness/binaries.js";

const usage = "usage: npm run dev-cluster -- up|down [--dir DIR] [--empty] [--operator]";
const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { dir: { type: "string" }, empty: { type: "boolean" }, operator: { type: "boolean" }, help: { type: "boolean", short: "h" } },
});
const dir = path.resolve(values.dir ?? path.join(repoRoot, ".dev-cluster"));
const log = (l: string) => console.error(`dev-cluster: ${l}`);

const command: string = positionals[0] ?? "";
switch (command) {
  case "up": {
    await stopControlPlaneInDir(dir, log);
    const cp = await ControlPlane.start({ dir, detached: true, log });
    try {
      if (!values.empty) {
        log("installing Calico API-server mode fixtures");
        await installApiServerMode(cp.admin, { operatorManaged: values.operator ?? false });
      }
    } catch (err) {
      await cp.stop();
      throw err;
    }
    cp.release();
    console.log(`KUBECONFIG=${cp.kubeconfigPath}`);
    break;
  }
  case "down": {
    const stopped = await stopControlPlaneInDir(dir, log);
    log(stopped ? `stopped the control plane in ${dir}` : `no control plane running in ${dir}`);
    break;
  }
  default:
    console.error(values.help ? usage : `dev-cluster: expected 'up' or 'down'\n${usage}`);
    process.exit(values.help ? 0 : 2);
}
