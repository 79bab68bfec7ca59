/**
 * Calico objects owned by Calico objects (a GlobalNetworkPolicy owned by its Tier). Their owner
 * references live in the v1 CR's `projectcalico.org/metadata` annotation, and the Calico API server
 * shows them to the garbage collector with the owner's v1-view uid. From the moment the pre-copy's
 * door opens until the migration completes or is rolled back, `projectcalico.org/v3` may answer
 * that lookup from CRD storage (another uid, or none): the collector remembers the owner as absent
 * and, once API-server mode is back, deletes the v1 object through the Calico API server (the crash
 * soak lost GlobalNetworkPolicy `security.owned-by-tier` so on 2026-12-06). So, like foreign
 * dependents (foreign-owners.ts), they are detached for that time: the Calico references leave the
 * annotation, which is kept as it was in `Names.detachedMetadata`
 * (src/convert/detached-metadata.ts), and the CR is labelled with the migration's uid. Conversion
 * reads a detached CR as it was, so copies and verification do not change. An abort puts the
 * references back once the owners are served by the Calico API server again; after Complete the
 * v1 CRs go with their CRDs.
 */
import { Names } from "../api/datastore-migration.js";
import { CALICO_KINDS, v1Resource, type CalicoKind } from "../calico/kinds.js";
import { calicoOwnersIn, reattachedMetadata, withoutCalicoOwners } from "../convert/detached-metadata.js";
import { convertOwnerReferences, METADATA_ANNOTATION } from "../convert/metadata.js";
import type { KubeClient } from "../kube/client.js";
import { isConflict, isForbidden, isNotFound } from "../kube/errors.js";
import type { KubeObject, OwnerReference } from "../kube/object.js";
import { assertOwnersServed, type AggregatedApi } from "./foreign-owners.js";

/** Kinds whose CRs carry the metadata annotation (libcalico's IPAM code writes IPAM objects without it). */
export const DETACHABLE_KINDS: readonly CalicoKind[] = CALICO_KINDS.filter((k) => !["ipamBlock", "ipamHandle", "blockAffinity", "ipamConfig"].includes(k.converter));

/** What one call did. */
export interface DependentsOutcome {
  changed: number;
  /** Kinds the controller may not patch: their dependents stay as they are (the caller says so). */
  forbidden: string[];
}

/** The new metadata of a CR to detach, or undefined when it has no Calico owner reference in its annotation. */
export function detachPatch(cr: KubeObject, migrationUid: string): { labels: Record<string, string>; annotations: Record<string, string> } | undefined {
  const current = cr.metadata.annotations?.[METADATA_ANNOTATION];
  if (current === undefined) return undefined;
  const stripped = withoutCalicoOwners(current);
  if (stripped === undefined) return undefined;
  // Detached before and given Calico references again since (through the Calico API server):
  // the record takes them in too.
  const before = cr.metadata.annotations?.[Names.detachedMetadata];
  const recorded = before === undefined ? current : reattachedMetadata(current, before);
  return { labels: { [Names.detachedBy]: migrationUid }, annotations: { [METADATA_ANNOTATION]: stripped, [Names.detachedMetadata]: recorded } };
}

/** A merge patch of `metadata` under the CR's resourceVersion, read again and retried after a 409; false when the CR is gone. */
async function patchFresh(client: KubeClient, kind: CalicoKind, cr: KubeObject, build: (cr: KubeObject) => Record<string, unknown> | undefined): Promise<boolean> {
  let current = cr;
  for (let attempt = 0; ; attempt++) {
    const metadata = build(current);
    if (!metadata) return false;
    try {
      await client.patch(v1Resource(kind), current.metadata.name ?? "", { metadata: { ...metadata, resourceVersion: current.metadata.resourceVersion } }, "merge", current.metadata.namespace);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      if (!isConflict(err) || attempt >= 5) throw err;
    }
    try {
      current = await client.get(v1Resource(kind), current.metadata.name ?? "", current.metadata.namespace);
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }
}

/** Detaches every v1 CR with a Calico owner reference in its metadata annotation (metadata-only lists). */
export async function detachCalicoDependents(client: KubeClient, migrationUid: string, signal?: AbortSignal): Promise<DependentsOutcome> {
  const out: DependentsOutcome = { changed: 0, forbidden: [] };
  for (const kind of DETACHABLE_KINDS) {
    try {
      for await (const cr of client.listItems(v1Resource(kind), { metadataOnly: true, limit: 500, signal })) {
        if (!detachPatch(cr, migrationUid)) continue;
        if (await patchFresh(client, kind, cr, (c) => detachPatch(c, migrationUid))) out.changed++;
      }
    } catch (err) {
      if (isNotFound(err)) continue; // a kind whose v1 CRD is not installed
      if (isForbidden(err)) {
        out.forbidden.push(kind.v1Plural);
        continue;
      }
      throw err;
    }
  }
  return out;
}

/** The recorded Calico owner references of a detached CR, as the Calico API server shows them. */
function recordedOwners(kind: CalicoKind, cr: KubeObject): OwnerReference[] {
  const calico = calicoOwnersIn(cr.metadata.annotations?.[Names.detachedMetadata] ?? "");
  try {
    return convertOwnerReferences(calico, { kind, namespace: cr.metadata.namespace, name: cr.metadata.name ?? "" }) ?? [];
  } catch {
    return []; // not a UUID: the collector cannot look it up either
  }
}

/** Whether any v1 CR carries this migration's detached-by label (a crash may have come between a detach and its record on the CR). */
export async function anyCalicoDetached(client: KubeClient, migrationUid: string): Promise<boolean> {
  for (const kind of DETACHABLE_KINDS) {
    try {
      const page = await client.list(v1Resource(kind), { metadataOnly: true, limit: 1, labelSelector: `${Names.detachedBy}=${migrationUid}` });
      if (page.items?.length) return true; // an empty metadata-only list may carry items: null
    } catch (err) {
      // Not installed, or not ours to read (the detach could not list it either).
      if (!isNotFound(err) && !isForbidden(err)) throw err;
    }
  }
  return false;
}

/** On abort: every CR this migration detached gets its Calico owner references back, once their owners are served again. */
export async function restoreCalicoDependents(client: KubeClient, migrationUid: string, aggregated: AggregatedApi | undefined): Promise<number> {
  let n = 0;
  for (const kind of DETACHABLE_KINDS) {
    let items: KubeObject[];
    try {
      items = await client.listAll(v1Resource(kind), { metadataOnly: true, labelSelector: `${Names.detachedBy}=${migrationUid}` });
    } catch (err) {
      if (isNotFound(err) || isForbidden(err)) continue; // not installed, or not listable (nor was it for the detach)
      throw err;
    }
    for (const cr of items) {
      if (aggregated) await assertOwnersServed(client, recordedOwners(kind, cr), cr.metadata.namespace, `${kind.kind} ${cr.metadata.namespace ? `${cr.metadata.namespace}/` : ""}${cr.metadata.name ?? ""}`, aggregated.available);
      const restored = await patchFresh(client, kind, cr, (c) => {
        const recorded = c.metadata.annotations?.[Names.detachedMetadata];
        if (recorded === undefined) return undefined;
        return {
          labels: { [Names.detachedBy]: null },
          annotations: { [METADATA_ANNOTATION]: reattachedMetadata(c.metadata.annotations?.[METADATA_ANNOTATION], recorded), [Names.detachedMetadata]: null },
        };
      });
      if (restored) n++;
    }
  }
  return n;
}
