/**
 * The DatastoreMigration API (migration.projectcalico.org), wire-compatible with Calico's CRD:
 * types, phases, condition reasons, and the names of annotations and the finalizer.
 */
import type { ObjectMeta } from "../kube/object.js";
import type { ResourceRef } from "../kube/resource.js";

export const MIGRATION_GROUP = "migration.projectcalico.org";
export const DATASTORE_MIGRATION_CRD = "datastoremigrations.migration.projectcalico.org";
/** The only CR the controller acts on. */
export const MIGRATION_NAME = "v1-to-v3";
/** Served versions, preferred first. */
export const MIGRATION_VERSIONS = ["v1", "v1beta1"] as const;
export type MigrationVersion = (typeof MIGRATION_VERSIONS)[number];

/** The DatastoreMigration resource at a served version. */
export function migrationResource(version: MigrationVersion = "v1"): ResourceRef {
  return { group: MIGRATION_GROUP, version, plural: "datastoremigrations", namespaced: false, kind: "DatastoreMigration" };
}

/** spec.type values. */
export const MigrationType = { APIServerToCRDs: "APIServerToCRDs" } as const;
export type MigrationType = (typeof MigrationType)[keyof typeof MigrationType];

/** status.phase values (the CRD's enum). */
export const Phase = {
  Pending: "Pending",
  Migrating: "Migrating",
  WaitingForConflictResolution: "WaitingForConflictResolution",
  Converged: "Converged",
  Complete: "Complete",
  Failed: "Failed",
} as const;
export type Phase = (typeof Phase)[keyof typeof Phase];
export const PHASES: readonly Phase[] = Object.values(Phase);

/** Names this project writes on the CR and on Calico objects. */
export const Names = {
  finalizer: "migration.projectcalico.org/v1-crd-cleanup",
  savedApiService: "migration.projectcalico.org/saved-apiservice",
  migratedBy: "migration.projectcalico.org/migrated-by",
  lockedBy: "migration.projectcalico.org/locked-by",
  /** The user's opt-out of foreign owner-reference remapping ("false"). */
  remapForeignOwnerReferences: "migration.projectcalico.org/remap-foreign-owner-references",
  /** resourceVersion of the v3 side recorded at the end of the copy (rollback safety at Converged). */
  copyResourceVersion: "migration.projectcalico.org/copy-resource-version",
  /** v1 datastoreReady before this migration locked it ("true" / "false" / "unset"). */
  v1ReadyBefore: "migration.projectcalico.org/v1-ready-before",
  /**
   * What the controller decided when the CR was deleted at Converged, recorded before the first
   * destructive step and honoured on every re-entry: "rollback" or "complete".
   */
  deletionDecision: "migration.projectcalico.org/deletion-decision",
  /** Why, in words (the rollback-safety verdict at the moment of the decision). */
  deletionDecisionReason: "migration.projectcalico.org/deletion-decision-reason",
  /** Set while a locked window that had to end early is being rolled back to API-server mode. */
  restorePending: "migration.projectcalico.org/restore-pending",
  /**
   * Set once a restore to API-server mode has removed this migration's v3 objects: an aggregated
   * APIService found registered afterwards is the restored one, not one re-created in front of them.
   */
  v3CleanedUp: "migration.projectcalico.org/v3-cleaned-up",
  calicoMetadata: "projectcalico.org/metadata",
  /** On a copy: the v1 resourceVersion it was made from (the v1 object is unchanged while they are equal). */
  sourceResourceVersion: "migration.projectcalico.org/source-resource-version",
  /** On a copy whose v3 name differs from its v1 CR's name: the CR name (metadata-only lists match a copy to its source by it). */
  sourceName: "migration.projectcalico.org/source-name",
  /** On the CR: "copied" once a pre-copy ran, "fallback" when the door could not be opened. */
  precopy: "migration.projectcalico.org/precopy",
  /** On a v3 CRD: the migration (uid) that added the temporary pre-copy version to it. */
  precopyDoor: "migration.projectcalico.org/precopy-door",
  /** On an object whose Calico owner references this migration took away for now: the migration's uid. */
  detachedBy: "migration.projectcalico.org/detached-by",
  /**
   * On a v1 CR whose Calico owner references were taken out of its metadata annotation: that
   * annotation as it was. Conversion reads the CR as if it were still in place.
   */
  detachedMetadata: "migration.projectcalico.org/detached-metadata",
} as const;

