/**
 * Bounded concurrency: run an async function over items with at most N in flight, over an array
 * or pulled from an async source, and a limiter that caps calls shared by several such loops.
 */

/** Calls `fn` on every item with at most `concurrency` calls in flight; rejects with the first error after all started calls settle. */
export async function forEachConcurrent<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  if (failure) throw failure.err;
}

/**
 * Like forEachConcurrent, but pulls items from an async source as workers free up, so there is no
 * barrier between the source's pages. After the first error no further item is pulled, the
 * started calls settle, the source is closed, and the error is thrown.
 */
export async function forEachPulled<T>(source: AsyncIterable<T>, concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  const it = source[Symbol.asyncIterator]();
  let failure: { err: unknown } | undefined;
  let exhausted = false;
  const worker = async () => {
    while (failure === undefined && !exhausted) {
      let r: IteratorResult<T>;
      try {
        r = await it.next();
      } catch (err) {
        failure ??= { err };
        return;
      }
      if (r.done) {
        exhausted = true;
        return;
      }
      try {
        await fn(r.value);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  if (failure) {
    await it.return?.().catch(() => undefined);
    throw failure.err;
  }
}

/** At most `limit` calls of `run` in flight at once, whoever makes them; the rest wait in order. */
export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  /** Calls in flight now. */
  get inFlight(): number {
    return this.active;
  }

  async run<R>(fn: () => Promise<R>): Promise<R> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next(); // the slot passes straight to the next caller
      else this.active--;
    }
  }
}
