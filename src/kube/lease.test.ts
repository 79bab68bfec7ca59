import { test } from "node:test";
import assert from "node:assert/strict";
import { formatMicroTime, InvalidLeaderElectionConfigError, leaseExpired, sameLeaseRecord, validateTimings } from "./lease.js";

test("formatMicroTime writes RFC 3339 with six fractional digits", () => {
  assert.equal(formatMicroTime(Date.UTC(2024, 0, 2, 3, 4, 5, 678)), "2024-01-02T03:04:05.678000Z");
  assert.equal(formatMicroTime(0), "1970-01-01T00:00:00.000000Z");
});

test("sameLeaseRecord compares the election fields and treats missing holder/transitions as empty", () => {
  const a = { holderIdentity: "x", leaseDurationSeconds: 15, acquireTime: "t1", renewTime: "t2", leaseTransitions: 3 };
  assert.equal(sameLeaseRecord(a, { ...a }), true);
  assert.equal(sameLeaseRecord(a, { ...a, renewTime: "t3" }), false);
  assert.equal(sameLeaseRecord(a, { ...a, holderIdentity: "y" }), false);
  assert.equal(sameLeaseRecord(a, { ...a, leaseTransitions: 4 }), false);
  assert.equal(sameLeaseRecord(a, { ...a, leaseDurationSeconds: 1 }), false);
  assert.equal(sameLeaseRecord({}, { holderIdentity: "", leaseTransitions: 0 }), true);
});

test("leaseExpired counts the record's duration from the local observation time, not renewTime", () => {
  const longAgo = { holderIdentity: "other", leaseDurationSeconds: 15, renewTime: "2000-01-01T00:00:00.000000Z" };
  const future = { ...longAgo, renewTime: "2100-01-01T00:00:00.000000Z" };
  for (const spec of [longAgo, future]) {
    assert.equal(leaseExpired(spec, 1_000, 1_000, 99), false, "just observed: valid whatever renewTime says");
    assert.equal(leaseExpired(spec, 1_000, 15_999, 99), false);
    assert.equal(leaseExpired(spec, 1_000, 16_000, 99), true);
  }
  assert.equal(leaseExpired({ holderIdentity: "other" }, 0, 4_999, 5_000), false, "no duration on the record: ours");
  assert.equal(leaseExpired({ holderIdentity: "other" }, 0, 5_000, 5_000), true);
});

test("validateTimings enforces client-go's ordering", () => {
  validateTimings(15_000, 10_000, 2_000, 1.2);
  validateTimings(2_000, 1_500, 250, 1.2);
  for (const [lease, renew, retry] of [
    [10_000, 10_000, 2_000],
    [15_000, 2_000, 2_000],
    [500, 400, 100],
    [15_000, 0, 2_000],
    [15_000, 10_000, 0],
    [Number.NaN, 10_000, 2_000],
  ] as const) {
    assert.throws(() => validateTimings(lease, renew, retry, 1.2), InvalidLeaderElectionConfigError, `${lease}/${renew}/${retry}`);
  }
  assert.throws(() => validateTimings(10_000, 10_000, 2_000, 1.2), /leaseDuration must be greater than renewDeadline/);
});
