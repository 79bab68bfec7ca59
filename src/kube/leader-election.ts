/**
 * Lease-based leader election (coordination.k8s.io/v1), like client-go's: acquire a free or expired
 * lease, renew it every retry period, give up (onStoppedLeading) when no renewal succeeded for the
 * renew deadline, and release it on a graceful stop. Expiry is judged by the local clock from the
 * moment this process saw the lease record change, never by comparing remote timestamps.
 */
import type { KubeClient } from "./client.js";
import { systemClock, type Clock } from "./clock.js";
import { describeError, isAlreadyExists, isConflict, isNotFound } from "./errors.js";
import { silentLogger, type Logger } from "./logger.js";
import type { KubeObject } from "./object.js";
import type { ResourceRef } from "./resource.js";
import { formatMicroTime, leaseExpired, sameLeaseRecord, validateTimings, type LeaseSpec } from "./lease.js";

/** The Lease resource. */
export const LEASES: ResourceRef = { group: "coordination.k8s.io", version: "v1", plural: "leases", namespaced: true, kind: "Lease" };

/** A Lease object. */
export type Lease = KubeObject & { spec?: LeaseSpec };

/** Client-go's jitter factor for acquire attempts: each wait is retryPeriod·(1 + random·1.2). */
const JITTER_FACTOR = 1.2;

/** Who competes for which lease, and how fast. */
export interface LeaderElectionOptions {
  client: KubeClient;
  namespace: string;
  /** Lease name. */
  name: string;
  /** This candidate's identity, unique among candidates (e.g. the pod name). */
  identity: string;
  /** How long others wait after the last observed renewal before taking over. Default 15 s (whole seconds). */
  leaseDurationMs?: number;
  /** How long the leader keeps trying to renew before it gives up. Default 10 s. */
  renewDeadlineMs?: number;
  /** Interval between attempts. Default 2 s. */
  retryPeriodMs?: number;
  /** Release the lease (empty holderIdentity) when run's signal aborts. Default true. */
  releaseOnCancel?: boolean;
  clock?: Clock;
  logger?: Logger;
  random?: () => number;
}

/** What to do with leadership. */
export interface LeaderCallbacks {
  /** Called on acquiring the lease; `signal` aborts when leadership ends. Should return soon after that. */
  onStartedLeading: (signal: AbortSignal) => void | Promise<void>;
  /** Called once when leadership that was held ends (lost, or after a graceful stop); the caller normally exits. */
  onStoppedLeading: () => void;
  /** Called when another (or this) identity is first seen holding the lease. */
  onNewLeader?: (identity: string) => void;
}

/** One candidate in a Lease election. */
export class LeaderElector {
  private readonly client: KubeClient;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly random: () => number;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private observed: LeaseSpec | undefined;
  private observedAt = 0;
  /** The lease as this candidate last wrote it (for the release's resourceVersion precondition). */
  private written: Lease | undefined;
  private leading = false;
  private running = false;

  constructor(private readonly options: LeaderElectionOptions) {
    this.client = options.client;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.random = options.random ?? Math.random;
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    validateTimings(this.leaseDurationMs, this.renewDeadlineMs, this.retryPeriodMs, JITTER_FACTOR);
    if (options.identity === "") throw new RangeError("leader election: identity must not be empty");
  }

  /** True while this candidate holds the lease. */
  isLeader(): boolean {
    return this.leading;
  }

  /** The holder identity last observed on the lease ("" when released, undefined before the first read). */
  leader(): string | undefined {
    return this.observed?.holderIdentity;
  }

  /**
   * Campaigns until leading, then leads until the lease is lost or `signal` aborts; resolves when
   * done. On a graceful stop it waits for onStartedLeading to return, then releases the lease.
   */
  async run(callbacks: LeaderCallbacks, signal?: AbortSignal): Promise<void> {
    if (this.running) throw new Error("leader election: run is already in progress");
    this.running = true;
    try {
      const stop = signal ?? new AbortController().signal;
      if (!(await this.acquire(callbacks, stop))) return;
      if (stop.aborted) {
        // Stopped while the winning write was in flight: hand the lease back without leading.
        if (this.options.releaseOnCancel ?? true) await this.release();
        return;
      }
      const leadership = new AbortController();
      this.leading = true;
      this.logger.info({ lease: this.leaseName(), identity: this.options.identity }, "leader election: acquired the lease");
      const work = Promise.resolve()
        .then(() => callbacks.onStartedLeading(leadership.signal))
        .catch((err: unknown) => this.logger.error({ err: describeError(err) }, "leader election: onStartedLeading failed"));
      const lost = await this.renewUntilLostOrStopped(callbacks, stop);
      leadership.abort(new Error(lost ? "leadership lost" : "leader election stopped"));
      if (lost) {
        this.leading = false;
        this.logger.warn({ lease: this.leaseName(), identity: this.options.identity }, "leader election: lost the lease");
        callbacks.onStoppedLeading();
        return;
      }
      await work;
      if (this.options.releaseOnCancel ?? true) await this.release();
      this.leading = false;
      callbacks.onStoppedLeading();
    } finally {
      this.running = false;
    }
  }

