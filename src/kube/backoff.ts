/**
 * Jittered exponential backoff: a pure delay schedule, a stateful Backoff for loops that retry
 * forever (informers), and `retry` for one operation with a bounded number of attempts.
 */
import { ApiError, isRetryable } from "./errors.js";
import { systemClock, type Clock } from "./clock.js";

/** The shape of a backoff schedule. */
export interface BackoffOptions {
  /** First delay. Default 200 ms. */
  baseMs?: number;
  /** Growth per attempt. Default 2. */
  factor?: number;
  /** Each delay is spread uniformly over ±jitter of itself (0.1 = ±10 %). Default 0.1. */
  jitter?: number;
  /** No delay is ever longer. Default 10 s. */
  maxMs?: number;
  /** Source of randomness in [0, 1); inject a constant for deterministic tests. Default Math.random. */
  random?: () => number;
}

/**
 * The delay before retry number `attempt` (1 after the first failure): base·factor^(attempt-1),
 * jittered by ±jitter, never more than maxMs.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const { baseMs = 200, factor = 2, jitter = 0.1, maxMs = 10_000, random = Math.random } = options;
  const exponent = Math.max(0, attempt - 1);
  const raw = Math.min(maxMs, baseMs * Math.pow(factor, exponent));
  const spread = jitter > 0 ? raw * jitter * (2 * random() - 1) : 0;
  return Math.max(0, Math.min(maxMs, Math.round(raw + spread)));
}

/** A backoff schedule with memory: each `next()` is longer until `reset()` (call it after a success). */
export class Backoff {
  private failures = 0;

  constructor(private readonly options: BackoffOptions = {}) {}

  /** Consecutive failures recorded since the last reset. */
  get attempts(): number {
    return this.failures;
  }

  /** Records a failure and returns how long to wait before the next try. */
  next(): number {
    this.failures++;
    return backoffDelay(this.failures, this.options);
  }

  /** Forgets the failures: the next delay is the base delay again. */
  reset(): void {
    this.failures = 0;
  }
}

/** Options of `retry`. */
export interface RetryOptions extends BackoffOptions {
  /** Whether an error is worth another attempt. Default isRetryable (transport errors, 429, 5xx, timeouts). */
  retryable?: (err: unknown) => boolean;
  /** Most attempts in all (including the first); Infinity retries until success or abort. Default 5. */
  steps?: number;
  clock?: Clock;
  /** Aborting stops the retries: the pending sleep rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called before each wait with the error, the number of the attempt that failed and the delay chosen. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Calls `fn` until it succeeds, an error is not retryable, `steps` attempts have failed (the last
 * error is thrown as is), or the signal aborts. A server's Retry-After (retryAfterSeconds) is
 * honoured as a lower bound, within maxMs.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const { retryable = isRetryable, steps = 5, clock = systemClock, signal, onRetry } = options;
  if (!(steps >= 1)) throw new RangeError(`retry: steps must be at least 1, got ${steps}`);
  const maxMs = options.maxMs ?? 10_000;
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (attempt >= steps || !retryable(err)) throw err;
      const retryAfterMs = Math.min(maxMs, retryAfterSeconds(err) * 1_000);
      const delayMs = Math.max(backoffDelay(attempt, options), retryAfterMs);
      onRetry?.(err, attempt, delayMs);
      await clock.sleep(delayMs, signal);
    }
  }
}

function retryAfterSeconds(err: unknown): number {
  if (!(err instanceof ApiError)) return 0;
  const seconds = err.status?.details?.retryAfterSeconds;
  return typeof seconds === "number" && seconds > 0 ? seconds : 0;
}
