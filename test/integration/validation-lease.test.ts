// The Lease that serialises server-side validation runs, against the real API server: a run
// longer than the lease duration keeps it (renewed after a third of it), so a second validation
// waits instead of sharing the scratch group; a run whose lease was taken meanwhile stops.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { FakeClock } from "../../src/kube/clock.js";
import { LEASES } from "../../src/kube/leader-election.js";
import { acquireValidationLease, releaseValidationLease, renewValidationLease, RENEW_AFTER_MS, VALIDATION_LEASE } from "../../src/migration/validation-lease.js";
import { sharedCluster } from "../harness/shared-cluster.js";

const cluster = await sharedCluster();
const ns = `validation-lease-${randomBytes(3).toString("hex")}`;
after(async () => {
  await cluster.admin.request("DELETE", `/api/v1/namespaces/${ns}`).catch(() => undefined);
});

const renewTime = async () => ((await cluster.admin.get(LEASES, VALIDATION_LEASE, ns)).spec as { renewTime: string }).renewTime;

test("a long validation renews its lease, so a second one cannot take it after the lease duration", async () => {
  const clock = new FakeClock(Date.now());
  const held = await acquireValidationLease(cluster.admin, "plan-a", ns, clock);
  const first = await renewTime();

  await clock.advance(RENEW_AFTER_MS - 1);
  await renewValidationLease(cluster.admin, held, clock);
  assert.equal(await renewTime(), first, "not renewed before a third of the duration");

  // 100 s of batches: renewed at 40 s and 80 s; at 130 s the lease is 50 s old, not 130 s.
  for (let t = 0; t < 100; t += 10) {
    await clock.advance(10_000);
    await renewValidationLease(cluster.admin, held, clock);
  }
  await clock.advance(30_000);
  const other = new FakeClock(clock.now());
  let taken = false;
  const taking = acquireValidationLease(cluster.admin, "plan-b", ns, other).then((l) => ((taken = true), l));
  await other.waitForSleepers();
  assert.equal(taken, false, "the renewed lease is not expired for the second validation: it waits");
  await releaseValidationLease(cluster.admin, held);
  await other.advance(2_000);
  const second = await taking;
  assert.equal(second.holder, "plan-b");
  await releaseValidationLease(cluster.admin, second);
});

test("a run whose lease another holder took stops with a message naming the Lease", async () => {
  const clock = new FakeClock(Date.now());
  const held = await acquireValidationLease(cluster.admin, "plan-a", ns, clock);
  const lease = await cluster.admin.get(LEASES, VALIDATION_LEASE, ns);
  await cluster.admin.update(LEASES, { ...lease, spec: { ...(lease.spec as object), holderIdentity: "plan-b" } });
  await clock.advance(RENEW_AFTER_MS);
  await assert.rejects(renewValidationLease(cluster.admin, held, clock), new RegExp(`Lease ${ns}/${VALIDATION_LEASE} was taken by plan-b during this validation; run it again`));
  await cluster.admin.delete(LEASES, VALIDATION_LEASE, ns);
});
