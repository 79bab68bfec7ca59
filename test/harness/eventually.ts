/**
 * Deadline-bounded polling for tests: retry an assertion until it passes or time runs out.
 */
import { setTimeout as delay } from "node:timers/promises";

/** Options of `eventually`. */
export interface EventuallyOptions {
  timeoutMs?: number;
  intervalMs?: number;
  message?: string;
}

/**
 * Calls `fn` until it returns without throwing (and, when it returns a boolean, returns true);
 * throws the last error once the deadline passes.
 */
export async function eventually<T>(fn: () => Promise<T> | T, options: EventuallyOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const intervalMs = options.intervalMs ?? 200;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== false) return value;
      lastError = new Error("condition returned false");
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? lastError.message : String(lastError);
      throw new Error(`${options.message ?? "eventually"}: not true within ${timeoutMs} ms: ${why}`, { cause: lastError });
    }
    await delay(intervalMs);
  }
}

/**
 * Checks that something stays true: calls `fn` every `intervalMs` for `durationMs` and throws the
 * first failure. For "nothing happens" assertions (a blocked migration does not progress).
 */
export async function consistently(fn: () => unknown, options: { durationMs: number; intervalMs?: number; message?: string }): Promise<void> {
  const deadline = Date.now() + options.durationMs;
  for (;;) {
    try {
      const value = await fn();
      if (value === false) throw new Error("condition returned false");
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new Error(`${options.message ?? "consistently"}: stopped holding: ${why}`, { cause: err });
    }
    if (Date.now() >= deadline) return;
    await delay(Math.min(options.intervalMs ?? 500, Math.max(0, deadline - Date.now())));
  }
}
