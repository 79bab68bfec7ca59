/**
 * A copy that the v3 API refuses: as invalid (422, or 400 for a body it cannot take) the object
 * changed after it was validated, or the validation was skipped, and retrying cannot help; as
 * forbidden (403 from an admission policy, a webhook or RBAC — not the transitional "failed to
 * configure" of a policy whose paramKind is still resolving) someone may lift the denial. Either
 * way the locked window must end within a bound.
 */
import type { CalicoKind } from "../calico/kinds.js";
import { editCommand } from "../convert/conversion-error.js";
import { firstCauseField, hasCode, type ApiError } from "../kube/errors.js";
import { isTransitional } from "./write-retry.js";

/** How a refusal is handled: "invalid" ends the window at once, "forbidden" after a grace period. */
export type Refusal = "invalid" | "forbidden";

/** The kind of refusal `err` is, or undefined for any other error (transient, transitional, …). */
export function refusalOf(err: unknown): Refusal | undefined {
  if (hasCode(err, 422, 400)) return "invalid";
  if (hasCode(err, 403) && !isTransitional(err)) return "forbidden";
  return undefined;
}

/** The v3 create of one v1 object was refused. */
export class CreateRefusedError extends Error {
  override readonly name = "CreateRefusedError";
  constructor(
    readonly kind: CalicoKind,
    /** The v1 object: its name (before any rename) and namespace. */
    readonly source: { name: string; namespace?: string },
    readonly refusal: ApiError,
  ) {
    super(`${kind.kind} ${source.namespace ? `${source.namespace}/` : ""}${source.name} was refused by the v3 API: ${refusal.message}`, { cause: refusal });
  }

  /** "invalid" or "forbidden" (see refusalOf). */
  get refusalKind(): Refusal {
    return refusalOf(this.refusal) ?? "invalid";
  }

  /** The object, as `Kind namespace/name`. */
  subject(): string {
    return `${this.kind.kind} ${this.source.namespace ? `${this.source.namespace}/` : ""}${this.source.name}`;
  }

  /** The command that edits the v1 object. */
  fixCommand(): string {
    return editCommand({ kind: this.kind, ...this.source });
  }

  /**
   * The refusal as a blocker of Pending, in the words the plan's validation uses for the same
   * object: a refusal found by the pre-copy's writes reads like one found by the dry run.
   */
  asBlocker(): string {
    const key = this.source.namespace ? `${this.source.namespace}/${this.source.name}` : this.source.name;
    const field = firstCauseField(this.refusal);
    return `${this.kind.kind} "${key}" would be rejected by the v3 API${field ? ` at ${field}` : ""}: ${this.refusal.message}. Fix: correct it in v1: ${this.fixCommand()}`;
  }
}

/** The CreateRefusedError in `err`'s cause chain, if any. */
export function findCreateRefused(err: unknown): CreateRefusedError | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) {
    if (e instanceof CreateRefusedError) return e;
  }
  return undefined;
}
