/**
 * Non-Calico objects owned by Calico objects (a ConfigMap owned by a Tier, …). Their owners' uids
 * change in the migration, and the garbage collector deletes a dependent whose owner it cannot
 * find — from the moment the APIService is unregistered. So: scan (metadata only) before the
 * lock, detach the Calico references before unregistering (the originals are kept on the object
 * itself), re-attach them to the new v3 owners after the copy, or put the originals back on abort.
 */
import { Names } from "../api/datastore-migration.js";
import { AggregatedAnswerError } from "./v3-origin.js";
import { kindByName, isCalicoApiVersion, V1_GROUP, V3_GROUP, v3Resource } from "../calico/kinds.js";
import type { KubeClient } from "../kube/client.js";
import type { Discovery } from "../kube/discovery.js";
import { isForbidden, isNotFound, describeError } from "../kube/errors.js";
import type { KubeObject, OwnerReference } from "../kube/object.js";
import type { ResourceRef } from "../kube/resource.js";
import { getAggregatedApiService, isAvailable } from "./apiservice.js";
import { rebuildOwnerReferences, rewriteMetadata } from "./owner-rewrite.js";

/** Annotation holding the original owner references of a detached object. */
export const DETACHED_ANNOTATION = "migration.projectcalico.org/detached-owner-references";
/** Label marking detached objects with the migration's uid, so they can be found again. */
export const DETACHED_LABEL = Names.detachedBy;

/** A non-Calico object with at least one Calico owner reference. */
export interface ForeignDependent {
  resource: ResourceRef;
  namespace?: string;
  name: string;
  uid: string;
  ownerReferences: OwnerReference[];
}

/** Result of a scan. */
export interface ForeignScan {
  dependents: ForeignDependent[];
  /** Resources that could not be listed, with why. */
  notScanned: { resource: string; reason: string }[];
  /** Resources listed. */
  scanned: number;
}

/** Every listable resource outside the Calico groups, at its group's preferred version. */
export async function listableResources(discovery: Discovery): Promise<ResourceRef[]> {
  const out: ResourceRef[] = [];
  for (const gv of await discovery.groupVersions()) {
    if (!gv.preferred || gv.group === V3_GROUP || gv.group === V1_GROUP) continue;
    const apiVersion = gv.group ? `${gv.group}/${gv.version}` : gv.version;
    let resources;
    try {
      resources = await discovery.resourcesFor(apiVersion);
    } catch {
      continue; // an unavailable aggregated API: nothing of ours can live there
    }
    for (const r of resources ?? []) {
      if (r.name.includes("/") || !r.verbs.includes("list")) continue;
      out.push({ group: gv.group, version: gv.version, plural: r.name, namespaced: r.namespaced, kind: r.kind });
    }
  }
  return out;
}

function resourceName(r: ResourceRef): string {
  return r.group ? `${r.plural}.${r.group}` : r.plural;
}

/** Pages through every listable resource (PartialObjectMetadata only) and collects Calico-owned objects. */
export async function scanForeignDependents(
  client: KubeClient,
  discovery: Discovery,
  options: { pageSize?: number; labelSelector?: string; signal?: AbortSignal } = {},
): Promise<ForeignScan> {
  const scan: ForeignScan = { dependents: [], notScanned: [], scanned: 0 };
  for (const resource of await listableResources(discovery)) {
    try {
      for await (const item of client.listItems(resource, { metadataOnly: true, limit: options.pageSize ?? 500, labelSelector: options.labelSelector, signal: options.signal })) {
        const refs = item.metadata.ownerReferences ?? [];
        const detached = item.metadata.annotations?.[DETACHED_ANNOTATION];
        if (refs.some((r) => isCalicoApiVersion(r.apiVersion)) || detached !== undefined) {
          scan.dependents.push({
            resource,
            namespace: item.metadata.namespace,
            name: item.metadata.name ?? "",
            uid: item.metadata.uid ?? "",
            ownerReferences: detached !== undefined ? (JSON.parse(detached) as OwnerReference[]) : refs,
          });
        }
      }
      scan.scanned++;
    } catch (err) {
      if (isNotFound(err)) continue;
      scan.notScanned.push({ resource: resourceName(resource), reason: isForbidden(err) ? "forbidden" : describeError(err) });
    }
  }
  return scan;
}

