/**
 * The pre-copy door: a temporary second served version of every migrated kind's v3 CRD (same
 * schema, not the storage version, no conversion), so objects can be written to v3 CRD storage
 * while the aggregated APIService still shadows `projectcalico.org/v3`. Requests through it never
 * reach the Calico API server — not even through an HA kube-apiserver that still proxies v3 — and
 * Calico's admission policies match it as an equivalent resource of v3. `status.storedVersions`
 * stays `[v3]`: the door is never the storage version, so it can be removed without a storage
 * migration.
 */
import { Names } from "../api/datastore-migration.js";
import { CALICO_KINDS, V3_GROUP, V3_VERSION, type CalicoKind } from "../calico/kinds.js";
import type { KubeClient } from "../kube/client.js";
import { hasCode, isConflict, isForbidden, isNotFound } from "../kube/errors.js";
import type { KubeObject } from "../kube/object.js";
import type { ResourceRef } from "../kube/resource.js";
import { CRDS } from "./prerequisites.js";

/** The door's version name: says what it is to anyone who reads the CRD. */
export const DOOR_VERSION = "v3migration";

/** Shown to a client that uses the door (kubectl prints it). */
const DEPRECATION_WARNING = `projectcalico.org/${DOOR_VERSION} is a temporary version served only while a datastore migration copies objects; use projectcalico.org/v3`;

interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  deprecated?: boolean;
  deprecationWarning?: string;
  [field: string]: unknown;
}

interface CrdSpec {
  group: string;
  versions: CrdVersion[];
  [field: string]: unknown;
}

/** The name of a kind's v3 CRD. */
export function v3CrdName(kind: CalicoKind): string {
  return `${kind.v3Plural}.${V3_GROUP}`;
}

/** A kind's resource through the door. */
export function doorResource(kind: CalicoKind): ResourceRef {
  return { group: V3_GROUP, version: DOOR_VERSION, plural: kind.v3Plural, namespaced: kind.namespaced, kind: kind.kind };
}

/** Why the door could not be opened on one CRD: the fix names what the operator can do. */
export interface DoorRefusal {
  crd: string;
  reason: string;
}

/** The outcome of opening the door: every CRD opened, or the first refusal (nothing half-open is left). */
export type DoorOutcome = { open: true } | { open: false; refusal: DoorRefusal };

/** The CRD with the door version added (a copy of its v3 version), or undefined when it has one already. */
export function withDoor(crd: KubeObject, migrationUid: string): KubeObject | undefined {
  const spec = crd.spec as CrdSpec;
  if (spec.versions.some((v) => v.name === DOOR_VERSION)) return undefined;
  const v3 = spec.versions.find((v) => v.name === V3_VERSION);
  if (!v3) throw new Error(`CRD ${crd.metadata.name ?? ""} has no ${V3_VERSION} version to open a door beside`);
  const door: CrdVersion = { ...structuredClone(v3), name: DOOR_VERSION, served: true, storage: false, deprecated: true, deprecationWarning: DEPRECATION_WARNING };
  return {
    ...crd,
    metadata: { ...crd.metadata, annotations: { ...(crd.metadata.annotations ?? {}), [Names.precopyDoor]: migrationUid } },
    spec: { ...spec, versions: [...spec.versions, door] },
  };
}

/** The CRD with the door version removed, or undefined when it has none. */
export function withoutDoor(crd: KubeObject): KubeObject | undefined {
  const spec = crd.spec as CrdSpec;
  if (!spec.versions.some((v) => v.name === DOOR_VERSION)) return undefined;
  const annotations = { ...(crd.metadata.annotations ?? {}) };
  delete annotations[Names.precopyDoor];
  return { ...crd, metadata: { ...crd.metadata, annotations }, spec: { ...spec, versions: spec.versions.filter((v) => v.name !== DOOR_VERSION) } };
}

/** Read-modify-write of one CRD with the resourceVersion precondition, retried on conflicts. */
async function editCrd(client: KubeClient, name: string, edit: (crd: KubeObject) => KubeObject | undefined): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    const crd = await client.get(CRDS, name);
    const next = edit(crd);
    if (!next) return false;
    try {
      await client.update(CRDS, next);
      return true;
    } catch (err) {
      if (!isConflict(err) || attempt >= 10) throw err;
    }
  }
}

function refusalOf(crd: string, err: unknown): DoorRefusal | undefined {
  const message = (err as Error).message;
  if (isForbidden(err)) return { crd, reason: `not allowed to update CRD ${crd} (${message}); grant the controller update on the v3 CRDs (manifests/rbac) to copy before the lock` };
  if (hasCode(err, 422)) return { crd, reason: `CRD ${crd} refused the temporary version ${DOOR_VERSION} (${message})` };
  if (isNotFound(err)) return { crd, reason: `CRD ${crd} not found: install Calico's v3 CRDs` };
  return undefined;
}

/**
 * Adds the door to the v3 CRD of every kind. A refusal (RBAC, validation, a missing CRD) closes
 * whatever this call opened and is returned, so the caller can fall back to copying inside the
 * lock; other errors are thrown (retryable).
 */
export async function openDoor(client: KubeClient, migrationUid: string, kinds: readonly CalicoKind[] = CALICO_KINDS): Promise<DoorOutcome> {
  for (const kind of kinds) {
    const crd = v3CrdName(kind);
    try {
      await editCrd(client, crd, (c) => withDoor(c, migrationUid));
    } catch (err) {
      const refusal = refusalOf(crd, err);
      if (!refusal) throw err;
      await closeDoor(client, kinds);
      return { open: false, refusal };
    }
  }
  return { open: true };
}

/** True when every kind's door answers a list (the CRD handler serves the new version). */
export async function doorServed(client: KubeClient, kinds: readonly CalicoKind[] = CALICO_KINDS): Promise<boolean> {
  for (const kind of kinds) {
    try {
      await client.list(doorResource(kind), { limit: 1 });
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }
  return true;
}

/** Removes the door from every kind's v3 CRD (a missing CRD is fine); returns how many it changed. */
export async function closeDoor(client: KubeClient, kinds: readonly CalicoKind[] = CALICO_KINDS): Promise<number> {
  let closed = 0;
  for (const kind of kinds) {
    try {
      if (await editCrd(client, v3CrdName(kind), withoutDoor)) closed++;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  return closed;
}
