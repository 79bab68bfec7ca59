/**
 * Locates (and when missing, builds) the control-plane binaries through scripts/build-controlplane.sh.
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Paths of the three binaries. */
export interface ControlPlaneBinaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
}

/** The repository root. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/**
 * Runs the build script (a no-op taking well under a second when the cache is warm) and returns
 * the binaries for the requested Kubernetes version (default: the committed wrapper's).
 */
export function controlPlaneBinaries(kubeVersion?: string): ControlPlaneBinaries {
  const script = path.join(repoRoot, "scripts/build-controlplane.sh");
  const args = [script, ...(kubeVersion ? ["--kube-version", kubeVersion] : [])];
  // Build with progress on stderr first; then ask for the directories.
  execFileSync("bash", args, { stdio: ["ignore", "inherit", "inherit"] });
  const out = execFileSync("bash", [...args, "--print-dir"], { encoding: "utf8" }).trim().split("\n");
  const [kubeDir, etcdDir] = out;
  if (!kubeDir || !etcdDir) throw new Error(`build-controlplane.sh --print-dir printed ${JSON.stringify(out)}`);
  return {
    etcd: path.join(etcdDir, "etcd"),
    kubeApiserver: path.join(kubeDir, "kube-apiserver"),
    kubeControllerManager: path.join(kubeDir, "kube-controller-manager"),
  };
}