/** Sets or clears annotation and label keys only: a merge patch of map keys leaves every other field as it is now. */
async function patchMapKeys(client: KubeClient, d: ForeignDependent, metadata: { annotations: Record<string, null>; labels: Record<string, null> }): Promise<void> {
  await client.patch(d.resource, d.name, { metadata: { uid: d.uid, ...metadata } }, "merge", d.namespace);
}

/**
 * Removes the Calico owner references of each dependent, keeping the originals in an annotation
 * and marking it with the migration's uid. Already-detached objects are left as they are.
 */
export async function detachForeignOwners(client: KubeClient, dependents: readonly ForeignDependent[], migrationUid: string): Promise<number> {
  let n = 0;
  for (const d of dependents) {
    let changed = false;
    await rewriteMetadata(client, d, (current) => {
      const refs = current.metadata.ownerReferences ?? [];
      changed = refs.some((r) => isCalicoApiVersion(r.apiVersion));
      if (!changed) return undefined;
      const kept = refs.filter((r) => !isCalicoApiVersion(r.apiVersion));
      // The originals are recorded once; a re-attached object keeps them until Complete or abort.
      const recorded = current.metadata.annotations?.[DETACHED_ANNOTATION] !== undefined;
      return {
        ownerReferences: kept.length ? kept : null,
        ...(recorded ? {} : { annotations: { [DETACHED_ANNOTATION]: JSON.stringify(refs) }, labels: { [DETACHED_LABEL]: migrationUid } }),
      };
    });
    if (changed) n++;
  }
  return n;
}

/** Outcome of re-attaching one dependent. */
export interface Reattached {
  resource: string;
  namespace?: string;
  name: string;
  remapped: { kind: string; name: string; from: string; to: string }[];
  /** Calico owners that do not exist in v3: the reference is dropped so the GC cannot delete the object. */
  dropped: { kind: string; name: string }[];
}

