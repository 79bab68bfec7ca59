import { test } from "node:test";
import assert from "node:assert/strict";
import { forEachPulled, Limiter } from "./pool.js";

const tick = () => new Promise<void>((r) => setImmediate(r));

async function* pages<T>(items: T[], pageSize: number, log: string[]): AsyncGenerator<T> {
  for (let i = 0; i < items.length; i += pageSize) {
    log.push(`page ${i / pageSize}`);
    await tick();
    yield* items.slice(i, i + pageSize);
  }
}

test("forEachPulled keeps N calls in flight across page boundaries and visits every item once", async () => {
  const log: string[] = [];
  let inFlight = 0;
  let peak = 0;
  const seen: number[] = [];
  await forEachPulled(pages(Array.from({ length: 25 }, (_, i) => i), 10, log), 4, async (n) => {
    peak = Math.max(peak, ++inFlight);
    await tick();
    seen.push(n);
    inFlight--;
  });
  assert.deepEqual([...seen].sort((a, b) => a - b), Array.from({ length: 25 }, (_, i) => i));
  assert.equal(peak, 4);
  assert.deepEqual(log, ["page 0", "page 1", "page 2"]);
});

test("forEachPulled stops pulling after the first error, lets started calls settle, closes the source and throws it", async () => {
  let closed = false;
  let pulled = 0;
  async function* source(): AsyncGenerator<number> {
    try {
      for (let i = 0; i < 100; i++) {
        pulled++;
        await tick();
        yield i;
      }
    } finally {
      closed = true;
    }
  }
  const settled: number[] = [];
  await assert.rejects(forEachPulled(source(), 3, async (n) => {
    await tick();
    if (n === 4) throw new Error("boom at 4");
    settled.push(n);
  }), /boom at 4/);
  assert.equal(closed, true);
  assert.ok(pulled < 10, `pulled ${pulled} items, expected the pulling to stop soon after the error`);
});

test("a source that fails is reported as the error", async () => {
  async function* failing(): AsyncGenerator<number> {
    yield await Promise.resolve(1);
    throw new Error("list failed");
  }
  await assert.rejects(forEachPulled(failing(), 2, () => Promise.resolve()), /list failed/);
});

test("Limiter caps calls shared by several loops and hands slots over in order", async () => {
  const limiter = new Limiter(2);
  let peak = 0;
  const order: string[] = [];
  const call = (name: string) => limiter.run(async () => {
    peak = Math.max(peak, limiter.inFlight);
    order.push(name);
    await tick();
  });
  await Promise.all(["a", "b", "c", "d", "e"].map(call));
  assert.equal(peak, 2);
  assert.deepEqual(order, ["a", "b", "c", "d", "e"]);
  assert.equal(limiter.inFlight, 0);
  await assert.rejects(limiter.run(() => Promise.reject(new Error("x"))), /x/);
  assert.equal(limiter.inFlight, 0, "a failed call frees its slot");
});
