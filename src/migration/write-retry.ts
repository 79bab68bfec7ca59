/**
 * Retries for writes and reads of v3 objects: retryable API errors (429, 5xx, timeouts, resets)
 * with jittered exponential backoff, and, right after the APIService was unregistered, the
 * transitional answers of an API server still re-resolving the group, within a time bound.
 */
import { retry } from "../kube/backoff.js";
import { systemClock, type Clock } from "../kube/clock.js";
import { ApiError, isRetryable } from "../kube/errors.js";
import { AggregatedAnswerError } from "./v3-origin.js";

/**
 * True for the errors a server gives while it switches projectcalico.org from the aggregated API
 * to the CRDs: the resource not yet served (404 on a collection), an admission policy whose v3
 * paramKind is not resolvable yet (403 "failed to configure policy"), a 503 from the aggregator,
 * and an answer a lagging kube-apiserver still took from the Calico API server.
 */
export function isTransitional(err: unknown): boolean {
  if (err instanceof AggregatedAnswerError) return true;
  if (!(err instanceof ApiError)) return false;
  if (err.code === 503) return true;
  if (err.code === 403 && /failed to configure/i.test(err.message)) return true;
  if (err.code === 404 && err.method === "POST") return true;
  if (err.code === 404 && /the server could not find the requested resource/i.test(err.message)) return true;
  return false;
}

/** Options of `withRetries`. */
export interface WriteRetryOptions {
  clock?: Clock;
  signal?: AbortSignal;
  /** Attempts for ordinary retryable errors. Default 6. */
  steps?: number;
  /** Longest total time spent on transitional errors. Default 90 s. */
  transitionalBoundMs?: number;
  /** Called with each retry (for the retries metric). */
  onRetry?: (err: unknown) => void;
  /** Told how long this call spent waiting out transitional errors (only when it did). */
  onTransitional?: (ms: number) => void;
}

/** Runs `fn` with the retry policy above; the last error is thrown when retries run out. */
export async function withRetries<T>(fn: () => Promise<T>, options: WriteRetryOptions = {}): Promise<T> {
  const clock = options.clock ?? systemClock;
  const started = clock.now();
  let transitionalSince: number | undefined;
  let ordinaryFailures = 0;
  const bound = options.transitionalBoundMs ?? 90_000;
  const maxOrdinary = options.steps ?? 6;
  try {
    return await retry(fn, {
      steps: Infinity,
      baseMs: 200,
      maxMs: 5_000,
      clock,
      signal: options.signal,
      retryable: (err) => {
        if (isTransitional(err)) {
          transitionalSince ??= clock.now();
          return clock.now() - transitionalSince < bound;
        }
        ordinaryFailures++;
        return isRetryable(err) && ordinaryFailures < maxOrdinary;
      },
      onRetry: (err) => options.onRetry?.(err),
    });
  } finally {
    if (transitionalSince !== undefined) options.onTransitional?.(clock.now() - Math.max(started, transitionalSince));
  }
}
