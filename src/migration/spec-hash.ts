/**
 * A short digest of a normalised spec, so the set of existing v3 objects can be held for a whole
 * kind in little memory and compared without a GET per object.
 */
import { createHash } from "node:crypto";
import { normalizeSpec } from "../convert/normalize.js";
import type { JsonSchema } from "../convert/schema.js";

/** sha1 of the canonical JSON of the normalised spec. */
export function specHash(kind: string, spec: unknown, schema: JsonSchema): string {
  return createHash("sha1").update(JSON.stringify(normalizeSpec(kind, spec, schema))).digest("base64");
}
