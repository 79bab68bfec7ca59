/**
 * Kubernetes API errors and their classification (retryable, not found, conflict, …).
 */

/** A Kubernetes `Status` body as the API server returns it on failure. */
export interface StatusBody {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    causes?: { reason?: string; message?: string; field?: string }[];
    retryAfterSeconds?: number;
  };
}

/** An error answered by the API server (an HTTP status with a Status body when there is one). */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly method: string,
    readonly path: string,
    readonly status: StatusBody | undefined,
  ) {
    super(message);
  }
}

/** A request that never got an HTTP answer: connection refused/reset, timeout, TLS failure. */
export class TransportError extends Error {
  override readonly name = "TransportError";
  constructor(
    message: string,
    readonly method: string,
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** True when the error is an ApiError with one of the given HTTP codes. */
export function hasCode(err: unknown, ...codes: number[]): err is ApiError {
  return err instanceof ApiError && codes.includes(err.code);
}

/** True for 404 NotFound. */
export function isNotFound(err: unknown): err is ApiError {
  return hasCode(err, 404);
}

/** True for 409 AlreadyExists (as opposed to a 409 update Conflict). */
export function isAlreadyExists(err: unknown): err is ApiError {
  return err instanceof ApiError && err.code === 409 && err.reason === "AlreadyExists";
}

/** True for 409 Conflict on a stale resourceVersion. */
export function isConflict(err: unknown): err is ApiError {
  return err instanceof ApiError && err.code === 409 && err.reason !== "AlreadyExists";
}

/** True for 403 Forbidden. */
export function isForbidden(err: unknown): err is ApiError {
  return hasCode(err, 403);
}

/** True for 410 Gone (an expired watch or list continue token). */
export function isGone(err: unknown): err is ApiError {
  return hasCode(err, 410);
}

/**
 * True when trying the same request again may succeed: 429, 500, 503, 504, server timeouts and
 * transport failures (resets, refused connections, timeouts).
 */
export function isRetryable(err: unknown): boolean {
  if (err instanceof TransportError) return true;
  if (!(err instanceof ApiError)) return false;
  if ([429, 500, 502, 503, 504].includes(err.code)) return true;
  return err.reason === "ServerTimeout" || err.reason === "Timeout";
}

/** The first field path the API server named in a validation error, if any. */
export function firstCauseField(err: unknown): string | undefined {
  if (!(err instanceof ApiError)) return undefined;
  return err.status?.details?.causes?.find((c) => c.field)?.field;
}

/** A short, single-line description of any error for status messages and logs. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
