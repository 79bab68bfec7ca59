/**
 * The planner: everything that can be known before the lock, in one report — prerequisites,
 * built-in tier drift, per-kind counts, renames, name collisions, objects that cannot be
 * converted or that the v3 API would reject, foreign owner references, v1 CRDs that are not
 * copied (finalize deletes them), conflicts where v3
 * storage is readable, and the locked-window estimate. Shared by `calico-migrate plan` and the
 * controller's Pending phase; it changes nothing Calico or its users read.
 */
import { CALICO_KINDS, V3_GROUP, v1Resource } from "../calico/kinds.js";
import { convertV1ToV3, type ConvertedObject } from "../convert/convert.js";
import { ConversionError } from "../convert/conversion-error.js";
import { asRecorded, calicoOwnersIn } from "../convert/detached-metadata.js";
import { METADATA_ANNOTATION } from "../convert/metadata.js";
import { Names } from "../api/datastore-migration.js";
import { SchemaSet } from "../convert/schema.js";
import type { KubeClient } from "../kube/client.js";
import type { Discovery } from "../kube/discovery.js";
import { objectKey } from "../kube/resource.js";
import { DEFAULT_DRAIN_PERIOD_MS } from "./drain.js";
import { scanForeignDependents, type ForeignScan } from "./foreign-owners.js";
import { checkPrerequisites, CRDS, type Prerequisites } from "./prerequisites.js";
import { runPass } from "./run-kinds.js";
import { checkTierDrift, tierDriftMessage } from "./tier-drift.js";
import type { Conflict, Rename } from "./types.js";
import { uncopiedCrdsFinding, uncopiedV1Crds, type UncopiedCrd } from "./uncopied-crds.js";
import { conversionFinding, prerequisiteFindings, type Finding } from "./findings.js";
import type { ValidatedSnapshot } from "./validated-snapshot.js";

/** Validation of converted objects by the API server (see validation.ts); injected to keep the planner testable. */
export type Validator = (objects: AsyncIterable<ConvertedObject>) => Promise<Finding[]>;

/** Options of a plan. */
export interface PlanOptions {
  client: KubeClient;
  discovery: Discovery;
  pageSize?: number;
  /** Scan non-Calico objects for Calico owner references (default true). */
  scanForeignOwners?: boolean;
  /** Server-side validation of every converted object; omitted = skipped. */
  validator?: Validator;
  /** Records every object handed to the validator (for a re-validation of what changes after). */
  snapshot?: ValidatedSnapshot;
  /** Detect conflicts when v3 storage is readable (default true). */
  detectConflicts?: boolean;
  drainSeconds?: number;
  /** Objects written per second, for the estimate (measured by the benchmark). */
  writeRate?: number;
  signal?: AbortSignal;
}

/** The report. */
export interface PlanReport {
  prerequisites: Prerequisites;
  blockers: Finding[];
  warnings: Finding[];
  kinds: { kind: string; count: number }[];
  total: number;
  renames: Rename[];
  foreign: ForeignScan | { skipped: string };
  /** CRDs of crd.projectcalico.org the migration does not copy (finalize deletes them too), with their object counts. */
  uncopiedV1Crds: UncopiedCrd[];
  /** Conflicts with existing v3 objects, or null when v3 storage is not readable yet. */
  conflicts: Conflict[] | null;
  conflictsNote: string;
  validated: boolean;
  estimate: { lockedWindowSeconds: number; drainSeconds: number; writeRate: number };
  durationMs: number;
}

/** Objects per second the copy sustains on a small control plane (see docs/performance.md). */
export const DEFAULT_WRITE_RATE = 250;
/**
 * Seconds of transitional errors right after the APIService is unregistered, when its Calico API
 * server was not answering (measured: 2–25 s, the admission policies resolve their v3 paramKind
 * late). With an available Calico API server the group is resolvable throughout: measured 0 s.
 */
export const TRANSITION_SECONDS = 15;

/** The transitional seconds to expect: only an unregistering of an unavailable aggregated APIService has them. */
export function transitionSeconds(p: Pick<Prerequisites, "apiService" | "apiServiceAvailable">): number {
  return p.apiService === "aggregated" && !p.apiServiceAvailable ? TRANSITION_SECONDS : 0;
}
/**
 * A copied object costs this many dry-run creates of the validation: the create is stored and
 * watched, and the copy's v1 list and the verification's lists of both sides come on top
 * (npm run bench, 100,000 objects: dry-run about 850/s, copy with verification 524/s).
 */
