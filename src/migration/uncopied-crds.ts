/**
 * v1 CRDs the migration does not copy: CRDs in crd.projectcalico.org whose kind is not in the
 * kind table (legacy kinds, or kinds another product added to the group). Finalize deletes every
 * CRD of the group — these too, and their objects with them — so `plan` and `finalize` name them
 * with their object counts before anything is deleted. Shared by both commands.
 */
import { CALICO_KINDS, CLUSTER_INFORMATION_V1, V1_GROUP } from "../calico/kinds.js";
import type { KubeClient } from "../kube/client.js";
import { describeError } from "../kube/errors.js";
import type { KubeObject } from "../kube/object.js";
import type { ResourceRef } from "../kube/resource.js";
import type { Finding } from "./findings.js";
import { CRDS } from "./prerequisites.js";

/** One CRD of the v1 group that the migration leaves behind (and finalize deletes). */
export interface UncopiedCrd {
  /** The CRD's name, e.g. `licensekeys.crd.projectcalico.org`. */
  name: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  /** Objects it holds, or null when they could not be counted (see `reason`). */
  objects: number | null;
  reason?: string;
}

/** The v1 plurals the migration handles: every copied kind, and ClusterInformation (the lock, re-created in v3). */
const HANDLED = new Set([...CALICO_KINDS.map((k) => k.v1Plural), CLUSTER_INFORMATION_V1.plural]);

interface CrdSpec {
  group?: string;
  scope?: string;
  names?: { plural?: string; kind?: string };
  versions?: { name: string; served?: boolean; storage?: boolean }[];
}

/** The resource a CRD serves (its storage version if served, else the first served one), or undefined when it serves none. */
function servedResource(crd: KubeObject): ResourceRef | undefined {
  const spec = crd.spec as CrdSpec;
  const served = (spec.versions ?? []).filter((v) => v.served !== false);
  const version = (served.find((v) => v.storage) ?? served[0])?.name;
  if (!version || !spec.names?.plural) return undefined;
  return { group: V1_GROUP, version, plural: spec.names.plural, namespaced: spec.scope === "Namespaced", kind: spec.names.kind ?? spec.names.plural };
}

/** Counts with one `limit=1` list (items plus remainingItemCount). */
async function count(client: KubeClient, ref: ResourceRef): Promise<Pick<UncopiedCrd, "objects" | "reason">> {
  try {
    const page = await client.list(ref, { limit: 1 });
    return { objects: page.items.length + (page.metadata.remainingItemCount ?? 0) };
  } catch (err) {
    return { objects: null, reason: `cannot be listed: ${describeError(err)}` };
  }
}

/** Every CRD of crd.projectcalico.org the migration does not copy, by name, with its object count. */
export async function uncopiedV1Crds(client: KubeClient): Promise<UncopiedCrd[]> {
  const out: UncopiedCrd[] = [];
  for await (const crd of client.listItems(CRDS)) {
    const spec = crd.spec as CrdSpec;
    if (spec.group !== V1_GROUP || HANDLED.has(spec.names?.plural ?? "")) continue;
    const ref = servedResource(crd);
    const base = { name: crd.metadata.name ?? "", kind: spec.names?.kind ?? "", plural: spec.names?.plural ?? "", namespaced: spec.scope === "Namespaced" };
    out.push({ ...base, ...(ref ? await count(client, ref) : { objects: null, reason: "serves no version" }) });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** The CRDs whose objects finalize would delete without a copy: those holding objects, or whose objects could not be counted. */
export function holdingObjects(crds: readonly UncopiedCrd[]): UncopiedCrd[] {
  return crds.filter((c) => c.objects === null || c.objects > 0);
}

/** `name (3 objects)` for each CRD. */
export function describeUncopied(crds: readonly UncopiedCrd[]): string {
  return crds.map((c) => `${c.name} (${c.objects === null ? `objects not counted: ${c.reason ?? "unknown"}` : `${c.objects} object${c.objects === 1 ? "" : "s"}`})`).join(", ");
}

/** The backup command for one CRD's objects. */
export function backupCommand(c: UncopiedCrd): string {
  return `kubectl get ${c.name}${c.namespaced ? " --all-namespaces" : ""} -o yaml > ${c.plural}.crd.projectcalico.org.yaml`;
}

/** The plan's warning when uncopied CRDs hold objects; undefined when none does. */
export function uncopiedCrdsFinding(crds: readonly UncopiedCrd[]): Finding | undefined {
  const holding = holdingObjects(crds);
  if (!holding.length) return undefined;
  return {
    severity: "warning",
    code: "UncopiedV1Crds",
    message: `${holding.length} crd.projectcalico.org CRD(s) hold objects the migration does not copy: ${describeUncopied(holding)}. Finalize deletes every crd.projectcalico.org CRD, these included, and their objects with them`,
    fix: `back them up before finalize (${holding.map(backupCommand).join("; ")}); finalize then asks for --delete-uncopied-crds`,
  };
}
