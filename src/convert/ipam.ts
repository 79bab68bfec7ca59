/**
 * The odd IPAM conversions: blocks and handles get fresh metadata derived from their spec (the
 * IPAM code never wrote v3 metadata for them), and block affinities turn `deleted` from a string
 * into a boolean.
 */
import { cloneJson } from "../kube/object.js";
import { ConversionError, editCommand, type ConversionSubject } from "./conversion-error.js";

/** The keys of an allocation attribute the v3 IPAMBlock schema knows; releasedAt is kept on purpose (the Go controller drops it). */
const ATTRIBUTE_KEYS = ["handle_id", "secondary", "alternateOwnerAttrs", "releasedAt"] as const;

/** A block's object name from its CIDR: `.`, `:` and `/` become `-` (10.0.0.0/26 → 10-0-0-0-26, fd00::/122 → fd00---122). */
export function cidrToName(cidr: string): string {
  return cidr.replace(/[.:/]/g, "-");
}

/** The v3 name and spec of an IPAMBlock; throws ConversionError when spec.cidr is missing. */
export function convertIpamBlock(spec: Record<string, unknown>, subject: ConversionSubject): { name: string; spec: Record<string, unknown> } {
  const cidr = spec.cidr;
  if (typeof cidr !== "string" || cidr === "") {
    throw new ConversionError(
      subject,
      "spec.cidr",
      "the IPAM block has no CIDR, so it has no v3 name",
      `restore spec.cidr (the CR name is the CIDR with ".", ":" and "/" replaced by "-"): ${editCommand(subject)}`,
    );
  }
  const out: Record<string, unknown> = { cidr };
  if (isPresent(spec.affinity)) out.affinity = spec.affinity;
  if (isPresent(spec.affinityClaimTime)) out.affinityClaimTime = spec.affinityClaimTime;
  // Allocations keep their null entries: the index of an entry is the address ordinal.
  out.allocations = Array.isArray(spec.allocations) ? cloneJson(spec.allocations) : [];
  out.unallocated = Array.isArray(spec.unallocated) ? cloneJson(spec.unallocated) : [];
  out.attributes = Array.isArray(spec.attributes) ? spec.attributes.map(convertAttribute) : [];
  out.sequenceNumber = typeof spec.sequenceNumber === "number" ? spec.sequenceNumber : 0;
  if (isPresent(spec.sequenceNumberForAllocation)) out.sequenceNumberForAllocation = cloneJson(spec.sequenceNumberForAllocation);
  out.deleted = spec.deleted === true;
  // Deprecated and unused, but required by the v3 schema.
  out.strictAffinity = false;
  return { name: cidrToName(cidr), spec: out };
}

function convertAttribute(attr: unknown): unknown {
  if (typeof attr !== "object" || attr === null || Array.isArray(attr)) return cloneJson(attr);
  const a = attr as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of ATTRIBUTE_KEYS) if (isPresent(a[key])) out[key] = cloneJson(a[key]);
  return out;
}

/**
 * The v3 name and spec of an IPAMHandle: the name is spec.handleID lower-cased (the v1 CR name
 * and the name the v3 IPAM code looks handles up by); spec.handleID keeps its case.
 */
export function convertIpamHandle(spec: Record<string, unknown>, subject: ConversionSubject): { name: string; spec: Record<string, unknown> } {
  const handleID = spec.handleID;
  if (typeof handleID !== "string" || handleID === "") {
    throw new ConversionError(
      subject,
      "spec.handleID",
      "the IPAM handle has no handleID, so it has no v3 name",
      `restore spec.handleID (the CR name is the handle ID lower-cased): ${editCommand(subject)}`,
    );
  }
  const block = isPresent(spec.block) ? cloneJson(spec.block) : {};
  return { name: handleID.toLowerCase(), spec: { handleID, block, deleted: spec.deleted === true } };
}

/** The v3 spec of a BlockAffinity: `deleted` "true"/"false" becomes a boolean; everything else is copied. */
export function convertBlockAffinitySpec(spec: Record<string, unknown>): Record<string, unknown> {
  return { ...cloneJson(spec), deleted: spec.deleted === "true" || spec.deleted === true };
}

function isPresent(v: unknown): boolean {
  return v !== undefined && v !== null;
}
