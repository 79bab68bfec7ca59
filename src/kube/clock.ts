/**
 * Time as a dependency: the controller mechanics read the time and sleep only through a Clock, so
 * tests can drive them with a FakeClock instead of waiting.
 */
import { setTimeout as delay } from "node:timers/promises";

/** Reads the time and sleeps. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason as soon as the signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The reason a sleep rejects with when its signal aborts without an Error reason of its own. */
function abortReason(signal: AbortSignal): Error {
  if (signal.reason instanceof Error) return signal.reason;
  return new DOMException(signal.reason === undefined ? "This operation was aborted" : String(signal.reason), "AbortError");
}

/** True for the rejection of an aborted sleep or request (an AbortError or the signal's own reason). */
export function isAbort(err: unknown, signal?: AbortSignal): boolean {
  if (signal?.aborted && err === signal.reason) return true;
  return err instanceof Error && err.name === "AbortError";
}

/** The real clock: Date.now and timers. */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  sleep: async (ms: number, signal?: AbortSignal): Promise<void> => {
    if (signal?.aborted) throw abortReason(signal);
    try {
      await delay(Math.max(0, ms), undefined, signal ? { signal } : undefined);
    } catch (err) {
      if (signal?.aborted) throw abortReason(signal);
      throw err;
    }
  },
});

interface Sleeper {
  readonly at: number;
  readonly seq: number;
  readonly resolve: () => void;
}

/** Lets pending promise callbacks and I/O callbacks run. */
function macrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A clock for tests: time stands still until `advance` moves it, waking the sleepers whose time has
 * come in order and letting each one run before the next.
 */
export class FakeClock implements Clock {
  private current: number;
  private seq = 0;
  private readonly sleepers = new Set<Sleeper>();
  private readonly sleepWaiters = new Set<() => void>();

  constructor(start = 0) {
    this.current = start;
  }

  /** The fake time. */
  now(): number {
    return this.current;
  }

  /** Resolves once `advance` has moved the time `ms` past now; a non-positive `ms` resolves at the next advance or flush. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.sleepers.delete(sleeper);
        reject(abortReason(signal!));
      };
      const sleeper: Sleeper = {
        at: this.current + Math.max(0, ms),
        seq: this.seq++,
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.sleepers.add(sleeper);
      for (const wake of this.sleepWaiters) wake();
    });
  }

  /** How many sleeps are pending. */
  pending(): number {
    return this.sleepers.size;
  }

  /** The time the earliest pending sleep ends, if any. */
  nextWakeup(): number | undefined {
    return this.earliest()?.at;
  }

  /**
   * Moves time forward by `ms`, waking due sleepers one by one in time order (each woken caller
   * runs, and may sleep again, before the next one wakes); ends at exactly now + ms.
   */
  async advance(ms: number): Promise<void> {
    if (ms < 0) throw new RangeError(`FakeClock.advance: negative step ${ms}`);
    const target = this.current + ms;
    await macrotask();
    for (;;) {
      const next = this.earliest();
      if (!next || next.at > target) break;
      this.sleepers.delete(next);
      this.current = Math.max(this.current, next.at);
      next.resolve();
      await macrotask();
    }
    this.current = target;
    await macrotask();
  }

  /** Wakes the sleepers that are already due (zero-length sleeps) without moving time. */
  flush(): Promise<void> {
    return this.advance(0);
  }

  /** Resolves once at least `count` sleeps are pending (the code under test has reached its wait). */
  async waitForSleepers(count = 1): Promise<void> {
    while (this.sleepers.size < count) {
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.sleepWaiters.delete(wake);
          resolve();
        };
        this.sleepWaiters.add(wake);
      });
    }
  }

  private earliest(): Sleeper | undefined {
    let best: Sleeper | undefined;
    for (const s of this.sleepers) if (!best || s.at < best.at || (s.at === best.at && s.seq < best.seq)) best = s;
    return best;
  }
}
