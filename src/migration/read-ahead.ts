/**
 * Read-ahead over an async source (a paged list): the next element is requested as soon as the
 * current one is handed out, so a page is fetched while the previous one is being worked on.
 */

/** Yields what `source` yields, always with one request to it in flight ahead of the consumer. */
export async function* readAhead<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  let pending = it.next();
  try {
    for (;;) {
      const r = await pending;
      if (r.done) return;
      pending = it.next();
      // Handled when awaited next time round; marked here so an early stop never leaves it unhandled.
      pending.catch(() => undefined);
      yield r.value;
    }
  } finally {
    // Stopped early: let the request in flight settle, then close the source.
    await pending.catch(() => undefined);
    await it.return?.(undefined);
  }
}
