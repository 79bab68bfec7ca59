/**
 * The datastore lock: ClusterInformation `default` `spec.datastoreReady` in v1 and v3. Every
 * function is idempotent and records who flipped the flag, so a crash, an abort or a second
 * migration never unlocks a datastore this migration did not lock.
 */
import { Names } from "../api/datastore-migration.js";
import { CLUSTER_INFORMATION_V1, CLUSTER_INFORMATION_V3 } from "../calico/kinds.js";
import type { KubeClient } from "../kube/client.js";
import { isAlreadyExists, isConflict, isNotFound } from "../kube/errors.js";
import type { KubeObject } from "../kube/object.js";
import type { ResourceRef } from "../kube/resource.js";
import { assertFromV3Storage } from "./v3-origin.js";
import { withRetries } from "./write-retry.js";

const NAME = "default";

/** Thrown when v1 ClusterInformation `default` does not exist: nothing to lock. */
export class MissingClusterInformationError extends Error {
  override readonly name = "MissingClusterInformationError";
}

interface ClusterInformationSpec {
  datastoreReady?: boolean;
  [key: string]: unknown;
}

function specOf(obj: KubeObject): ClusterInformationSpec {
  return (obj.spec ?? {}) as ClusterInformationSpec;
}

/**
 * v3 ClusterInformation from v3 CRD storage. An HA kube-apiserver that has not dropped the
 * APIService yet answers from the Calico API server (the v1 object's view): AggregatedAnswerError,
 * retried by the callers. An update made with the v3 object's resourceVersion can never apply to
 * the v1 object through such a replica: its precondition fails.
 */
