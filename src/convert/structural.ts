/**
 * Schema-driven passes over JSON that mirror the API server's handling of a structural CRD schema
 * (pruning, null pruning, defaulting), plus the omit-empty pass that makes equal-meaning data equal.
 * Every pass returns new data and never mutates its input.
 */
import { keepsUnknownFields, mapValueSchema, propertySchema, type JsonSchema } from "./schema.js";

/** True for a JSON object (not null, not an array). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Deep copy of JSON data with object keys in sorted order (the canonical form diffs and equality rely on). */
export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) if (value[key] !== undefined) out[key] = canonical(value[key]);
    return out;
  }
  return value;
}

/**
 * Drops what the API server drops on decode: fields the schema does not declare (unless the node
 * preserves unknown fields or is a map) and null values of non-nullable fields without a
 * default. Array elements are never removed (a null element stays null).
 */
export function prune(value: unknown, schema: JsonSchema | undefined): unknown {
  if (Array.isArray(value)) return value.map((v) => prune(v, schema?.items));
  if (!isRecord(value)) return value;
  if (schema === undefined) return {};
  const preserve = keepsUnknownFields(schema);
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const child = propertySchema(schema, key) ?? mapValueSchema(schema);
    if (child === undefined) {
      if (preserve) out[key] = canonical(v);
      continue;
    }
    // A non-nullable null is dropped, unless a default will replace it (see applyDefaults).
    if (v === null && !child.nullable && child.default === undefined) continue;
    if (v === undefined) continue;
    out[key] = prune(v, child);
  }
  return out;
}

/**
 * Applies schema defaults the way the API server does: a default fills an absent property (or a
 * non-nullable null property, map value or array element) of an object that exists, recursively,
 * including inside objects that were themselves just defaulted. Absent parents are not created.
 */
export function applyDefaults(value: unknown, schema: JsonSchema | undefined): unknown {
  if (schema === undefined) return value;
  if (Array.isArray(value)) {
    const items = schema.items;
    return value.map((v) => {
      if (v === null && items && !items.nullable && items.default !== undefined) return applyDefaults(canonical(items.default), items);
      return applyDefaults(v, items);
    });
  }
  if (!isRecord(value)) return value;
  const out: Record<string, unknown> = { ...value };
  for (const [key, prop] of Object.entries(schema.properties ?? {})) {
    if (out[key] === undefined && prop.default !== undefined) out[key] = canonical(prop.default);
  }
  for (const key of Object.keys(out)) {
    const child = propertySchema(schema, key) ?? mapValueSchema(schema);
    if (child === undefined) continue;
    if (out[key] === null && !child.nullable && child.default !== undefined) out[key] = canonical(child.default);
    out[key] = applyDefaults(out[key], child);
  }
  return out;
}

/** True for the values omit-empty removes: undefined, null, "", [] and {}. Never false or 0. */
export function isEmptyValue(v: unknown): boolean {
  if (v === undefined || v === null || v === "") return true;
  if (Array.isArray(v)) return v.length === 0;
  return isRecord(v) && Object.keys(v).length === 0;
}

/**
 * Removes declared properties whose value is empty (see isEmptyValue), bottom-up, unless the
 * property has a schema default (the server always fills it, so it is always present) or is in
 * `keep` (top-level only). Map entries, array elements and preserved unknown fields are data and
 * are kept. The result is canonical (sorted keys).
 */
export function omitEmpty(value: unknown, schema: JsonSchema | undefined, keep: ReadonlySet<string> = new Set()): unknown {
  if (Array.isArray(value)) return value.map((v) => omitEmpty(v, schema?.items));
  if (!isRecord(value)) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const declared = schema ? propertySchema(schema, key) : undefined;
    if (declared === undefined) {
      const mapValue = schema ? mapValueSchema(schema) : undefined;
      if (value[key] !== undefined) out[key] = mapValue ? omitEmpty(value[key], mapValue) : canonical(value[key]);
      continue;
    }
    const v = omitEmpty(value[key], declared);
    if (v === undefined) continue;
    if (isEmptyValue(v) && declared.default === undefined && !keep.has(key)) continue;
    out[key] = v;
  }
  return out;
}
