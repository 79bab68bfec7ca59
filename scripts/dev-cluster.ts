/**
 * npm run dev-cluster -- up [--dir DIR] [--empty] [--operator] [--apiservers N] [--lag-ms MS] [--calico-apiserver live|unavailable]
 *   start a local control plane in API-server mode, the live Calico API server (stand-in) behind
 *   the aggregated APIService; --apiservers 3: an HA control plane behind a round-robin front
 *   proxy, whose last replica keeps proxying projectcalico.org/v3 for --lag-ms after the APIService goes
 * npm run dev-cluster -- down [--dir DIR]           stop it
 */
import path from "node:path";
import { parseArgs } from "node:util";
import { ControlPlane, stopControlPlaneInDir } from "../test/harness/control-plane.js";
import { installApiServerMode } from "../test/harness/api-server-mode.js";
import { repoRoot } from "../test/harness/binaries.js";

const usage = "usage: npm run dev-cluster -- up|down [--dir DIR] [--empty] [--operator] [--apiservers N] [--lag-ms MS] [--calico-apiserver live|unavailable]";
const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    dir: { type: "string" }, empty: { type: "boolean" }, operator: { type: "boolean" }, help: { type: "boolean", short: "h" },
    apiservers: { type: "string", default: "1" }, "lag-ms": { type: "string", default: "0" }, "calico-apiserver": { type: "string", default: "live" },
  },
});
const mode = values["calico-apiserver"];
if (mode !== "live" && mode !== "unavailable") {
  console.error(`dev-cluster: --calico-apiserver must be live or unavailable, not "${mode}"\n${usage}`);
  process.exit(2);
}
const apiservers = Number(values.apiservers);
if (!Number.isInteger(apiservers) || apiservers < 1 || apiservers > 5) {
  console.error(`dev-cluster: --apiservers must be a whole number from 1 to 5, not "${values.apiservers}"\n${usage}`);
  process.exit(2);
}
const dir = path.resolve(values.dir ?? path.join(repoRoot, ".dev-cluster"));
const log = (l: string) => console.error(`dev-cluster: ${l}`);

const command: string = positionals[0] ?? "";
switch (command) {
  case "up": {
    await stopControlPlaneInDir(dir, log);
    const cp = await ControlPlane.start({ dir, detached: true, log, apiservers });
    try {
      if (Number(values["lag-ms"]) > 0) await cp.setLag(Number(values["lag-ms"]));
      if (!values.empty) {
        log(`installing Calico API-server mode fixtures (Calico API server ${mode})`);
        await installApiServerMode(cp.admin, { operatorManaged: values.operator ?? false, calicoApiServer: mode });
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
