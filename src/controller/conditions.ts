/**
 * Status conditions: one Conflict condition per conflicting object (Calico's exact message, then
 * the first differing field paths), capped at 32 with an "N more conflicts not shown" entry.
 */
import { ConditionReason, ConditionType, Limits, type Condition } from "../api/datastore-migration.js";
import { objectRef, type Conflict } from "../migration/types.js";

const MAX_PATHS = 3;

/** Calico's message for one conflict, followed by where it differs. */
export function conflictMessage(c: Conflict): string {
  const base = `${objectRef(c.kind, c.name, c.namespace)}: v3 resource exists with different spec`;
  if (c.reason) return `${base} (${c.reason})`;
  if (c.diffs.length === 0) return base;
  const paths = c.diffs.slice(0, MAX_PATHS).map((d) => d.path);
  return `${base} (differs at: ${paths.join(", ")}${c.diffs.length > MAX_PATHS ? ", …" : ""})`;
}

/** The Conflict conditions for a list of conflicts (empty list → empty array). */
export function conflictConditions(conflicts: readonly Conflict[], now: string): Condition[] {
  const shown = conflicts.slice(0, Limits.conflictConditions).map(
    (c): Condition => ({ type: ConditionType.Conflict, status: "True", reason: ConditionReason.ResourceMismatch, message: conflictMessage(c), lastTransitionTime: now }),
  );
  const omitted = conflicts.length - shown.length;
  if (omitted > 0) {
    shown.push({
      type: ConditionType.Conflict, status: "True", reason: ConditionReason.ConflictsOmitted,
      message: `${omitted} more ${omitted === 1 ? "conflict" : "conflicts"} not shown`, lastTransitionTime: now,
    });
  }
  return shown;
}

/** Replaces (or removes, when `condition` is undefined) every condition of `type`, keeping the others. */
export function setCondition(conditions: readonly Condition[] | undefined, type: string, condition: Condition | undefined): Condition[] {
  const kept = (conditions ?? []).filter((c) => c.type !== type);
  return condition ? [...kept, condition].slice(-Limits.conditions) : kept;
}

/** Replaces the Conflict conditions, keeping the others (e.g. LockedTooLong). */
export function withConflicts(conditions: readonly Condition[] | undefined, conflicts: readonly Conflict[], now: string): Condition[] {
  const others = (conditions ?? []).filter((c) => c.type !== ConditionType.Conflict);
  return [...others.slice(0, Limits.conditions - Limits.conflictConditions - 1), ...conflictConditions(conflicts, now)];
}

/** What the verification pass found. */
export interface VerificationCounts {
  v1: number;
  equal: number;
  recreated: number;
  conflicts: number;
  /** v3 objects of this migration without a v1 source. */
  extras: number;
}

/** The counts in words (the Verified condition's message, its Event and the Converged Event). */
export function verificationMessage(c: VerificationCounts): string {
  return `verification: ${c.v1} v1 objects, ${c.equal} equal in v3, ${c.recreated} re-created, ${c.conflicts} conflicts, ${c.extras} v3 objects without a v1 source`;
}

/** The Verified condition: True unless a v3 object differs from its v1 source; the counts in its message. */
export function verifiedCondition(c: VerificationCounts, now: string): Condition {
  const reason = c.conflicts ? ConditionReason.ConflictsFound : c.recreated ? ConditionReason.MissingRecreated : ConditionReason.AllEqual;
  return { type: ConditionType.Verified, status: c.conflicts ? "False" : "True", reason, message: verificationMessage(c), lastTransitionTime: now };
}
