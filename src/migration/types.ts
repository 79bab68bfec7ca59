/**
 * What the migration engine reports: per-kind results, conflicts with field-level diffs, renames,
 * dropped owner references. Shared by the controller (status, report) and the CLI.
 */
import type { FieldDiff } from "../convert/diff.js";

/** A v3 object that exists with a spec different from its converted v1 source. */
export interface Conflict {
  kind: string;
  namespace?: string;
  name: string;
  /** Field differences (path, v1-converted value, v3 value); empty when the reason is not a spec difference. */
  diffs: FieldDiff[];
  /** Why it is a conflict, when not a spec difference (e.g. its Calico owner is itself in conflict). */
  reason?: string;
}

/** A v1 object whose v3 name differs from its CR name. */
export interface Rename {
  kind: string;
  namespace?: string;
  from: string;
  to: string;
}

/** A Calico owner reference the copy left out because its owner does not exist in v1. */
export interface DroppedOwnerReference {
  kind: string;
  namespace?: string;
  name: string;
  owner: { kind: string; name: string; uid: string };
}

/** The outcome of one pass over one kind. */
export interface KindResult {
  kind: string;
  /** v1 objects seen. */
  total: number;
  /** v3 objects created by this pass. */
  migrated: number;
  /** v1 objects whose equal v3 object already existed. */
  skipped: number;
  /** Of the skipped: copies this migration had made before (the pre-copy), still in step with v1. */
  alreadyCopied: number;
  /** This migration's copies brought up to date because their v1 source changed since the copy. */
  refreshed: number;
  /** This migration's copies deleted because their v1 source is gone. */
  removed: number;
  conflicts: Conflict[];
  renames: Rename[];
  /** v3 objects with no v1 source (verification pass only). */
  extras: { namespace?: string; name: string; migratedByUs: boolean }[];
  droppedOwnerReferences: DroppedOwnerReference[];
  /** Time spent retrying transitional errors right after the APIService was unregistered. */
  transitionalRetryMs: number;
  durationMs: number;
}

/** `Kind/name` or `Kind/namespace/name`, as Calico's conflict messages name objects. */
export function objectRef(kind: string, name: string, namespace?: string): string {
  return namespace ? `${kind}/${namespace}/${name}` : `${kind}/${name}`;
}

/**
 * What a user reads as "migrated" for a kind: objects this migration copied, whether inside the
 * lock or before it (the pre-copy, then skipped as already equal, or brought up to date).
 */
export function migratedCount(r: KindResult): number {
  return r.migrated + r.refreshed + r.alreadyCopied;
}

/** What a user reads as "skipped": an equal v3 object that this migration did not make. */
export function skippedCount(r: KindResult): number {
  return r.skipped - r.alreadyCopied;
}

/** An empty result for a kind. */
export function emptyKindResult(kind: string): KindResult {
  return { kind, total: 0, migrated: 0, skipped: 0, alreadyCopied: 0, refreshed: 0, removed: 0, conflicts: [], renames: [], extras: [], droppedOwnerReferences: [], transitionalRetryMs: 0, durationMs: 0 };
}
