/**
 * A keyed, de-duplicating work queue with client-go's contract: a key waits at most once, is handed
 * to one worker at a time, and a key re-added while being processed is handed out again after
 * `done`. Delays (addAfter, addRateLimited) run on the injected Clock.
 */
import { systemClock, type Clock } from "./clock.js";

/** Decides how long a key waits before its next retry. */
export interface RateLimiter<K> {
  /** Records one more failure of `key` and returns the delay before it is retried. */
  when(key: K): number;
  /** Forgets the failures of `key` (call after it was processed successfully). */
  forget(key: K): void;
  /** How many failures of `key` are recorded. */
  numRequeues(key: K): number;
}

/** Options of ExponentialRateLimiter. */
export interface ExponentialRateLimiterOptions {
  /** Delay after the first failure. Default 5 ms. */
  baseMs?: number;
  /** No delay is longer. Default 1000 s. */
  maxMs?: number;
}

/** Per-key exponential delays: base·2^failures, capped (client-go's ItemExponentialFailureRateLimiter). */
export class ExponentialRateLimiter<K> implements RateLimiter<K> {
  private readonly failures = new Map<K, number>();
  private readonly baseMs: number;
  private readonly maxMs: number;

  constructor(options: ExponentialRateLimiterOptions = {}) {
    this.baseMs = options.baseMs ?? 5;
    this.maxMs = options.maxMs ?? 1_000_000;
  }

  /** Records a failure; the n-th failure in a row waits base·2^(n-1). */
  when(key: K): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    return Math.min(this.maxMs, this.baseMs * Math.pow(2, n));
  }

  /** Forgets the key's failures. */
  forget(key: K): void {
    this.failures.delete(key);
  }

  /** Failures recorded for the key. */
  numRequeues(key: K): number {
    return this.failures.get(key) ?? 0;
  }
}

/** Options of WorkQueue. */
export interface WorkQueueOptions<K> {
  clock?: Clock;
  /** Default: ExponentialRateLimiter with 5 ms … 1000 s. */
  rateLimiter?: RateLimiter<K>;
}

/** A keyed work queue; keys are compared with SameValueZero (use strings such as `namespace/name`). */
export class WorkQueue<K = string> {
  private readonly clock: Clock;
  private readonly limiter: RateLimiter<K>;
  /** Keys in the order they will be handed out. */
  private queue: K[] = [];
  /** Keys that need processing (queued, or re-added while processing). */
  private readonly dirty = new Set<K>();
  /** Keys a worker holds (between get and done). */
  private readonly processing = new Set<K>();
  /** Earliest time each delayed key becomes ready; a newer, earlier addAfter replaces the entry. */
  private readonly waiting = new Map<K, number>();
  private readonly getters: (() => void)[] = [];
  private readonly drainers: (() => void)[] = [];
  private readonly timers = new AbortController();
  private shuttingDown = false;

  constructor(options: WorkQueueOptions<K> = {}) {
    this.clock = options.clock ?? systemClock;
    this.limiter = options.rateLimiter ?? new ExponentialRateLimiter<K>();
  }

  /** Marks `key` as needing processing; a no-op when it already waits or after shutDown. */
  add(key: K): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    this.queue.push(key);
    this.getters.shift()?.();
  }

  /** Adds `key` once `ms` have passed; when the key already waits for an earlier time, that time stands. */
  addAfter(key: K, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const readyAt = this.clock.now() + ms;
    const already = this.waiting.get(key);
    if (already !== undefined && already <= readyAt) return;
    this.waiting.set(key, readyAt);
    this.clock.sleep(ms, this.timers.signal).then(
      () => {
        // A later, earlier-due addAfter replaced this entry: its own timer adds the key.
        if (this.waiting.get(key) !== readyAt) return;
        this.waiting.delete(key);
        this.add(key);
      },
      () => undefined, // shut down
    );
  }

  /** Adds `key` after the rate limiter's delay for it (longer with each failure until `forget`). */
  addRateLimited(key: K): void {
    this.addAfter(key, this.limiter.when(key));
  }

  /** Resets the key's rate-limit failures; call after the key was processed successfully. */
  forget(key: K): void {
    this.limiter.forget(key);
  }

  /** How many rate-limited retries of `key` are recorded. */
  numRequeues(key: K): number {
    return this.limiter.numRequeues(key);
  }

  /**
   * The next key to process, waiting for one if needed; `undefined` once the queue is shut down and
   * empty, or when `signal` aborts while waiting (no key is taken then). The caller must call
   * `done(key)` when finished with a key.
   */
  async get(signal?: AbortSignal): Promise<K | undefined> {
    while (this.queue.length === 0) {
      if (this.shuttingDown || signal?.aborted) return undefined;
      await new Promise<void>((resolve) => {
        const wake = () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
        const onAbort = () => {
          const i = this.getters.indexOf(wake);
          if (i >= 0) this.getters.splice(i, 1);
          resolve();
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        this.getters.push(wake);
      });
    }
    if (signal?.aborted) {
      this.getters.shift()?.(); // pass on a wake-up this caller may have consumed
      return undefined;
    }
    const key = this.queue.shift() as K;
    this.processing.add(key);
    this.dirty.delete(key);
    return key;
  }

  /** Ends the processing of `key`; if it was re-added meanwhile it is queued again now. */
  done(key: K): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.queue.push(key);
      this.getters.shift()?.();
    }
    if (this.processing.size === 0) for (const drained of this.drainers.splice(0)) drained();
  }

  /** Keys waiting to be handed out (not counting delayed ones or ones being processed). */
  len(): number {
    return this.queue.length;
  }

  /** True once shutDown was called. */
  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /**
   * Stops accepting keys and drops delayed ones; `get` hands out what is still queued, then
   * returns undefined to every waiting and later caller.
   */
  shutDown(): void {
    this.shuttingDown = true;
    this.timers.abort();
    this.waiting.clear();
    for (const wake of this.getters.splice(0)) wake();
  }

  /** Shuts down and resolves once no key is being processed (every `get` has had its `done`). */
  async shutDownWithDrain(): Promise<void> {
    this.shutDown();
    if (this.processing.size === 0) return;
    await new Promise<void>((resolve) => this.drainers.push(resolve));
  }
}
