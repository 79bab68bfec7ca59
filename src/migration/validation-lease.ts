/**
 * A Lease that serialises server-side validation runs (the CLI's plan and the controller's
 * Pending share the scratch group). Acquired when free or expired, renewed while the run lasts
 * (a 100,000-object validation takes minutes), released at the end.
 */
import type { KubeClient } from "../kube/client.js";
import type { Clock } from "../kube/clock.js";
import { isAlreadyExists, isConflict, isForbidden, isNotFound } from "../kube/errors.js";
import type { KubeObject } from "../kube/object.js";
import { LEASES } from "../kube/leader-election.js";
import { formatMicroTime } from "../kube/lease.js";
import type { ResourceRef } from "../kube/resource.js";

const NAMESPACES: ResourceRef = { group: "", version: "v1", plural: "namespaces", namespaced: false, kind: "Namespace" };
export const VALIDATION_LEASE = "calico-datastore-migration-validation";
/** Where the Lease lives unless the caller says otherwise: the controller's namespace (created if missing). */
export const VALIDATION_LEASE_NAMESPACE = "calico-datastore-migration";
const DURATION_S = 120;
/** Renew when this much of the lease duration has passed. */
export const RENEW_AFTER_MS = (DURATION_S * 1000) / 3;

/** A held lease (or none, when the namespace could not be used: validation then runs unserialised). */
export interface HeldLease {
  namespace?: string;
  holder: string;
  /** When it was last acquired or renewed (clock ms). */
  renewedAt?: number;
}

/** Waits (up to 5 minutes) until the lease is free or expired, then takes it. */
export async function acquireValidationLease(client: KubeClient, holder: string, namespace = VALIDATION_LEASE_NAMESPACE, clock: Clock): Promise<HeldLease> {
  try {
    await client.create(NAMESPACES, { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
  } catch (err) {
    if (!isAlreadyExists(err) && !isForbidden(err)) throw err;
  }
  const deadline = clock.now() + 5 * 60_000;
  for (;;) {
    const now = clock.now();
    const spec = { holderIdentity: holder, leaseDurationSeconds: DURATION_S, acquireTime: formatMicroTime(now), renewTime: formatMicroTime(now) };
    try {
      let lease: KubeObject | undefined;
      try {
        lease = await client.get(LEASES, VALIDATION_LEASE, namespace);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      if (!lease) {
        await client.create(LEASES, { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: VALIDATION_LEASE, namespace }, spec });
        return { namespace, holder, renewedAt: now };
      }
      const s = (lease.spec ?? {}) as { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number };
      const expired = !s.holderIdentity || s.holderIdentity === holder || Date.parse(s.renewTime ?? "") + (s.leaseDurationSeconds ?? DURATION_S) * 1000 < now;
      if (expired) {
        await client.update(LEASES, { ...lease, spec });
        return { namespace, holder, renewedAt: now };
      }
    } catch (err) {
      if (isForbidden(err) || isNotFound(err)) return { holder };
      if (!isConflict(err) && !isAlreadyExists(err)) throw err;
    }
    if (clock.now() > deadline) throw new Error(`another server-side validation holds Lease ${namespace}/${VALIDATION_LEASE}; try again later`);
    await clock.sleep(2_000);
  }
}

/**
 * Renews a held lease once a third of its duration has passed (a no-op before that, so callers
 * can call it after every batch). Throws if another holder took it meanwhile: two validations
 * would then share the scratch group, and the caller must stop.
 */
export async function renewValidationLease(client: KubeClient, lease: HeldLease, clock: Clock): Promise<void> {
  if (!lease.namespace) return;
  const now = clock.now();
  if (lease.renewedAt !== undefined && now - lease.renewedAt < RENEW_AFTER_MS) return;
  let current: KubeObject;
  try {
    current = await client.get(LEASES, VALIDATION_LEASE, lease.namespace);
  } catch (err) {
    if (isForbidden(err)) return;
    throw err;
  }
  const spec = (current.spec ?? {}) as { holderIdentity?: string } & Record<string, unknown>;
  if (spec.holderIdentity !== lease.holder) {
    throw new Error(`Lease ${lease.namespace}/${VALIDATION_LEASE} was taken by ${spec.holderIdentity ?? "nobody"} during this validation; run it again`);
  }
  await client.update(LEASES, { ...current, spec: { ...spec, renewTime: formatMicroTime(now) } });
  lease.renewedAt = now;
}

/** Releases the lease (deletes it); failures are ignored: it expires anyway. */
export async function releaseValidationLease(client: KubeClient, lease: HeldLease): Promise<void> {
  if (!lease.namespace) return;
  try {
    await client.delete(LEASES, VALIDATION_LEASE, lease.namespace);
  } catch {
    /* it expires */
  }
}
