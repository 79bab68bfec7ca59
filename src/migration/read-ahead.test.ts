import { test } from "node:test";
import assert from "node:assert/strict";
import { readAhead } from "./read-ahead.js";

test("the next element is requested while the consumer works on the current one", async () => {
  const log: string[] = [];
  async function* source(): AsyncGenerator<number> {
    for (let i = 0; i < 3; i++) {
      log.push(`fetch ${i}`);
      yield await Promise.resolve(i);
    }
  }
  for await (const n of readAhead(source())) {
    await new Promise<void>((r) => setImmediate(r));
    log.push(`work ${n}`);
  }
  assert.deepEqual(log, ["fetch 0", "fetch 1", "work 0", "fetch 2", "work 1", "work 2"]);
});

test("an early stop closes the source; a failing source throws to the consumer", async () => {
  let closed = false;
  async function* source(): AsyncGenerator<number> {
    try {
      for (let i = 0; ; i++) yield await Promise.resolve(i);
    } finally {
      closed = true;
    }
  }
  for await (const n of readAhead(source())) if (n === 1) break;
  assert.equal(closed, true);

  async function* failing(): AsyncGenerator<number> {
    yield await Promise.resolve(1);
    throw new Error("page 2 failed");
  }
  const got: number[] = [];
  await assert.rejects(async () => {
    for await (const n of readAhead(failing())) got.push(n);
  }, /page 2 failed/);
  assert.deepEqual(got, [1]);
});