export const DRY_RUN_TO_COPY = 1.6;

/** Reads the v3 CRD schemas installed in the cluster. */
export async function loadSchemas(client: KubeClient): Promise<SchemaSet> {
  const crds = [];
  for await (const crd of client.listItems(CRDS)) if ((crd.spec as { group?: string }).group === V3_GROUP) crds.push(crd);
  return SchemaSet.fromCrds(crds);
}

/** The checks cheap enough to repeat at every poll: prerequisites and built-in tier drift. */
export async function quickChecks(client: KubeClient, discovery: Discovery): Promise<{ prerequisites: Prerequisites; findings: Finding[]; drift: string[] }> {
  const prerequisites = await checkPrerequisites(client, discovery);
  const findings: Finding[] = prerequisiteFindings(prerequisites);
  const drift = prerequisites.forbiddenKinds.length ? [] : await checkTierDrift(client);
  if (drift.length) findings.push({ severity: "blocker", code: "TierDrift", message: tierDriftMessage(drift), fix: "kubectl edit tiers.crd.projectcalico.org <name> and set the values named" });
  return { prerequisites, findings, drift };
}

/** Builds the plan report. */
export async function plan(options: PlanOptions): Promise<PlanReport> {
  const started = Date.now();
  const { client, discovery } = options;
  const { prerequisites, findings, drift } = await quickChecks(client, discovery);

  const kinds: { kind: string; count: number }[] = [];
  const renames: Rename[] = [];
  const calicoOwned: string[] = [];
  const canRead = prerequisites.forbiddenKinds.length === 0 && prerequisites.v1Crds.length > 0;
  if (canRead) {
    for (const kind of CALICO_KINDS) {
      const targets = new Map<string, string>();
      let count = 0;
      for await (const cr of client.listItems(v1Resource(kind), { limit: options.pageSize ?? 500, signal: options.signal })) {
        count++;
        // As recorded: a CR the controller detached already still names its owners here.
        const owners = calicoOwnersIn(asRecorded(cr).metadata.annotations?.[METADATA_ANNOTATION] ?? "");
        if (owners.length) calicoOwned.push(`${kind.kind}/${objectKey(cr.metadata.namespace, cr.metadata.name ?? "")} (owned by ${owners.map((o) => `${o.kind}/${o.name}`).join(", ")})`);
        try {
          const c = convertV1ToV3(kind, cr);
          const key = objectKey(c.v3.metadata.namespace, c.v3.metadata.name ?? "");
          if (c.renamedFrom !== undefined) renames.push({ kind: kind.kind, namespace: c.v3.metadata.namespace, from: c.renamedFrom, to: c.v3.metadata.name ?? "" });
          const other = targets.get(key);
          if (other !== undefined) {
            findings.push({
              severity: "blocker", code: "NameCollision", object: `${kind.kind}/${key}`,
              message: `${kind.kind} v1 objects "${other}" and "${cr.metadata.name}"${c.v3.metadata.namespace ? ` in namespace ${c.v3.metadata.namespace}` : ""} both become v3 "${c.v3.metadata.name}"`,
              fix: `delete or rename one of them: kubectl delete ${kind.v1Plural}.crd.projectcalico.org ${cr.metadata.name}${c.v3.metadata.namespace ? ` -n ${c.v3.metadata.namespace}` : ""} (after saving what you need)`,
            });
          } else targets.set(key, cr.metadata.name ?? "");
        } catch (err) {
          if (!(err instanceof ConversionError)) throw err;
          findings.push(conversionFinding(objectKey(cr.metadata.namespace, cr.metadata.name ?? ""), err));
        }
      }
      kinds.push({ kind: kind.kind, count });
    }
  }
  const total = kinds.reduce((n, k) => n + k.count, 0);

  if (calicoOwned.length) {
    findings.push({
      severity: "warning", code: "CalicoOwnerReferences",
      message: `${calicoOwned.length} Calico object(s) have Calico owners: ${calicoOwned.slice(0, 3).join("; ")}${calicoOwned.length > 3 ? "; …" : ""}. While projectcalico.org/v3 changes backends the controller sets these references aside in v1 (label ${Names.detachedBy}; the annotation as it was kept in ${Names.detachedMetadata}) so that the garbage collector cannot delete the objects; the v3 copies keep their owners, and an abort puts the references back`,
      fix: "nothing to do",
    });
  }

  const uncopiedCrds = prerequisites.v1Crds.length ? await uncopiedV1Crds(client) : [];
  const uncopied = uncopiedCrdsFinding(uncopiedCrds);
  if (uncopied) findings.push(uncopied);

  let foreign: PlanReport["foreign"] = { skipped: "disabled" };
  if (options.scanForeignOwners ?? true) {
    foreign = await scanForeignDependents(client, discovery, { pageSize: options.pageSize, signal: options.signal });
    if (foreign.dependents.length) {
      findings.push({
        severity: "warning", code: "ForeignOwnerReferences",
        message: `${foreign.dependents.length} non-Calico object(s) have Calico owners; the controller detaches their references before the pre-copy opens its door (and again before unregistering the APIService) and points them at the new v3 owners after the copy`,
        fix: "nothing to do; to opt out, start with --no-remap-foreign-owner-references (the garbage collector would then delete them)",
      });
    }
    if (foreign.notScanned.length) {
      findings.push({
        // A dependent may hide in any resource not scanned, and the GC would delete it.
        severity: "blocker", code: "ForeignOwnersNotScanned",
        message: `could not scan ${foreign.notScanned.length} resource(s) for Calico owner references: ${foreign.notScanned.slice(0, 5).map((n) => `${n.resource} (${n.reason})`).join(", ")}${foreign.notScanned.length > 5 ? ", …" : ""}`,
        fix: "apply the optional ClusterRole (calico-migrate plan --emit-rbac | kubectl apply -f -), or opt out with --no-remap-foreign-owner-references",
      });
    }
  }

  let validated = false;
  let measuredRate: number | undefined;
  if (options.validator && canRead && !findings.some((f) => f.severity === "blocker" && f.code === "ConversionError")) {
    const t = Date.now();
    const rejected = await options.validator(convertedObjects(client, options.pageSize ?? 500, options.signal, options.snapshot));
    // A drifted built-in tier is already reported, with Calico's message: once is enough.
    findings.push(...rejected.filter((f) => !drift.some((d) => f.object && d.startsWith(`tier "${f.object.replace(/^Tier\//, "")}"`))));
    validated = true;
    // The dry-run creates went through the same admission chain as the copy will: their rate
    // (minus the fixed cost of setting up the scratch CRDs) is a measured write rate.
    if (total >= 1000) measuredRate = total / Math.max(1, (Date.now() - t) / 1000 - 5) / DRY_RUN_TO_COPY;
  }

  let conflicts: Conflict[] | null = null;
  let conflictsNote = "conflicts with existing v3 objects are checked right after the APIService is unregistered (v3 storage is not readable while it is registered)";
  const v3Readable = prerequisites.apiService !== "aggregated" && prerequisites.missingV3Crds.length === 0;
  if ((options.detectConflicts ?? true) && v3Readable && canRead && !findings.some((f) => f.code === "ConversionError")) {
    const pass = await runPass({ client, schemas: await loadSchemas(client), migrationUid: "", pageSize: options.pageSize, signal: options.signal }, "detect");
    conflicts = pass.conflicts;
    conflictsNote = `${conflicts.length} conflict(s) with existing v3 objects`;
  }

  const drainSeconds = options.drainSeconds ?? DEFAULT_DRAIN_PERIOD_MS / 1000;
  const writeRate = Math.round(options.writeRate ?? measuredRate ?? DEFAULT_WRITE_RATE);
  return {
    prerequisites,
    blockers: findings.filter((f) => f.severity === "blocker"),
    warnings: findings.filter((f) => f.severity === "warning"),
    kinds,
    total,
    renames,
    foreign,
    uncopiedV1Crds: uncopiedCrds,
    conflicts,
    conflictsNote,
    validated,
    // Drain, plus the seconds the API server takes to serve the group from the CRDs after the
    // APIService goes (only when its Calico API server was unavailable), plus copy and verify.
    estimate: { lockedWindowSeconds: Math.ceil(drainSeconds + transitionSeconds(prerequisites) + total / writeRate), drainSeconds, writeRate },
    durationMs: Date.now() - started,
  };
}

async function* convertedObjects(client: KubeClient, pageSize: number, signal?: AbortSignal, snapshot?: ValidatedSnapshot) {
  for (const kind of CALICO_KINDS) {
    for await (const cr of client.listItems(v1Resource(kind), { limit: pageSize, signal })) {
      const converted = convertV1ToV3(kind, cr);
      snapshot?.add(kind, cr);
      yield converted;
    }
  }
}
