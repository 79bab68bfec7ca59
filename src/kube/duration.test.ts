import { test } from "node:test";
import assert from "node:assert/strict";
import { formatDuration, InvalidDurationError, parseDuration } from "./duration.js";

test("parseDuration reads single units", () => {
  assert.equal(parseDuration("500ms"), 500);
  assert.equal(parseDuration("10s"), 10_000);
  assert.equal(parseDuration("2m"), 120_000);
  assert.equal(parseDuration("1h"), 3_600_000);
  assert.equal(parseDuration("250us"), 0.25);
  assert.equal(parseDuration("250\u00b5s"), 0.25);
  assert.equal(parseDuration("250\u03bcs"), 0.25);
  assert.equal(parseDuration("1500000ns"), 1.5);
});

test("parseDuration reads compound, fractional, signed and zero values", () => {
  assert.equal(parseDuration("1h30m"), 5_400_000);
  assert.equal(parseDuration("2m30s"), 150_000);
  assert.equal(parseDuration("1h0m0s"), 3_600_000);
  assert.equal(parseDuration("1.5s"), 1_500);
  assert.equal(parseDuration(".5s"), 500);
  assert.equal(parseDuration("1.s"), 1_000);
  assert.equal(parseDuration("0.1s"), 100);
  assert.equal(parseDuration("0.3ms"), 0.3);
  assert.equal(parseDuration("-1.5h"), -5_400_000);
  assert.equal(parseDuration("+3s"), 3_000);
  assert.equal(parseDuration("0"), 0);
  assert.equal(parseDuration("-0"), 0);
  assert.equal(parseDuration("0s"), 0);
  assert.equal(parseDuration(" 10s "), 10_000);
});

test("parseDuration rejects bad values, naming the value and a good example", () => {
  for (const bad of ["", "10", "1.5", "s", "10S", "1d", "1h 30m", "ten seconds", "-", "1..5s", "."]) {
    assert.throws(
      () => parseDuration(bad),
      (err: unknown) => {
        assert.ok(err instanceof InvalidDurationError, `${bad}: ${String(err)}`);
        assert.equal(err.value, bad);
        assert.match(err.message, new RegExp(`invalid duration ${JSON.stringify(bad).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
        assert.match(err.message, /e\.g\. "500ms", "10s"/);
        return true;
      },
    );
  }
  assert.throws(() => parseDuration("10"), /missing unit after 10/);
  assert.throws(() => parseDuration("3d"), /unknown unit "d"/);
});

test("formatDuration prints the short form", () => {
  assert.equal(formatDuration(0), "0s");
  assert.equal(formatDuration(10_000), "10s");
  assert.equal(formatDuration(150_000), "2m30s");
  assert.equal(formatDuration(120_000), "2m");
  assert.equal(formatDuration(3_600_000), "1h");
  assert.equal(formatDuration(5_400_000), "1h30m");
  assert.equal(formatDuration(3_601_000), "1h1s");
  assert.equal(formatDuration(1_500), "1.5s");
  assert.equal(formatDuration(90_500), "1m30.5s");
  assert.equal(formatDuration(500), "500ms");
  assert.equal(formatDuration(0.25), "250\u00b5s");
  assert.equal(formatDuration(0.000_5), "500ns");
  assert.equal(formatDuration(-2_500), "-2.5s");
  assert.equal(formatDuration(1e-9), "0s");
  assert.throws(() => formatDuration(Number.NaN), RangeError);
});

test("formatDuration and parseDuration round-trip", () => {
  for (const ms of [0, 1, 5, 999, 1_000, 1_001, 59_999, 60_000, 61_000, 3_599_999, 86_400_000, 123_456_789, 0.001, 0.5, -42]) {
    assert.equal(parseDuration(formatDuration(ms)), ms, formatDuration(ms));
  }
});
