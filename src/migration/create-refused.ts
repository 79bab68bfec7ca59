/**
 * A copy that the v3 API refuses as invalid (422): the object changed after it was validated, or
 * the validation was skipped. Retrying cannot help, so the locked window must end.
 */
import type { CalicoKind } from "../calico/kinds.js";
import { editCommand } from "../convert/conversion-error.js";
import { hasCode, type ApiError } from "../kube/errors.js";

/** The v3 create of one v1 object was refused as invalid. */
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

  /** The command that edits the v1 object. */
  fixCommand(): string {
    return editCommand({ kind: this.kind, ...this.source });
  }
}

/** Whether an API error means "this object is invalid" (not a transient or permission problem). */
export function isInvalid(err: unknown): err is ApiError {
  return hasCode(err, 422);
}

/** The CreateRefusedError in `err`'s cause chain, if any. */
export function findCreateRefused(err: unknown): CreateRefusedError | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) {
    if (e instanceof CreateRefusedError) return e;
  }
  return undefined;
}
