/**
 * The uid mapping between a crd.projectcalico.org/v1 CR and the projectcalico.org/v3 object the
 * Calico API server presented for it: every byte's bits reversed except bytes 6 and 8 (UUID
 * version and variant). The mapping is its own inverse.
 */

/** Thrown for a uid that is not a UUID. */
export class InvalidUidError extends Error {
  override readonly name = "InvalidUidError";
}

const CANONICAL = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const COMPACT = /^[0-9a-f]{32}$/i;

function reverseBits(b: number): number {
  let out = 0;
  for (let i = 0; i < 8; i++) out |= ((b >> i) & 1) << (7 - i);
  return out;
}

/** Converts a v1 CR uid to its v3 uid, or back (the same function). Throws InvalidUidError. */
export function convertUid(uid: string): string {
  const hex = CANONICAL.test(uid) ? uid.replace(/-/g, "") : COMPACT.test(uid) ? uid : undefined;
  if (hex === undefined) throw new InvalidUidError(`invalid UUID "${uid}"`);
  const bytes: number[] = [];
  for (let i = 0; i < 16; i++) {
    const b = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
    bytes.push(i === 6 || i === 8 ? b : reverseBits(b));
  }
  const h = bytes.map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The converted uid, or undefined for a uid that is not a UUID (a v1 object with no v3-view uid). */
export function viewUidOf(uid: string | undefined): string | undefined {
  try {
    return convertUid(uid ?? "");
  } catch (err) {
    if (err instanceof InvalidUidError) return undefined;
    throw err;
  }
}