async function getV3(client: KubeClient): Promise<KubeObject> {
  const obj = await client.get(CLUSTER_INFORMATION_V3, NAME);
  let v1Uid: string | undefined;
  try {
    v1Uid = (await client.get(CLUSTER_INFORMATION_V1, NAME)).metadata.uid;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  assertFromV3Storage("v3 ClusterInformation", obj.metadata.uid, v1Uid);
  return obj;
}

function getter(client: KubeClient, ref: ResourceRef): () => Promise<KubeObject> {
  return ref === CLUSTER_INFORMATION_V3 ? () => getV3(client) : () => client.get(ref, NAME);
}

/** Read-modify-write with the resourceVersion precondition, retried on update conflicts. */
async function mutate(client: KubeClient, ref: ResourceRef, change: (obj: KubeObject) => boolean): Promise<KubeObject | undefined> {
  const get = getter(client, ref);
  for (let attempt = 0; ; attempt++) {
    const obj = await get();
    if (!change(obj)) return obj;
    try {
      return await client.update(ref, obj);
    } catch (err) {
      if (!isConflict(err) || attempt >= 10) throw err;
    }
  }
}

/** The v1 datastoreReady flag (undefined when unset); throws MissingClusterInformationError. */
export async function v1Ready(client: KubeClient): Promise<boolean | undefined> {
  try {
    return specOf(await client.get(CLUSTER_INFORMATION_V1, NAME)).datastoreReady;
  } catch (err) {
    if (isNotFound(err)) throw new MissingClusterInformationError(missingV1Message(), { cause: err });
    throw err;
  }
}

function missingV1Message(): string {
  return "locking v1 ClusterInformation: clusterinformations.crd.projectcalico.org \"default\" not found; calico-node creates it on start — check that Calico is running in API server mode";
}

/**
 * Sets v1 datastoreReady=false. Only when this call flips it from ready (true or unset) does it
 * record `locked-by` = the migration's uid, so only this migration will unlock it; an unset flag
 * is recorded as `v1-ready-before: unset`, so an abort puts back exactly what was there.
 */
export async function lockV1(client: KubeClient, migrationUid: string): Promise<void> {
  try {
    await mutate(client, CLUSTER_INFORMATION_V1, (obj) => {
      const spec = specOf(obj);
      if (spec.datastoreReady === false) return false;
      obj.spec = { ...spec, datastoreReady: false };
      const unset: Record<string, string> = spec.datastoreReady === undefined ? { [Names.v1ReadyBefore]: "unset" } : {};
      obj.metadata.annotations = { ...(obj.metadata.annotations ?? {}), [Names.lockedBy]: migrationUid, ...unset };
      return true;
    });
  } catch (err) {
    if (isNotFound(err)) throw new MissingClusterInformationError(missingV1Message(), { cause: err });
    throw new Error(`locking v1 ClusterInformation: ${(err as Error).message}`, { cause: err });
  }
}

/** True when v1 ClusterInformation carries this migration's `locked-by`. */
export async function v1LockedBy(client: KubeClient, migrationUid: string): Promise<boolean> {
  try {
    const obj = await client.get(CLUSTER_INFORMATION_V1, NAME);
    return obj.metadata.annotations?.[Names.lockedBy] === migrationUid;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/**
 * Undoes lockV1 on abort: when this migration took the lock, datastoreReady goes back to true
 * (or unset, when it was unset before) and our annotations go; otherwise nothing changes. A
 * missing ClusterInformation is fine.
 */
export async function unlockV1(client: KubeClient, migrationUid: string): Promise<"unlocked" | "not-ours" | "missing"> {
  try {
    let ours = false;
    await mutate(client, CLUSTER_INFORMATION_V1, (obj) => {
      ours = obj.metadata.annotations?.[Names.lockedBy] === migrationUid;
      if (!ours) return false;
      const annotations = { ...(obj.metadata.annotations ?? {}) };
      const spec: ClusterInformationSpec = { ...specOf(obj), datastoreReady: true };
      if (annotations[Names.v1ReadyBefore] === "unset") delete spec.datastoreReady;
      obj.spec = spec;
      delete annotations[Names.lockedBy];
      delete annotations[Names.v1ReadyBefore];
      obj.metadata.annotations = annotations;
      return true;
    });
    return ours ? "unlocked" : "not-ours";
  } catch (err) {
    if (isNotFound(err)) return "missing";
    throw new Error(`unlocking v1 ClusterInformation: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Locks v3 (must follow the APIService deletion): creates `default` from the v1 spec with
 * datastoreReady=false and `migrated-by`, or sets an existing ready one to false with `locked-by`.
 */
export function lockV3(client: KubeClient, migrationUid: string): Promise<void> {
  return withRetries(() => lockV3Once(client, migrationUid));
}

async function lockV3Once(client: KubeClient, migrationUid: string): Promise<void> {
  let existing: KubeObject | undefined;
  try {
    existing = await getV3(client);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  if (!existing) {
    let v1Spec: ClusterInformationSpec = {};
    try {
      v1Spec = specOf(await client.get(CLUSTER_INFORMATION_V1, NAME));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    try {
      await client.create(CLUSTER_INFORMATION_V3, {
        apiVersion: "projectcalico.org/v3",
        kind: "ClusterInformation",
        metadata: { name: NAME, annotations: { [Names.migratedBy]: migrationUid } },
        spec: { ...v1Spec, datastoreReady: false },
      });
      return;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }
  await mutate(client, CLUSTER_INFORMATION_V3, (obj) => {
    const spec = specOf(obj);
    if (spec.datastoreReady === false) return false;
    obj.spec = { ...spec, datastoreReady: false };
    if (obj.metadata.annotations?.[Names.migratedBy] !== migrationUid) {
      obj.metadata.annotations = { ...(obj.metadata.annotations ?? {}), [Names.lockedBy]: migrationUid };
    }
    return true;
  });
}

/** Unlocks v3 at Converged: datastoreReady=true. */
export async function unlockV3(client: KubeClient): Promise<void> {
  await withRetries(() => mutate(client, CLUSTER_INFORMATION_V3, (obj) => {
    const spec = specOf(obj);
    if (spec.datastoreReady === true) return false;
    obj.spec = { ...spec, datastoreReady: true };
    return true;
  }));
}

/** v3 ClusterInformation as v3 CRD storage holds it (never the Calico API server's view). */
export function getV3ClusterInformation(client: KubeClient): Promise<KubeObject> {
  return withRetries(() => getV3(client));
}

/** The v3 datastoreReady flag, or undefined when v3 ClusterInformation does not exist. */
export async function v3Ready(client: KubeClient): Promise<boolean | undefined> {
  try {
    return specOf(await getV3ClusterInformation(client)).datastoreReady;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/**
 * On abort: delete v3 ClusterInformation if this migration created it; if it only locked it,
 * set ready again and drop `locked-by`; anything else is left alone.
 */
export function restoreV3ClusterInformation(client: KubeClient, migrationUid: string): Promise<"deleted" | "unlocked" | "untouched"> {
  return withRetries(() => restoreV3Once(client, migrationUid));
}

async function restoreV3Once(client: KubeClient, migrationUid: string): Promise<"deleted" | "unlocked" | "untouched"> {
  if (!migrationUid) return "untouched";
  let obj: KubeObject;
  try {
    obj = await getV3(client);
  } catch (err) {
    if (isNotFound(err)) return "untouched";
    throw err;
  }
  const annotations = obj.metadata.annotations ?? {};
  if (annotations[Names.migratedBy] === migrationUid) {
    try {
      await client.delete(CLUSTER_INFORMATION_V3, NAME, undefined, { uid: obj.metadata.uid });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    return "deleted";
  }
  if (annotations[Names.lockedBy] === migrationUid) {
    await mutate(client, CLUSTER_INFORMATION_V3, (o) => {
      const a = { ...(o.metadata.annotations ?? {}) };
      delete a[Names.lockedBy];
      o.metadata.annotations = a;
      o.spec = { ...specOf(o), datastoreReady: true };
      return true;
    });
    return "unlocked";
  }
  return "untouched";
}
