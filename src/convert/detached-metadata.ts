/**
 * A v1 CR's metadata annotation with its Calico owner references taken out for a while, and read
 * back as if they were still in.
 *
 * The Calico API server shows a v1 CR's owner references (kept in the `projectcalico.org/metadata`
 * annotation) to the garbage collector with the owner's v1-view uid. While `projectcalico.org/v3`
 * switches between the Calico API server and CRD storage, a lookup of that owner can meet another
 * uid or none, and the collector remembers the owner as absent and later deletes what names it
 * (docs/architecture.md, "The garbage collector remembers absent owners"). So the migration takes
 * the Calico references out of the annotation and keeps the annotation as it was in
 * `Names.detachedMetadata`: the collector sees nothing to act on, and the copy and the restore
 * read the references from the record.
 *
 * Someone may write the object meanwhile (through the Calico API server, which rewrites the
 * annotation from what it showed, without the references). The current annotation then wins and
 * the recorded Calico references are added back to it: a change made meanwhile is kept.
 */
import { Names } from "../api/datastore-migration.js";
import { V1_GROUP, V1_VERSION, V3_GROUP, V3_VERSION } from "../calico/kinds.js";
import type { KubeObject, OwnerReference } from "../kube/object.js";

const CALICO_OWNER_API_VERSIONS: ReadonlySet<string> = new Set([`${V1_GROUP}/${V1_VERSION}`, `${V3_GROUP}/${V3_VERSION}`]);

/** True for an owner reference to a Calico object, in either form the annotation may hold. */
export function isCalicoOwnerReference(ref: { apiVersion?: unknown }): boolean {
  return typeof ref.apiVersion === "string" && CALICO_OWNER_API_VERSIONS.has(ref.apiVersion);
}

function parse(raw: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(raw);
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function refsOf(meta: Record<string, unknown>): OwnerReference[] {
  const refs = meta.ownerReferences;
  return Array.isArray(refs) ? refs.filter((r): r is OwnerReference => typeof r === "object" && r !== null && !Array.isArray(r)) : [];
}

/** The Calico owner references a metadata annotation holds (none for an annotation that is not a JSON object). */
export function calicoOwnersIn(raw: string): OwnerReference[] {
  const meta = parse(raw);
  return meta ? refsOf(meta).filter(isCalicoOwnerReference) : [];
}

/**
 * The annotation without its Calico owner references, or undefined when there is nothing to take
 * out (no such reference, or an annotation that is not a JSON object: conversion reports that).
 */
export function withoutCalicoOwners(raw: string): string | undefined {
  const meta = parse(raw);
  if (!meta) return undefined;
  const refs = refsOf(meta);
  if (!refs.some(isCalicoOwnerReference)) return undefined;
  const kept = refs.filter((r) => !isCalicoOwnerReference(r));
  const out = { ...meta };
  if (kept.length) out.ownerReferences = kept;
  else delete out.ownerReferences;
  return JSON.stringify(out);
}

/**
 * The annotation as it reads with the recorded Calico references back in: the recorded one itself
 * when nobody wrote the object since it was detached, else the current one with every recorded
 * Calico reference it lacks (by uid) added in front.
 */
export function reattachedMetadata(current: string | undefined, recorded: string): string {
  if (current === undefined || current === withoutCalicoOwners(recorded)) return recorded;
  const now = parse(current);
  const before = parse(recorded);
  if (!now || !before) return current;
  const refs = refsOf(now);
  const have = new Set(refs.map((r) => r.uid));
  const back = refsOf(before).filter((r) => isCalicoOwnerReference(r) && !have.has(r.uid));
  if (!back.length) return current;
  return JSON.stringify({ ...now, ownerReferences: [...back, ...refs] });
}

/**
 * The CR as it was before the migration detached it: the metadata annotation with the recorded
 * Calico references back in, without the migration's own annotation and label. Any other CR is
 * returned as it is.
 */
export function asRecorded(cr: KubeObject): KubeObject {
  const recorded = cr.metadata.annotations?.[Names.detachedMetadata];
  if (recorded === undefined) return cr;
  const annotations = { ...cr.metadata.annotations };
  delete annotations[Names.detachedMetadata];
  annotations[Names.calicoMetadata] = reattachedMetadata(annotations[Names.calicoMetadata], recorded);
  const labels = { ...cr.metadata.labels };
  delete labels[Names.detachedBy];
  const metadata = { ...cr.metadata, annotations };
  if (Object.keys(labels).length) metadata.labels = labels;
  else delete metadata.labels;
  return { ...cr, metadata };
}