/** The values of `Names.deletionDecision`. */
export const DeletionDecision = {
  Rollback: "rollback",
  Complete: "complete",
} as const;
export type DeletionDecision = (typeof DeletionDecision)[keyof typeof DeletionDecision];

/** The recorded deletion decision of a CR, if any. */
export function deletionDecisionOf(dm: DatastoreMigration | undefined): DeletionDecision | undefined {
  const v = dm?.metadata.annotations?.[Names.deletionDecision];
  return v === DeletionDecision.Rollback || v === DeletionDecision.Complete ? v : undefined;
}

/** Condition types and reasons. */
export const ConditionType = {
  Conflict: "Conflict",
  Failed: "Failed",
  LockedTooLong: "LockedTooLong",
  OtherMigrations: "OtherMigrations",
  AnotherWriter: "AnotherWriter",
  /** The pre-copy before the lock: True when it ran, False (DoorRefused) when the copy falls back to the locked window. */
  PreCopy: "PreCopy",
  /** Resources the controller cannot list while it must find the dependents it detached. */
  ForeignOwnersNotScanned: "ForeignOwnersNotScanned",
  /** The verification pass's counts (v1 objects, equal in v3, re-created, conflicts, v3 extras). */
  Verified: "Verified",
} as const;
export const ConditionReason = {
  ResourceMismatch: "ResourceMismatch",
  ConflictsOmitted: "ConflictsOmitted",
  MigrationError: "MigrationError",
  /** The v3 API refused a copy as invalid inside the locked window; the window was ended. */
  CopyRefused: "CopyRefused",
  /** Verified: every v1 object has an equal v3 object, none had to be re-created. */
  AllEqual: "AllEqual",
  /** Verified: v1 objects missing from v3 were re-created by the verification. */
  MissingRecreated: "MissingRecreated",
  /** Not verified: some v3 objects differ from their v1 source. */
  ConflictsFound: "ConflictsFound",
} as const;

/** A metav1.Condition. */
export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** Counters of one kind. */
export interface TypeDetail {
  kind: string;
  migrated?: number;
  skipped?: number;
  conflicts?: number;
}

/** status.progress. */
export interface Progress {
  totalTypes?: number;
  completedTypes?: number;
  typeProgress?: string;
  currentType?: string;
  total?: number;
  migrated?: number;
  skipped?: number;
  conflicts?: number;
  typeDetails?: TypeDetail[];
}

/** status. */
export interface DatastoreMigrationStatus {
  phase?: Phase;
  message?: string;
  datastoreLockedAt?: string;
  startedAt?: string;
  completedAt?: string;
  progress?: Progress;
  conditions?: Condition[];
}

/** A DatastoreMigration object. */
export interface DatastoreMigration {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: { type: string };
  status?: DatastoreMigrationStatus;
}

/** Bounds of the v1 schema. */
export const Limits = {
  message: 1024,
  typeProgress: 64,
  currentType: 253,
  typeDetails: 128,
  conditions: 64,
  conflictConditions: 32,
} as const;

/** The phase of a CR, treating an empty phase as Pending. */
export function phaseOf(dm: DatastoreMigration): Phase {
  return dm.status?.phase ?? Phase.Pending;
}

/** Truncates a status message to the schema's bound, marking the cut. */
export function truncateMessage(message: string, max: number = Limits.message): string {
  if (message.length <= max) return message;
  const marker = "… (truncated)";
  return message.slice(0, max - marker.length) + marker;
}
