/**
 * Conflicts recomputed from storage with the engine (a detect pass over v1 and v3 CRD storage,
 * never read from status), each with its v1 source, a unified diff of the normalised specs, and
 * the exact commands that resolve it either way.
 */
import YAML from "yaml";
import { kindByName, V1_GROUP, V3_GROUP, type CalicoKind } from "../calico/kinds.js";
import type { ConvertedObject } from "../convert/convert.js";
import type { FieldDiff } from "../convert/diff.js";
import { normalizeSpec } from "../convert/normalize.js";
import type { SchemaSet } from "../convert/schema.js";
import type { KubeClient } from "../kube/client.js";
import type { KubeObject } from "../kube/object.js";
import { objectKey } from "../kube/resource.js";
import { loadSchemas } from "../migration/planner.js";
import { apiServiceState, crdNames } from "../migration/prerequisites.js";
import { runPass } from "../migration/run-kinds.js";
import type { Conflict } from "../migration/types.js";
import { v3Body } from "../migration/v3-body.js";
import { RefusedError } from "./errors.js";
import { unifiedDiff } from "./render/diff.js";

/** The ways to resolve one conflict. */
export interface Resolution {
  /** Keep the v1 version: delete the v3 object; the migration re-creates it from v1. */
  deleteV3: string;
  /** Keep the v1 version in place: overwrite the v3 object with the v1-converted one (keeps its uid). */
  replaceV3?: string;
  /** Or change the v3 object by hand until it matches. */
  editV3: string;
  /** Keep the v3 version: change the v1 object to match it. */
  editV1?: string;
}

/** One conflict with everything needed to resolve it. */
export interface ConflictDetail {
  kind: string;
  namespace?: string;
  name: string;
  /** The v1 CR's name (differs for legacy `default.` policies). */
  v1Name?: string;
  /** Why it conflicts when not a spec difference (e.g. its Calico owner is in conflict). */
  reason?: string;
  fields: FieldDiff[];
  /** Unified diff of the normalised specs: v1 (converted) → v3. */
  diff: string;
  /** The v1 object as v3 would store it (what `replaceV3` writes). */
  v1Converted?: KubeObject;
  resolve: Resolution;
}

/** Result: conflicts, or why they cannot be computed yet. */
export interface ConflictReport {
  readable: boolean;
  note: string;
  conflicts: ConflictDetail[];
}

/** Why v3 storage cannot be read while the aggregated APIService is registered. */
export const NOT_READABLE_NOTE =
  "v3 CRD storage is not readable while the aggregated APIService v3.projectcalico.org is registered: projectcalico.org/v3 requests go to the Calico API server. The migration unregisters it after the drain (phase Pending) and then reports conflicts; until then none can be computed.";

const ns = (namespace?: string) => (namespace ? ` -n ${namespace}` : "");

/** The commands resolving a conflict. */
export function resolutions(kind: CalicoKind, name: string, namespace: string | undefined, v1Name: string | undefined, body: KubeObject | undefined): Resolution {
  const v3 = `${kind.v3Plural}.${V3_GROUP}`;
  return {
    deleteV3: `kubectl delete ${v3} ${name}${ns(namespace)}`,
    replaceV3: body ? `kubectl replace -f - <<'EOF'\n${YAML.stringify(body).trimEnd()}\nEOF` : undefined,
    editV3: `kubectl edit ${v3} ${name}${ns(namespace)}`,
    editV1: v1Name ? `kubectl edit ${kind.v1Plural}.${V1_GROUP} ${v1Name}${ns(namespace)}` : undefined,
  };
}

/** What the engine's detect pass reported beside a conflict: the converted v1 object and the v3 spec. */
interface Found {
  source: ConvertedObject;
  v3Spec: unknown;
}

function detail(schemas: SchemaSet, conflict: Conflict, found: Found | undefined): ConflictDetail {
  const kind = kindByName(conflict.kind);
  if (!kind) throw new Error(`unknown kind ${conflict.kind}`);
  const c = found?.source;
  const schema = schemas.require(kind.kind);
  const label = `${kind.kind} ${objectKey(conflict.namespace, conflict.name)}`;
  const diff = c && found.v3Spec !== undefined
    ? unifiedDiff(YAML.stringify({ spec: normalizeSpec(kind, c.v3.spec, schema) }), YAML.stringify({ spec: normalizeSpec(kind, found.v3Spec, schema) }), { from: `v1 (converted) ${label}`, to: `v3 ${label}` })
    : "";
  // Exactly what the copy would have created, without its migrated-by mark and owner uids.
  const body = c ? v3Body(c, schema) : undefined;
  return {
    kind: kind.kind,
    ...(conflict.namespace ? { namespace: conflict.namespace } : {}),
    name: conflict.name,
    v1Name: c?.source.name,
    ...(conflict.reason ? { reason: conflict.reason } : {}),
    fields: conflict.diffs,
    diff,
    v1Converted: body,
    resolve: resolutions(kind, conflict.name, conflict.namespace, c?.source.name, body),
  };
}

/** Recomputes every conflict from v1 and v3 storage. */
export async function computeConflicts(client: KubeClient): Promise<ConflictReport> {
  if ((await apiServiceState(client)) === "aggregated") return { readable: false, note: NOT_READABLE_NOTE, conflicts: [] };
  if ((await crdNames(client, V3_GROUP)).length === 0) {
    throw new RefusedError("the v3 CRDs (projectcalico.org) are not installed: there is nothing to compare with", [
      "kubectl apply -f https://raw.githubusercontent.com/projectcalico/calico/<version>/manifests/v3_projectcalico_org.yaml",
    ]);
  }
  if ((await crdNames(client, V1_GROUP)).length === 0) return { readable: true, note: "no v1 CRDs (crd.projectcalico.org) are left: nothing can conflict", conflicts: [] };
  const schemas = await loadSchemas(client);
  // The engine's own detection (the pass the controller runs in Pending and Waiting); the hook
  // hands over what it converted and compared, so nothing is listed or converted twice.
  const found = new Map<string, Found>();
  const keyOf = (c: Conflict) => `${c.kind}/${objectKey(c.namespace, c.name)}`;
  const pass = await runPass({ client, schemas, migrationUid: "", onConflict: (conflict, source, v3Spec) => found.set(keyOf(conflict), { source, v3Spec }) }, "detect");
  const out = pass.conflicts.filter((c) => kindByName(c.kind)).map((c) => detail(schemas, c, found.get(keyOf(c))));
  return { readable: true, note: `${out.length} conflict(s) between v1 and v3 storage`, conflicts: out };
}
