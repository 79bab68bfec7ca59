/**
 * The pure part of Lease leader election: the lease record, its timestamps, and the rules for
 * when a lease may be taken (judged by the local clock, never by the remote renewTime).
 */

/** spec of a coordination.k8s.io/v1 Lease. */
export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  /** MicroTime (RFC 3339 with microseconds). */
  acquireTime?: string;
  /** MicroTime (RFC 3339 with microseconds). */
  renewTime?: string;
  leaseTransitions?: number;
  [key: string]: unknown;
}

/** A time as the API server's MicroTime wants it: `2006-01-02T15:04:05.000000Z`. */
export function formatMicroTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** True when two lease records are the same election state (holder, duration, times, transitions). */
export function sameLeaseRecord(a: LeaseSpec, b: LeaseSpec): boolean {
  return (
    (a.holderIdentity ?? "") === (b.holderIdentity ?? "") &&
    a.leaseDurationSeconds === b.leaseDurationSeconds &&
    a.acquireTime === b.acquireTime &&
    a.renewTime === b.renewTime &&
    (a.leaseTransitions ?? 0) === (b.leaseTransitions ?? 0)
  );
}

/**
 * True when the holder's lease has run out: the record's leaseDurationSeconds (else
 * `defaultDurationMs`) have passed on the local clock since `observedAtMs`, the local time this
 * process first saw the record as it is now. The record's own renewTime is deliberately ignored:
 * the holder's clock may be skewed from ours.
 */
export function leaseExpired(spec: LeaseSpec, observedAtMs: number, nowMs: number, defaultDurationMs: number): boolean {
  const durationMs = spec.leaseDurationSeconds !== undefined && spec.leaseDurationSeconds > 0 ? spec.leaseDurationSeconds * 1_000 : defaultDurationMs;
  return observedAtMs + durationMs <= nowMs;
}

/** Thrown for election timings that could let two leaders overlap or make renewal impossible. */
export class InvalidLeaderElectionConfigError extends Error {
  override readonly name = "InvalidLeaderElectionConfigError";
}

/**
 * Checks client-go's rules: all positive, leaseDuration > renewDeadline (the leader gives up before
 * others may take over), renewDeadline > jitter·retryPeriod, and a lease of at least 1 s.
 */
export function validateTimings(leaseDurationMs: number, renewDeadlineMs: number, retryPeriodMs: number, jitterFactor: number): void {
  const fail = (why: string) => {
    throw new InvalidLeaderElectionConfigError(
      `leader election: ${why} (leaseDuration ${leaseDurationMs} ms, renewDeadline ${renewDeadlineMs} ms, retryPeriod ${retryPeriodMs} ms)`,
    );
  };
  if (!(leaseDurationMs >= 1_000)) fail("leaseDuration must be at least 1 s");
  if (!(renewDeadlineMs > 0) || !(retryPeriodMs > 0)) fail("renewDeadline and retryPeriod must be positive");
  if (!(leaseDurationMs > renewDeadlineMs)) fail("leaseDuration must be greater than renewDeadline");
  if (!(renewDeadlineMs > jitterFactor * retryPeriodMs)) fail(`renewDeadline must be greater than ${jitterFactor} × retryPeriod`);
}
