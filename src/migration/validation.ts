/**
 * Validation by the API server itself, before the lock: every converted object is dry-run
 * created against temporary copies of the v3 CRDs (and Calico's admission policies) under one
 * fixed scratch group, so the real schema, CEL rules and admission defaulting judge it while the
 * aggregated API still shadows projectcalico.org. Runs are serialised by a Lease; the scratch
 * objects are removed afterwards, and a crashed run's leftovers are reused and removed by the next.
 */
import { kindByName, V1_GROUP, V3_GROUP } from "../calico/kinds.js";
import type { ConvertedObject } from "../convert/convert.js";
import type { KubeClient } from "../kube/client.js";
import { systemClock, type Clock } from "../kube/clock.js";
import { ApiError, isNotFound, firstCauseField } from "../kube/errors.js";
import { silentLogger, type Logger } from "../kube/logger.js";
import type { KubeObject } from "../kube/object.js";
import type { ResourceRef } from "../kube/resource.js";
import type { Finding } from "./findings.js";
import { forEachConcurrent } from "./pool.js";
import { CALICO_ADMISSION, CRDS, mapVersion } from "./prerequisites.js";
import { acquireValidationLease, releaseValidationLease, renewValidationLease, type HeldLease } from "./validation-lease.js";
import { withRetries } from "./write-retry.js";
import { nudgeTerminatingCrd } from "./crd-nudge.js";
import { Discovery } from "../kube/discovery.js";

/** The scratch group RBAC can name. */
export const SCRATCH_GROUP = "validation.migration.projectcalico.org";
const SCRATCH_LABEL = { "app.kubernetes.io/managed-by": "calico-datastore-migration-validation" };

/** Options of a validation run. */
export interface ValidationOptions {
  client: KubeClient;
  objects: AsyncIterable<ConvertedObject>;
  /** Who holds the Lease (for messages). */
  holder: string;
  leaseNamespace?: string;
  concurrency?: number;
  clock?: Clock;
  log?: Logger;
  /** Remove the scratch CRDs and policies afterwards (default true). */
  cleanup?: boolean;
}

function scratchRef(kind: string, plural: string, namespaced: boolean): ResourceRef {
  return { group: SCRATCH_GROUP, version: "v3", plural, namespaced, kind };
}

/**
 * Dry-runs every object; returns one blocker per object the v3 API rejects. The Lease and the
 * scratch CRDs are taken only once there is an object to validate: an empty stream (nothing
 * changed since the last validation) costs nothing.
 */
export async function validateWithServer(options: ValidationOptions): Promise<Finding[]> {
  const { client } = options;
  const clock = options.clock ?? systemClock;
  const log = options.log ?? silentLogger;
  let lease: HeldLease | undefined;
  try {
    const findings: Finding[] = [];
    const batch: ConvertedObject[] = [];
    const flush = async () => {
      if (!batch.length) return;
      if (lease) await renewValidationLease(client, lease, clock);
      else {
        lease = await acquireValidationLease(client, options.holder, options.leaseNamespace, clock);
        await installScratch(client, clock);
      }
      await forEachConcurrent(batch.splice(0), options.concurrency ?? 16, async (c) => {
        const f = await validateOne(client, c, clock);
        if (f) findings.push(f);
      });
    };
    for await (const c of options.objects) {
      batch.push(c);
      if (batch.length >= 500) await flush();
    }
    await flush();
    log.info({ rejected: findings.length }, "server-side validation finished");
    return findings;
  } finally {
    if (lease) {
      if (options.cleanup ?? true) await removeScratch(client).catch((err: unknown) => log.warn({ err: (err as Error).message }, "removing scratch validation CRDs failed"));
      await releaseValidationLease(client, lease);
    }
  }
}

async function validateOne(client: KubeClient, c: ConvertedObject, clock: Clock): Promise<Finding | undefined> {
  const m = c.v3.metadata;
  const body: KubeObject = {
    apiVersion: `${SCRATCH_GROUP}/v3`,
    kind: c.kind.kind,
    metadata: { name: m.name, ...(m.namespace ? { namespace: m.namespace } : {}), ...(m.labels ? { labels: m.labels } : {}), ...(m.annotations ? { annotations: m.annotations } : {}) },
    spec: c.v3.spec,
  };
  try {
    await withRetries(() => client.create(scratchRef(c.kind.kind, c.kind.v3Plural, c.kind.namespaced), body, { dryRun: true }), { clock, transitionalBoundMs: 60_000 });
    return undefined;
  } catch (err) {
    if (!(err instanceof ApiError) || ![400, 403, 404, 422].includes(err.code) || err.reason === "AlreadyExists") throw err;
    const key = m.namespace ? `${m.namespace}/${m.name}` : (m.name ?? "");
    const field = firstCauseField(err);
    const message = err.message.split(SCRATCH_GROUP).join(V3_GROUP);
    return {
      severity: "blocker",
      code: "InvalidObject",
      object: `${c.kind.kind}/${key}`,
      message: `${c.kind.kind} "${key}" would be rejected by the v3 API${field ? ` at ${field}` : ""}: ${message}`,
      fix: `correct it in v1: kubectl edit ${c.kind.v1Plural}.${V1_GROUP} ${c.source.name}${m.namespace ? ` -n ${m.namespace}` : ""}`,
    };
  }
}

