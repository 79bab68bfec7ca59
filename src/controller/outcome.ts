/**
 * The three outcomes of a reconcile besides success: requeue after a delay (polling a state no
 * informer watches), terminal (phase Failed with a Failed condition), and retryable (any other
 * error: its text goes into status.message and the key is retried with backoff).
 */

/** A reconcile result: done, or look again after `requeueAfterMs`. */
export interface Result {
  requeueAfterMs?: number;
}

/** Done; nothing to poll. */
export const done: Result = Object.freeze({});

/** Look again after `ms`. */
export function requeueAfter(ms: number): Result {
  return { requeueAfterMs: ms };
}

/** An error that ends the migration in phase Failed. */
export class TerminalError extends Error {
  override readonly name = "TerminalError";
}

/** True for a TerminalError. */
export function isTerminal(err: unknown): err is TerminalError {
  return err instanceof TerminalError;
}
