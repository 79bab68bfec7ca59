/**
 * Which step of the migration a controller crash hit, judged only from what was observable at
 * kill time: the CR (phase, datastoreLockedAt, progress, deletionTimestamp), whether the
 * aggregated APIService was still registered, and what the controller had last asked the API
 * server (seen by the proxy in front of it). Pure, so the rules are unit-tested.
 */
import { DeletionDecision, deletionDecisionOf, Names, type DatastoreMigration } from "../../src/api/datastore-migration.js";
import type { ProxiedRequest } from "./fault-proxy.js";

/** The named steps a crash can hit, in migration order. */
export const CRASH_STEPS = [
  "planner",
  "precopy",
  "drain",
  "final-delta",
  "lock-to-apiservice-delete",
  "mid-kind",
  "mid-page",
  "verification",
  "door-close",
  "converged",
  "rollback",
  "abort",
  "cleanup",
] as const;
export type CrashStep = (typeof CRASH_STEPS)[number];

/** Human names for the soak's table. */
export const STEP_LABELS: Record<CrashStep | "other", string> = {
  planner: "planner (Pending, before the lock)",
  precopy: "during the pre-copy (before the lock)",
  drain: "during the drain",
  "final-delta": "during the final delta (after the drain)",
  "lock-to-apiservice-delete": "between lock and APIService delete",
  "mid-kind": "mid-kind (copying)",
  "mid-page": "mid-page (between list pages)",
  verification: "during verification",
  "door-close": "during removal of the temporary version",
  converged: "during Converged",
  rollback: "during a rollback at Converged",
  abort: "during abort",
  cleanup: "during cleanup",
  other: "other",
};

/** What was known when the controller was killed. */
export interface CrashObservation {
  /** The CR right after the kill (undefined when it no longer exists). */
  dm: DatastoreMigration | undefined;
  /** The user-managed aggregated APIService was still registered. */
  apiServicePresent: boolean;
  /** Since the v1 lock, the controller was seen doing post-drain work (foreign scan, APIService). */
  postDrainSeen: boolean;
  /** The last request the controller sent was a v1 list with a continue token (it was fetching a page). */
  betweenPages: boolean;
  /** Since the v1 lock, the controller was seen using the pre-copy door (the final delta). */
  doorSinceLock?: boolean;
  /** The last request the controller sent was an update of a v3 CRD (opening or closing the door). */
  doorEdit?: boolean;
}

/** True when the CR records a pre-copy that started (copies may exist in v3 storage). */
function precopyRunning(dm: DatastoreMigration): boolean {
  const state = dm.metadata.annotations?.[Names.precopy];
  return state === "started" || state === "copied" || state === "in-step";
}

/** The step a crash hit. */
export function classifyCrash(o: CrashObservation): CrashStep | "other" {
  const dm = o.dm;
  if (!dm) return "other";
  const phase = dm.status?.phase ?? "Pending";
  if (dm.metadata.deletionTimestamp) {
    if (phase === "Complete") return "cleanup";
    // At Converged the deletion is decided once and recorded: roll back, or wait for Complete.
    if (phase === "Converged") {
      const decision = deletionDecisionOf(dm);
      if (decision === DeletionDecision.Rollback) return "rollback";
      if (decision === DeletionDecision.Complete) return "converged";
    }
    return "abort";
  }
  switch (phase) {
    case "Pending":
      if (!dm.status?.datastoreLockedAt) return precopyRunning(dm) ? "precopy" : "planner";
      if (!o.apiServicePresent) return "other"; // conflict pre-check, just before Migrating
      if (o.postDrainSeen) return "lock-to-apiservice-delete";
      return o.doorSinceLock ? "final-delta" : "drain";
    case "Migrating": {
      // After the final delta, Migrating only verifies.
      if (dm.metadata.annotations?.[Names.precopy] === "in-step") return "verification";
      const p = dm.status?.progress;
      if (p?.typeProgress && p.completedTypes === p.totalTypes && p.currentType === "") return "verification";
      return o.betweenPages ? "mid-page" : "mid-kind";
    }
    case "Converged":
      // The relabelled copies' door is removed at Converged.
      return o.doorEdit ? "door-close" : "converged";
    case "WaitingForConflictResolution":
    case "Complete":
    case "Failed":
      return "other";
    default: {
      const never: never = phase;
      throw new Error(`unknown phase ${String(never)}`);
    }
  }
}

/** A PUT of the CR's status. */
export function isStatusWrite(r: ProxiedRequest): boolean {
  return r.method === "PUT" && /\/datastoremigrations\/[^/]+\/status$/.test(r.path);
}

/** The status a status write carries. */
export function writtenStatus(r: ProxiedRequest): NonNullable<DatastoreMigration["status"]> {
  return ((r.body ?? {}) as DatastoreMigration).status ?? {};
}

/** A list (not a watch) of a crd.projectcalico.org/v1 kind. */
export function isV1List(r: ProxiedRequest): boolean {
  return !r.watch && isV1Read(r);
}

/** A list or a watch of a crd.projectcalico.org/v1 kind (the verification by fence watches, the full one lists). */
export function isV1Read(r: ProxiedRequest): boolean {
  return r.method === "GET" && /^\/apis\/crd\.projectcalico\.org\/v1\/(namespaces\/[^/]+\/)?[a-z]+$/.test(r.path);
}

/** A create of a projectcalico.org/v3 object (not a dry run). */
export function isV3Create(r: ProxiedRequest): boolean {
  return r.method === "POST" && v3StorageVersion(r) !== undefined && !r.query.has("dryRun");
}

/** The version a request reaches v3 CRD storage through: "v3", or the pre-copy door (undefined for any other path). */
export function v3StorageVersion(r: ProxiedRequest): "v3" | "v3migration" | undefined {
  const m = /^\/apis\/projectcalico\.org\/(v3|v3migration)\//.exec(r.path);
  return m ? (m[1] as "v3" | "v3migration") : undefined;
}

/** Work that comes only after the drain and the final delta: the foreign-owner scan (metadata-only lists of non-Calico kinds) or the APIService. */
export function isPostDrainWork(r: ProxiedRequest): boolean {
  const calico = /^\/apis\/(crd\.)?projectcalico\.org\//.test(r.path);
  return (r.accept.includes("PartialObjectMetadataList") && !calico) || r.path.startsWith("/apis/apiregistration.k8s.io/v1/apiservices/v3.projectcalico.org");
}

/** An update of a v3 CRD (the pre-copy door opened or closed). */
export function isDoorEdit(r: ProxiedRequest): boolean {
  return r.method === "PUT" && /\/customresourcedefinitions\/[a-z]+\.projectcalico\.org$/.test(r.path);
}
