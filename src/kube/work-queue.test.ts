import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeClock } from "./clock.js";
import { ExponentialRateLimiter, WorkQueue } from "./work-queue.js";

test("add de-duplicates keys that are waiting and keeps FIFO order", async () => {
  const q = new WorkQueue({ clock: new FakeClock() });
  q.add("a");
  q.add("b");
  q.add("a");
  assert.equal(q.len(), 2);
  assert.equal(await q.get(), "a");
  assert.equal(await q.get(), "b");
  assert.equal(q.len(), 0);
});

test("a key re-added while processing is handed out again only after done", async () => {
  const q = new WorkQueue({ clock: new FakeClock() });
  q.add("k");
  const first = await q.get();
  assert.equal(first, "k");
  q.add("k");
  q.add("k");
  assert.equal(q.len(), 0, "not queued while being processed");
  let second: string | undefined;
  const pending = q.get().then((k) => (second = k));
  await new Promise((r) => setImmediate(r));
  assert.equal(second, undefined, "never handed to a second worker concurrently");
  q.done("k");
  await pending;
  assert.equal(second, "k");
  q.done("k");
  assert.equal(q.len(), 0, "processed once more, not twice");
});

test("get waits for a key and wakes one waiting worker per key", async () => {
  const q = new WorkQueue({ clock: new FakeClock() });
  const got: string[] = [];
  const w1 = q.get().then((k) => got.push(`w1:${k}`));
  const w2 = q.get().then((k) => got.push(`w2:${k}`));
  q.add("x");
  await w1;
  assert.deepEqual(got, ["w1:x"]);
  q.add("y");
  await w2;
  assert.deepEqual(got, ["w1:x", "w2:y"]);
});

test("addAfter adds once the clock has moved and keeps the earliest time", async () => {
  const clock = new FakeClock();
  const q = new WorkQueue({ clock });
  q.addAfter("slow", 1_000);
  q.addAfter("slow", 5_000); // later: ignored, the 1 s entry stands
  q.addAfter("fast", 100);
  q.addAfter("now", 0);
  assert.equal(q.len(), 1);
  assert.equal(await q.get(), "now");
  await clock.advance(99);
  assert.equal(q.len(), 0);
  await clock.advance(1);
  assert.equal(await q.get(), "fast");
  q.addAfter("slow", 200); // earlier than the pending 1 s: replaces it
  await clock.advance(200);
  assert.equal(q.len(), 1);
  assert.equal(await q.get(), "slow");
  await clock.advance(10_000);
  assert.equal(q.len(), 0, "the superseded timer does not add the key again");
});

test("addRateLimited backs off per key until forget", async () => {
  const clock = new FakeClock();
  const q = new WorkQueue({ clock });
  const readyAfter = async (key: string): Promise<number> => {
    const start = clock.now();
    q.addRateLimited(key);
    await clock.advance(clock.nextWakeup()! - clock.now());
    assert.equal(await q.get(), key);
    q.done(key);
    return clock.now() - start;
  };
  assert.deepEqual([await readyAfter("k"), await readyAfter("k"), await readyAfter("k")], [5, 10, 20]);
  assert.equal(q.numRequeues("k"), 3);
  assert.equal(await readyAfter("other"), 5, "per key");
  q.forget("k");
  assert.equal(q.numRequeues("k"), 0);
  assert.equal(await readyAfter("k"), 5);
});

test("ExponentialRateLimiter caps at maxMs (default 1000 s)", () => {
  const rl = new ExponentialRateLimiter<string>();
  const delays = Array.from({ length: 30 }, () => rl.when("k"));
  assert.equal(delays[0], 5);
  assert.equal(delays[1], 10);
  assert.equal(delays.at(-1), 1_000_000);
  const small = new ExponentialRateLimiter<string>({ baseMs: 100, maxMs: 300 });
  assert.deepEqual([small.when("a"), small.when("a"), small.when("a")], [100, 200, 300]);
});

test("shutDown hands out what is queued, then ends every get; later adds are ignored", async () => {
  const clock = new FakeClock();
  const q = new WorkQueue({ clock });
  q.add("left");
  q.addAfter("delayed", 10);
  q.shutDown();
  assert.equal(q.isShuttingDown(), true);
  q.add("late");
  assert.equal(await q.get(), "left");
  assert.equal(await q.get(), undefined);
  await clock.advance(100);
  assert.equal(q.len(), 0, "delayed keys are dropped");
  assert.equal(clock.pending(), 0, "no timers left behind");

  const idle = new WorkQueue({ clock });
  const waiting = idle.get();
  idle.shutDown();
  assert.equal(await waiting, undefined);
});

test("shutDownWithDrain waits for keys in flight", async () => {
  const q = new WorkQueue({ clock: new FakeClock() });
  q.add("a");
  const key = await q.get();
  let drained = false;
  const draining = q.shutDownWithDrain().then(() => (drained = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(drained, false);
  q.done(key!);
  await draining;
  assert.equal(drained, true);
  await new WorkQueue().shutDownWithDrain();
});

test("workers process every key, none concurrently, under churn", async () => {
  const q = new WorkQueue<number>({ clock: new FakeClock() });
  const active = new Set<number>();
  const processed = new Map<number, number>();
  const worker = async () => {
    for (;;) {
      const k = await q.get();
      if (k === undefined) return;
      assert.ok(!active.has(k), `key ${k} processed concurrently`);
      active.add(k);
      await new Promise((r) => setImmediate(r));
      if (k % 3 === 0 && (processed.get(k) ?? 0) === 0) q.add(k); // re-add while processing
      processed.set(k, (processed.get(k) ?? 0) + 1);
      active.delete(k);
      q.done(k);
    }
  };
  const workers = [worker(), worker(), worker(), worker()];
  for (let i = 0; i < 200; i++) q.add(i % 50);
  await new Promise((r) => setImmediate(r));
  for (let i = 0; i < 50; i++) q.add(i);
  // Let the workers empty the queue (bounded: no timers involved, only turns of the event loop).
  for (let turn = 0; turn < 10_000 && (q.len() > 0 || active.size > 0); turn++) await new Promise((r) => setImmediate(r));
  await q.shutDownWithDrain();
  await Promise.all(workers);
  for (let i = 0; i < 50; i++) assert.ok((processed.get(i) ?? 0) >= 1, `key ${i} processed`);
  assert.ok((processed.get(3) ?? 0) >= 2, "a key re-added during processing ran again");
});

test("get(signal) gives up waiting without taking a key when the signal aborts", async () => {
  const q = new WorkQueue({ clock: new FakeClock() });
  const ac = new AbortController();
  const waiting = q.get(ac.signal);
  const other = q.get();
  ac.abort();
  assert.equal(await waiting, undefined);
  q.add("k");
  assert.equal(await other, "k", "the key goes to a worker still waiting");
  q.add("j");
  assert.equal(await q.get(ac.signal), undefined, "an aborted signal never takes a key");
  assert.equal(q.len(), 1);
});

test("a wake-up consumed by an aborted get passes to the next waiting worker", async () => {
  const q = new WorkQueue({ clock: new FakeClock() });
  const ac = new AbortController();
  const first = q.get(ac.signal);
  const second = q.get();
  await new Promise((r) => setImmediate(r));
  q.add("x"); // wakes `first` …
  ac.abort(); // … which then gives up
  assert.equal(await first, undefined);
  assert.equal(await second, "x");
});