/** Points detached dependents at their owners' v3 uids; the originals stay recorded until Complete or abort. */
export async function reattachForeignOwners(client: KubeClient, discovery: Discovery, migrationUid: string): Promise<Reattached[]> {
  const scan = await scanForeignDependents(client, discovery, { labelSelector: `${DETACHED_LABEL}=${migrationUid}` });
  const out: Reattached[] = [];
  for (const d of scan.dependents) {
    const result: Reattached = { resource: resourceName(d.resource), namespace: d.namespace, name: d.name, remapped: [], dropped: [] };
    const v3Refs = new Map<OwnerReference, OwnerReference>();
    for (const r of d.ownerReferences) {
      if (!isCalicoApiVersion(r.apiVersion)) continue;
      const kind = kindByName(r.kind);
      let owner: KubeObject | undefined;
      if (kind) {
        try {
          owner = await client.get(v3Resource(kind), r.name, kind.namespaced ? d.namespace : undefined);
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      }
      // The Calico API server's view carries the very uid the reference was made with.
      if (owner?.metadata.uid && owner.metadata.uid === r.uid) {
        throw new AggregatedAnswerError(`reading the v3 owner ${r.kind} ${r.name}: the answer came from the Calico API server, not from v3 CRD storage; retrying`);
      }
      if (!owner?.metadata.uid) {
        result.dropped.push({ kind: r.kind, name: r.name });
        continue;
      }
      v3Refs.set(r, { ...r, apiVersion: `${V3_GROUP}/v3`, uid: owner.metadata.uid });
      result.remapped.push({ kind: r.kind, name: r.name, from: r.uid, to: owner.metadata.uid });
    }
    // From the object as it is now: a reference someone added since the scan stays.
    const written = await rewriteMetadata(client, d, (current) => {
      if (current.metadata.annotations?.[DETACHED_ANNOTATION] === undefined) return undefined; // restored meanwhile
      const refs = rebuildOwnerReferences(current.metadata.ownerReferences ?? [], d.ownerReferences, (o) => v3Refs.get(o));
      return { ownerReferences: refs.length ? refs : null };
    });
    if (written) out.push(result);
  }
  return out;
}

/** How the API server answered a GET of an original Calico owner, as the garbage collector will look it up. */
export type OwnerAnswer = { uid: string | undefined } | "not-found" | "error";

/**
 * Whether a dependent may point at its original Calico owner again. Right after the APIService is
 * registered again, projectcalico.org/v3 can still be answered by v3 CRD storage: another uid, or
 * none once our copies are deleted. A reference restored then is dangling to the garbage
 * collector, which deletes the dependent (the crash soak lost ConfigMaps this way). So: the
 * reference's own uid (the Calico API server's view), or nothing once the APIService is Available
 * (the owner was deleted by someone; its reference goes back as it was). An error answer (503
 * from a Calico API server that is down) proves no absence to the garbage collector, and a down
 * server must not hold the v1 lock: restored.
 */
export function originalOwnerServed(answer: OwnerAnswer, refUid: string, apiServiceAvailable: boolean): boolean {
  if (answer === "error") return true;
  if (answer === "not-found") return apiServiceAvailable;
  return answer.uid === refUid;
}

/**
 * Throws (the restore is retried) until every Calico owner in `refs` (references as the Calico API
 * server shows them) is served as originalOwnerServed requires. `subject` names the dependent.
 */
export async function assertOwnersServed(client: KubeClient, refs: readonly OwnerReference[], namespace: string | undefined, subject: string, apiServiceAvailable: boolean): Promise<void> {
  for (const r of refs) {
    const kind = isCalicoApiVersion(r.apiVersion) ? kindByName(r.kind) : undefined;
    if (!kind) continue;
    let answer: OwnerAnswer;
    try {
      answer = { uid: (await client.get(v3Resource(kind), r.name, kind.namespaced ? namespace : undefined)).metadata.uid };
    } catch (err) {
      answer = isNotFound(err) ? "not-found" : "error";
    }
    if (!originalOwnerServed(answer, r.uid, apiServiceAvailable)) {
      throw new Error(`restoring the owner references of ${subject} waits until the Calico API server serves ${r.kind} ${r.name} again ` +
        "(the garbage collector would find another owner or none, and delete it); retrying");
    }
  }
}

/**
 * The aggregated APIService as one restore sees it, read once: undefined when none is registered
 * (none was before the migration: there is no other server to wait for), else whether it is Available.
 */
export interface AggregatedApi {
  available: boolean;
}

/** Reads the aggregated APIService for a restore of owner references. */
export async function readAggregatedApi(client: KubeClient): Promise<AggregatedApi | undefined> {
  const svc = await getAggregatedApiService(client);
  return svc ? { available: isAvailable(svc) } : undefined;
}

/** On abort: puts every detached dependent's original owner references back exactly, once their owners are served again. */
export async function restoreForeignOwners(client: KubeClient, discovery: Discovery, migrationUid: string, aggregated: AggregatedApi | undefined): Promise<number> {
  const scan = await scanForeignDependents(client, discovery, { labelSelector: `${DETACHED_LABEL}=${migrationUid}` });
  for (const d of scan.dependents) {
    if (aggregated) await assertOwnersServed(client, d.ownerReferences, d.namespace, `${resourceName(d.resource)} ${d.namespace ? `${d.namespace}/` : ""}${d.name}`, aggregated.available);
    // From the object as it is now: our v3 references give way to the originals, anyone else's stay.
    await rewriteMetadata(client, d, (current) => {
      const refs = rebuildOwnerReferences(current.metadata.ownerReferences ?? [], d.ownerReferences, (o) => o);
      return { ownerReferences: refs.length ? refs : null, annotations: { [DETACHED_ANNOTATION]: null }, labels: { [DETACHED_LABEL]: null } };
    });
  }
  return scan.dependents.length;
}

/** Before an abort deletes v3 owners: every recorded dependent loses its Calico references again. */
export async function redetachForeignOwners(client: KubeClient, discovery: Discovery, migrationUid: string): Promise<number> {
  const scan = await scanForeignDependents(client, discovery, { labelSelector: `${DETACHED_LABEL}=${migrationUid}` });
  return detachForeignOwners(client, scan.dependents, migrationUid);
}

/** At Complete: the recorded originals are no longer needed. */
export async function forgetForeignOriginals(client: KubeClient, discovery: Discovery, migrationUid: string): Promise<number> {
  const scan = await scanForeignDependents(client, discovery, { labelSelector: `${DETACHED_LABEL}=${migrationUid}` });
  for (const d of scan.dependents) await patchMapKeys(client, d, { annotations: { [DETACHED_ANNOTATION]: null }, labels: { [DETACHED_LABEL]: null } });
  return scan.dependents.length;
}
