import { test } from "node:test";
import assert from "node:assert/strict";
import { Backoff, backoffDelay, retry } from "./backoff.js";
import { FakeClock, isAbort } from "./clock.js";
import { ApiError, TransportError } from "./errors.js";

const mid = () => 0.5; // no jitter: 2·0.5 − 1 = 0
const transport = () => new TransportError("connect ECONNREFUSED", "GET", "/api");

test("backoffDelay grows exponentially up to the cap", () => {
  const o = { baseMs: 200, factor: 2, maxMs: 10_000, random: mid };
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffDelay(n, o)), [200, 400, 800, 1_600, 3_200, 6_400, 10_000, 10_000]);
  assert.equal(backoffDelay(1000, o), 10_000);
  assert.equal(backoffDelay(3, { baseMs: 5, factor: 3, random: mid }), 45);
});

test("backoffDelay jitters within ±jitter and never above the cap", () => {
  assert.equal(backoffDelay(1, { baseMs: 1_000, jitter: 0.1, random: () => 0 }), 900);
  assert.equal(backoffDelay(1, { baseMs: 1_000, jitter: 0.1, random: () => 0.999_999 }), 1_100);
  assert.equal(backoffDelay(10, { baseMs: 1_000, maxMs: 5_000, jitter: 0.5, random: () => 0.999_999 }), 5_000);
  assert.equal(backoffDelay(10, { baseMs: 1_000, maxMs: 5_000, jitter: 0.5, random: () => 0 }), 2_500);
  assert.equal(backoffDelay(1, { baseMs: 1_000, jitter: 0, random: () => 0 }), 1_000);
});

test("Backoff remembers failures until reset", () => {
  const b = new Backoff({ baseMs: 10, random: mid });
  assert.deepEqual([b.next(), b.next(), b.next()], [10, 20, 40]);
  assert.equal(b.attempts, 3);
  b.reset();
  assert.equal(b.next(), 10);
});

test("retry returns the first success and reports each retry", async () => {
  const clock = new FakeClock();
  const seen: [number, number][] = [];
  let calls = 0;
  const result = retry(
    (attempt) => {
      calls++;
      return attempt < 3 ? Promise.reject(transport()) : Promise.resolve("ok");
    },
    { clock, random: mid, onRetry: (_err, attempt, delayMs) => seen.push([attempt, delayMs]) },
  );
  await clock.advance(200);
  await clock.advance(400);
  assert.equal(await result, "ok");
  assert.equal(calls, 3);
  assert.deepEqual(seen, [[1, 200], [2, 400]]);
});

test("retry does not wait before a success and does not retry a non-retryable error", async () => {
  const clock = new FakeClock();
  assert.equal(await retry(() => Promise.resolve(7), { clock }), 7);
  let calls = 0;
  const notFound = new ApiError(404, "NotFound", "nope", "GET", "/x", undefined);
  await assert.rejects(
    retry(() => {
      calls++;
      return Promise.reject(notFound);
    }, { clock }),
    (err) => err === notFound,
  );
  assert.equal(calls, 1);
  assert.equal(clock.now(), 0);
});

test("retry gives up after `steps` attempts with the last error", async () => {
  const clock = new FakeClock();
  let calls = 0;
  const errors: Error[] = [];
  const p = retry(
    () => {
      calls++;
      const e = transport();
      errors.push(e);
      return Promise.reject(e);
    },
    { clock, steps: 3, baseMs: 10, random: mid },
  );
  const settled = assert.rejects(p, (err) => err === errors[2]);
  await clock.advance(10_000);
  await settled;
  assert.equal(calls, 3);
  assert.equal(clock.now(), 10_000);
});

test("retry uses the custom retryable predicate", async () => {
  const clock = new FakeClock();
  let calls = 0;
  const p = retry(
    (attempt) => {
      calls++;
      return attempt === 1 ? Promise.reject(new Error("flaky")) : Promise.resolve("second");
    },
    { clock, retryable: (err) => (err as Error).message === "flaky" },
  );
  await clock.advance(1_000);
  assert.equal(await p, "second");
  assert.equal(calls, 2);
});

test("retry honours Retry-After within maxMs", async () => {
  const clock = new FakeClock();
  const tooMany = new ApiError(429, "TooManyRequests", "slow down", "GET", "/x", { details: { retryAfterSeconds: 3 } });
  const delays: number[] = [];
  const p = retry((attempt) => (attempt === 1 ? Promise.reject(tooMany) : Promise.resolve("ok")), {
    clock,
    random: mid,
    onRetry: (_e, _a, d) => delays.push(d),
  });
  await clock.advance(3_000);
  assert.equal(await p, "ok");
  assert.deepEqual(delays, [3_000]);
});

test("retry stops at once when the signal aborts during the wait", async () => {
  const clock = new FakeClock();
  const ac = new AbortController();
  let calls = 0;
  const p = retry(() => {
    calls++;
    return Promise.reject(transport());
  }, { clock, signal: ac.signal, steps: Infinity });
  await clock.waitForSleepers(1);
  ac.abort();
  await assert.rejects(p, (err) => isAbort(err, ac.signal));
  assert.equal(calls, 1);
  await assert.rejects(retry(() => Promise.resolve(1), { clock, signal: ac.signal }), (err) => isAbort(err, ac.signal));
  await assert.rejects(retry(() => Promise.resolve(1), { steps: 0 }), RangeError);
});
