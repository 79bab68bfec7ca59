/**
 * Loads the real Calico manifests kept as test fixtures in ../shared/calico (never copied here).
 */
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import type { KubeObject } from "../../src/kube/object.js";
import { repoRoot } from "./binaries.js";

/** The files this project expects in the shared Calico folder. */
export const SHARED_FILES = {
  v1Crds: "v1_crd_projectcalico_org.yaml",
  v3Bundle: "v3_projectcalico_org.yaml",
  migrationCrd: "migration.projectcalico.org_datastoremigrations.yaml",
  apiserver: "apiserver.yaml",
  admissionDir: "admission",
} as const;

/** The shared Calico folder: $CALICO_SHARED_DIR, else ../shared/calico beside the repository. */
export function sharedCalicoDir(): string {
  return path.resolve(process.env.CALICO_SHARED_DIR ?? path.join(repoRoot, "../shared/calico"));
}

/** Every YAML document of a file under the shared Calico folder; a missing file names what is expected. */
export function loadShared(relative: string): KubeObject[] {
  const dir = sharedCalicoDir();
  const file = path.join(dir, relative);
  if (!fs.existsSync(file)) {
    throw new Error(
      `Calico fixture ${file} is missing. The tests load the real Calico manifests from ${dir} ` +
        `(expected: ${Object.values(SHARED_FILES).join(", ")}); set CALICO_SHARED_DIR to the folder that holds them.`,
    );
  }
  if (fs.statSync(file).isDirectory()) {
    return fs.readdirSync(file).filter((f) => f.endsWith(".yaml")).sort().flatMap((f) => loadShared(path.join(relative, f)));
  }
  return YAML.parseAllDocuments(fs.readFileSync(file, "utf8"))
    .map((d) => d.toJS() as KubeObject | null)
    .filter((d): d is KubeObject => d !== null && typeof d === "object");
}