  /** Tries every retry period (jittered) until the lease is ours; false when stopped first. */
  private async acquire(callbacks: LeaderCallbacks, stop: AbortSignal): Promise<boolean> {
    while (!stop.aborted) {
      if (await this.tryAcquireOrRenew(callbacks, stop)) return true;
      try {
        await this.clock.sleep(this.retryPeriodMs * (1 + this.random() * JITTER_FACTOR), stop);
      } catch {
        return false;
      }
    }
    return false;
  }

  /** Renews every retry period; true when the renew deadline passed without a renewal (or another holder was seen). */
  private async renewUntilLostOrStopped(callbacks: LeaderCallbacks, stop: AbortSignal): Promise<boolean> {
    let lastRenew = this.clock.now();
    for (;;) {
      try {
        await this.clock.sleep(this.retryPeriodMs, stop);
      } catch {
        return false;
      }
      const started = this.clock.now();
      const remaining = lastRenew + this.renewDeadlineMs - started;
      if (remaining <= 0) return true;
      const attempt = new AbortController();
      const onStop = () => attempt.abort(stop.reason);
      stop.addEventListener("abort", onStop, { once: true });
      // Each renewal is cut off at the deadline, so a hung request cannot keep a stale leader.
      this.clock.sleep(remaining, attempt.signal).then(() => attempt.abort(new Error("renew deadline exceeded")), () => undefined);
      const renewed = await this.tryAcquireOrRenew(callbacks, attempt.signal);
      stop.removeEventListener("abort", onStop);
      attempt.abort();
      if (stop.aborted) return false;
      if (renewed) lastRenew = started;
      else if (this.observed?.holderIdentity && this.observed.holderIdentity !== this.options.identity) return true;
      else if (this.clock.now() - lastRenew >= this.renewDeadlineMs) return true;
    }
  }

  /** One attempt: read the lease, take or renew it if allowed, write it with a resourceVersion precondition. */
  private async tryAcquireOrRenew(callbacks: LeaderCallbacks, signal: AbortSignal): Promise<boolean> {
    const { namespace, name, identity } = this.options;
    const now = this.clock.now();
    const record: LeaseSpec = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1_000),
      acquireTime: formatMicroTime(now),
      renewTime: formatMicroTime(now),
      leaseTransitions: 0,
    };
    try {
      let current: Lease;
      try {
        current = await this.client.get<Lease>(LEASES, name, namespace, signal);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        const created = await this.client.create<Lease>(
          LEASES,
          { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name, namespace }, spec: record },
          { signal },
        );
        this.observe(created.spec ?? record, callbacks);
        this.written = created;
        return true;
      }
      const spec = current.spec ?? {};
      this.observe(spec, callbacks);
      const holder = spec.holderIdentity ?? "";
      if (holder !== "" && holder !== identity && !leaseExpired(spec, this.observedAt, this.clock.now(), this.leaseDurationMs)) {
        return false;
      }
      const next: LeaseSpec =
        holder === identity
          ? { ...spec, ...record, acquireTime: spec.acquireTime ?? record.acquireTime, leaseTransitions: spec.leaseTransitions ?? 0 }
          : { ...spec, ...record, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 };
      const updated = await this.client.update<Lease>(LEASES, { ...current, spec: next }, { signal });
      this.observe(updated.spec ?? next, callbacks);
      this.written = updated;
      return true;
    } catch (err) {
      if (signal.aborted) return false;
      const lost = isConflict(err) || isAlreadyExists(err);
      // Someone else wrote first: normal contention, retried next period.
      const fields = { lease: this.leaseName(), identity, err: describeError(err) };
      if (lost) this.logger.debug(fields, "leader election: lease changed under us");
      else this.logger.warn(fields, "leader election: cannot read or write the lease");
      return false;
    }
  }

  /** Records the lease as seen now when it differs from what was seen before. */
  private observe(spec: LeaseSpec, callbacks: LeaderCallbacks): void {
    if (this.observed && sameLeaseRecord(this.observed, spec)) return;
    const previousHolder = this.observed?.holderIdentity;
    this.observed = { ...spec };
    this.observedAt = this.clock.now();
    const holder = spec.holderIdentity ?? "";
    if (holder !== "" && holder !== previousHolder) callbacks.onNewLeader?.(holder);
  }

  /** Gives the lease up: empty holder, 1 s duration; only if it is still the version this candidate wrote. */
  private async release(): Promise<void> {
    const lease = this.written;
    if (!lease || lease.spec?.holderIdentity !== this.options.identity) return;
    const now = formatMicroTime(this.clock.now());
    const spec: LeaseSpec = {
      ...lease.spec,
      holderIdentity: "",
      leaseDurationSeconds: 1,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: lease.spec.leaseTransitions ?? 0,
    };
    try {
      const released = await this.client.update<Lease>(LEASES, { ...lease, spec });
      this.written = released;
      this.observed = { ...spec };
      this.logger.info({ lease: this.leaseName(), identity: this.options.identity }, "leader election: released the lease");
    } catch (err) {
      this.logger.warn({ lease: this.leaseName(), err: describeError(err) }, "leader election: could not release the lease");
    }
  }

  private leaseName(): string {
    return `${this.options.namespace}/${this.options.name}`;
  }
}
