/**
 * Object-by-object comparison of v1 storage with v3 after a migration, using the project's own
 * conversion: every converted v1 object must have exactly one v3 object with an equal spec (after
 * schema normalisation), the same labels and annotations (besides the tier label Calico's
 * admission policy adds and our own annotations), and Calico owner references pointing at the
 * v3 uid of the owner's copy; no v3 object may lack a v1 source. ClusterInformation is the lock,
 * not a migrated kind, and is not compared.
 */
import { CALICO_KINDS, isCalicoApiVersion, v1Resource, v3Resource } from "../../src/calico/kinds.js";
import { convertV1ToV3, type ConvertedObject } from "../../src/convert/convert.js";
import { specDiff } from "../../src/convert/normalize.js";
import type { KubeClient } from "../../src/kube/client.js";
import type { KubeObject } from "../../src/kube/object.js";
import { objectKey } from "../../src/kube/resource.js";
import { loadSchemas } from "../../src/migration/planner.js";

/** Differences found, each as `Kind/ns/name: why`. */
export interface DatastoreComparison {
  v1Total: number;
  v3Total: number;
  /** v1 objects with an equal v3 object. */
  matched: number;
  /** v1 objects without a v3 object. */
  missing: string[];
  /** v1 objects whose v3 object differs (spec, labels, annotations or owner references). */
  different: string[];
  /** v3 objects without a v1 source. */
  extras: string[];
  /** v3 keys claimed by more than one v1 object. */
  duplicated: string[];
}

const TIER_LABEL = "projectcalico.org/tier";

function withoutKeys(map: Record<string, string> | undefined, drop: (key: string) => boolean): Record<string, string> {
  return Object.fromEntries(Object.entries(map ?? {}).filter(([k]) => !drop(k)).sort(([a], [b]) => a.localeCompare(b)));
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Lists both sides of every kind and compares them. */
export async function compareDatastores(client: KubeClient): Promise<DatastoreComparison> {
  const schemas = await loadSchemas(client);
  const out: DatastoreComparison = { v1Total: 0, v3Total: 0, matched: 0, missing: [], different: [], extras: [], duplicated: [] };
  const converted: { c: ConvertedObject; v3?: KubeObject; id: string }[] = [];
  /** v3-view uid of a v1 object → uid of its v3 copy. */
  const uidMap = new Map<string, string>();
  for (const kind of CALICO_KINDS) {
    const v3 = new Map<string, KubeObject>();
    for await (const obj of client.listItems(v3Resource(kind))) v3.set(objectKey(obj.metadata.namespace, obj.metadata.name ?? ""), obj);
    out.v3Total += v3.size;
    const claimed = new Set<string>();
    for await (const cr of client.listItems(v1Resource(kind))) {
      out.v1Total++;
      const c = convertV1ToV3(kind, cr);
      const key = objectKey(c.v3.metadata.namespace, c.v3.metadata.name ?? "");
      const id = `${kind.kind}/${key}`;
      if (claimed.has(key)) out.duplicated.push(id);
      claimed.add(key);
      const copy = v3.get(key);
      if (!copy) out.missing.push(id);
      else uidMap.set(c.v3.metadata.uid ?? "", copy.metadata.uid ?? "");
      converted.push({ c, v3: copy, id });
    }
    for (const key of v3.keys()) if (!claimed.has(key)) out.extras.push(`${kind.kind}/${key}`);
  }
  for (const { c, v3, id } of converted) {
    if (!v3) continue;
    const why: string[] = [];
    const diffs = specDiff(c.kind.kind, c.v3.spec, v3.spec, schemas.require(c.kind.kind));
    if (diffs.length) why.push(`spec differs at ${diffs.map((d) => d.path).join(", ")}`);
    if (!same(withoutKeys(c.v3.metadata.labels, (k) => k === TIER_LABEL), withoutKeys(v3.metadata.labels, (k) => k === TIER_LABEL))) why.push("labels differ");
    const ours = (k: string) => k.startsWith("migration.projectcalico.org/");
    if (!same(withoutKeys(c.v3.metadata.annotations, ours), withoutKeys(v3.metadata.annotations, ours))) why.push("annotations differ");
    const expectedRefs = (c.v3.metadata.ownerReferences ?? []).map((r) => (isCalicoApiVersion(r.apiVersion) ? { ...r, uid: uidMap.get(r.uid) ?? `unmapped:${r.uid}` } : r));
    const refs = (v3.metadata.ownerReferences ?? []).map((r) => ({ apiVersion: r.apiVersion, kind: r.kind, name: r.name, uid: r.uid }));
    if (!same(expectedRefs.map((r) => ({ apiVersion: r.apiVersion, kind: r.kind, name: r.name, uid: r.uid })), refs)) why.push("owner references differ");
    if (why.length) out.different.push(`${id}: ${why.join("; ")}`);
    else out.matched++;
  }
  return out;
}

/** A one-line summary for assertion messages. */
export function describeComparison(c: DatastoreComparison): string {
  const list = (name: string, items: string[]) => (items.length ? ` ${name} ${items.length} (${items.slice(0, 5).join(", ")}${items.length > 5 ? ", …" : ""})` : "");
  return `v1 ${c.v1Total}, v3 ${c.v3Total}, matched ${c.matched};${list("missing", c.missing)}${list("different", c.different)}${list("extras", c.extras)}${list("duplicated", c.duplicated)}`;
}
