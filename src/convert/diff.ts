/**
 * Field-level differences between two JSON values, reported at the deepest differing path in a
 * deterministic order (object keys sorted, array elements by index).
 */
import { canonical, isRecord } from "./structural.js";

/** One differing field: its path (e.g. `spec.ingress[0].action`) and the value on each side (undefined = absent). */
export interface FieldDiff {
  path: string;
  v1: unknown;
  v3: unknown;
}

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `parent.key`, or `parent["key"]` for keys that are not plain identifiers (e.g. label keys). */
export function childPath(parent: string, key: string): string {
  return PLAIN_KEY.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;
}

/** The differences between `v1` and `v3` as they are (no normalisation); empty when deeply equal. */
export function diffSpecs(v1: unknown, v3: unknown, root = "spec"): FieldDiff[] {
  const out: FieldDiff[] = [];
  walk(v1, v3, root, out);
  return out;
}

/** Deep equality of JSON values (object key order ignored, array order significant). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  return diffSpecs(a, b).length === 0;
}

function walk(a: unknown, b: unknown, path: string, out: FieldDiff[]): void {
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) walk(a[i], b[i], `${path}[${i}]`, out);
    return;
  }
  if (isRecord(a) && isRecord(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const key of keys) walk(a[key], b[key], childPath(path, key), out);
    return;
  }
  if (a === b) return;
  out.push({ path, v1: canonical(a), v3: canonical(b) });
}