/** Scratch copies of the installed v3 CRDs and Calico's MAPs, re-grouped to the scratch group (also used by the benchmark's raw-create ceiling). */
export async function installScratch(client: KubeClient, clock: Clock = systemClock): Promise<void> {
  // A previous run's scratch CRDs may still be terminating: applying over them would race their
  // removal, so wait, nudging their cleanup.
  await withRetries(async () => {
    for await (const crd of client.listItems(CRDS)) {
      if ((crd.spec as { group?: string }).group === SCRATCH_GROUP && crd.metadata.deletionTimestamp) {
        await nudgeTerminatingCrd(client, crd, clock);
        throw new ApiError(503, "ServiceUnavailable", `${crd.metadata.name} is still being deleted`, "GET", "", undefined);
      }
    }
  }, { clock, transitionalBoundMs: 120_000 });
  const names: string[] = [];
  for await (const crd of client.listItems(CRDS)) {
    const spec = crd.spec as { group: string; names: { plural: string; kind: string } };
    if (spec.group !== V3_GROUP || !kindByName(spec.names.kind)) continue;
    const copy = scratchCrd(crd);
    const name = copy.metadata.name ?? "";
    await client.patch(CRDS, name, copy, "apply", undefined, { fieldManager: "calico-datastore-migration-validation", force: true });
    names.push(name);
  }
  await withRetries(async () => {
    for (const name of names) {
      const crd = await client.get(CRDS, name);
      const conds = (crd.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? [];
      if (!conds.some((c) => c.type === "Established" && c.status === "True")) throw new ApiError(503, "ServiceUnavailable", `${name} not established`, "GET", "", undefined);
    }
  }, { clock, transitionalBoundMs: 60_000 });
  const mv = await mapVersion(new Discovery(client));
  if (!mv) return;
  const ref = (plural: string, kind: string): ResourceRef => ({ group: "admissionregistration.k8s.io", version: mv, plural, namespaced: false, kind });
  const policies = ref("mutatingadmissionpolicies", "MutatingAdmissionPolicy");
  const bindings = ref("mutatingadmissionpolicybindings", "MutatingAdmissionPolicyBinding");
  for (const [res, names] of [[policies, CALICO_ADMISSION.policies], [bindings, CALICO_ADMISSION.bindings]] as const) {
    for (const name of names) {
      let original: KubeObject;
      try {
        original = await client.get(res, name);
      } catch (err) {
        if (isNotFound(err)) continue;
        throw err;
      }
      // No paramKind on the copies: Calico's mutations never read params (the bindings have no
      // paramRef), and a paramKind must first be resolvable by the admission plugin's REST
      // mapper, which lags new CRDs by up to half a minute.
      const spec = { ...(original.spec as Record<string, unknown>) };
      delete spec.paramKind;
      const copy = regroup({ apiVersion: `admissionregistration.k8s.io/${mv}`, kind: res.kind, metadata: { name: scratchName(name), labels: SCRATCH_LABEL }, spec }) as KubeObject;
      await client.patch(res, scratchName(name), copy, "apply", undefined, { fieldManager: "calico-datastore-migration-validation", force: true });
    }
  }
}

/**
 * The scratch copy of one installed v3 CRD: same schema under the scratch group, without the
 * short names and categories, which would make `kubectl get gnp` (or `get calico`) ambiguous
 * for as long as the copy exists.
 */
export function scratchCrd(crd: KubeObject): KubeObject {
  const spec = crd.spec as { names: { plural: string; shortNames?: string[]; categories?: string[] } };
  const { shortNames: _shortNames, categories: _categories, ...names } = spec.names;
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${names.plural}.${SCRATCH_GROUP}`, labels: SCRATCH_LABEL },
    spec: { ...spec, names, group: SCRATCH_GROUP, conversion: { strategy: "None" } },
  };
}

/** The name of the scratch copy of one of Calico's admission policies or bindings (also named in the controller's RBAC). */
export function scratchName(name: string): string {
  return `${name.split(".")[0]}.${SCRATCH_GROUP}`;
}

/** Rewrites the projectcalico.org group (apiGroups entries, paramKind) and policy names to the scratch ones. */
function regroup(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => (v === V3_GROUP ? SCRATCH_GROUP : regroup(v)));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === "apiVersion" && typeof v === "string" && v.startsWith(`${V3_GROUP}/`)) out[k] = `${SCRATCH_GROUP}/${v.slice(V3_GROUP.length + 1)}`;
      else if (k === "policyName" && typeof v === "string") out[k] = scratchName(v);
      else out[k] = regroup(v);
    }
    return out;
  }
  return value;
}

/** Deletes the scratch CRDs and policies (the next run also reuses leftovers of a crashed one). */
export async function removeScratch(client: KubeClient): Promise<void> {
  for await (const crd of client.listItems(CRDS)) {
    if ((crd.spec as { group?: string }).group !== SCRATCH_GROUP) continue;
    try {
      await client.delete(CRDS, crd.metadata.name ?? "");
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  const mv = await mapVersion(new Discovery(client));
  if (!mv) return;
  for (const [plural, names] of [["mutatingadmissionpolicybindings", CALICO_ADMISSION.bindings], ["mutatingadmissionpolicies", CALICO_ADMISSION.policies]] as const) {
    for (const name of names) {
      try {
        await client.delete({ group: "admissionregistration.k8s.io", version: mv, plural, namespaced: false, kind: "" }, scratchName(name));
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }
}
