import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeClock, isAbort, systemClock } from "./clock.js";

test("systemClock is frozen and sleeps for real", async () => {
  assert.ok(Object.isFrozen(systemClock));
  const start = performance.now();
  await systemClock.sleep(20);
  assert.ok(performance.now() - start >= 15);
  assert.ok(Math.abs(systemClock.now() - Date.now()) < 1_000);
});

test("systemClock.sleep rejects with the signal's reason on abort", async () => {
  const ac = new AbortController();
  const reason = new Error("stopping");
  const sleeping = systemClock.sleep(60_000, ac.signal);
  ac.abort(reason);
  await assert.rejects(sleeping, (err) => err === reason);
  await assert.rejects(systemClock.sleep(10, ac.signal), (err) => err === reason);
  const plain = new AbortController();
  plain.abort();
  await assert.rejects(systemClock.sleep(10, plain.signal), (err) => isAbort(err, plain.signal));
});

test("FakeClock stands still until advanced and wakes sleepers in time order", async () => {
  const clock = new FakeClock(1_000);
  const woke: string[] = [];
  void clock.sleep(300).then(() => woke.push(`b@${clock.now()}`));
  void clock.sleep(100).then(() => woke.push(`a@${clock.now()}`));
  void clock.sleep(1_000).then(() => woke.push(`c@${clock.now()}`));
  assert.equal(clock.pending(), 3);
  assert.equal(clock.nextWakeup(), 1_100);
  await clock.advance(99);
  assert.deepEqual(woke, []);
  await clock.advance(201);
  assert.deepEqual(woke, ["a@1100", "b@1300"]);
  assert.equal(clock.now(), 1_300);
  await clock.advance(10_000);
  assert.deepEqual(woke, ["a@1100", "b@1300", "c@2000"]);
  assert.equal(clock.now(), 11_300);
  assert.equal(clock.pending(), 0);
});

test("FakeClock.advance lets a woken sleeper sleep again within the same step", async () => {
  const clock = new FakeClock();
  const ticks: number[] = [];
  const ac = new AbortController();
  const loop = (async () => {
    for (;;) {
      await clock.sleep(10, ac.signal);
      ticks.push(clock.now());
    }
  })();
  await clock.advance(35);
  assert.deepEqual(ticks, [10, 20, 30]);
  ac.abort();
  await assert.rejects(loop, (err) => isAbort(err));
  assert.equal(clock.pending(), 0);
});

test("FakeClock.waitForSleepers resolves once the code under test sleeps", async () => {
  const clock = new FakeClock();
  let done = false;
  const worker = (async () => {
    await Promise.resolve();
    await clock.sleep(5);
    done = true;
  })();
  await clock.waitForSleepers(1);
  assert.equal(done, false);
  await clock.advance(5);
  await worker;
  assert.equal(done, true);
  await assert.rejects(clock.advance(-1), RangeError);
});
