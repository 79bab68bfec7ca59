import { test } from "node:test";
import assert from "node:assert/strict";
import type { JsonSchema } from "./schema.js";
import { applyDefaults, canonical, isEmptyValue, omitEmpty, prune } from "./structural.js";

const schema: JsonSchema = {
  type: "object",
  properties: {
    name: { type: "string" },
    count: { type: "integer", default: 3 },
    flag: { type: "boolean" },
    labels: { type: "object", additionalProperties: { type: "string" } },
    free: { type: "object", "x-kubernetes-preserve-unknown-fields": true, properties: { known: { type: "object", properties: { a: { type: "string" } } } } },
    maybe: { type: "string", nullable: true },
    slots: { type: "array", items: { type: "integer", nullable: true } },
    modes: { type: "array", items: { type: "string", default: "auto" } },
    rules: { type: "array", items: { type: "object", properties: { action: { type: "string" }, level: { type: "string", default: "info" } } } },
    tuned: { type: "object", default: {}, properties: { depth: { type: "integer", default: 2 }, note: { type: "string" } } },
    nested: { type: "object", properties: { mode: { type: "string", default: "fast" }, extra: { type: "string" } } },
  },
};

test("prune drops undeclared fields and non-nullable nulls, keeps maps, preserved fields and array elements", () => {
  const got = prune(
    {
      name: "n",
      legacy: true,
      "nat-outgoing": true,
      flag: null,
      maybe: null,
      labels: { "a/b": "x", empty: "" },
      free: { anything: { deep: [1] }, known: { a: "x", b: "pruned" } },
      slots: [null, 1],
      rules: [{ action: "Allow", bogus: 1 }, null],
      nested: { mode: null, extra: "e", unknown: 1 },
    },
    schema,
  );
  assert.deepEqual(got, {
    name: "n",
    maybe: null,
    labels: { "a/b": "x", empty: "" },
    free: { anything: { deep: [1] }, known: { a: "x" } },
    slots: [null, 1],
    rules: [{ action: "Allow" }, null],
    nested: { mode: null, extra: "e" },
  });
});

test("a non-nullable null with a default survives pruning and is defaulted", () => {
  const withMap: JsonSchema = { type: "object", properties: { m: { type: "object", additionalProperties: { type: "string", default: "d" } } } };
  assert.deepEqual(applyDefaults(prune({ count: null, nested: { mode: null } }, schema), schema), { count: 3, tuned: { depth: 2 }, nested: { mode: "fast" } });
  assert.deepEqual(applyDefaults(prune({ m: { a: null, b: "x" } }, withMap), withMap), { m: { a: "d", b: "x" } });
});

test("prune empties an object where the schema expects a scalar, as the server does", () => {
  assert.deepEqual(prune({ name: { a: 1 } }, schema), { name: {} });
});

test("applyDefaults fills absent properties of present objects, creates defaulted objects, leaves absent parents alone", () => {
  const got = applyDefaults({ rules: [{ action: "Allow" }], modes: [null, "manual"] }, schema);
  assert.deepEqual(got, {
    count: 3,
    tuned: { depth: 2 },
    rules: [{ action: "Allow", level: "info" }],
    modes: ["auto", "manual"],
  });
  const withNested = applyDefaults({ nested: {}, count: 0, tuned: { depth: 5 } }, schema);
  assert.deepEqual(withNested, { count: 0, tuned: { depth: 5 }, nested: { mode: "fast" } });
});

test("isEmptyValue: null, undefined, empty string/list/object; never false or 0", () => {
  for (const v of [null, undefined, "", [], {}]) assert.equal(isEmptyValue(v), true, JSON.stringify(v));
  for (const v of [false, 0, " ", [null], { a: undefined }]) assert.equal(isEmptyValue(v), false, JSON.stringify(v));
});

test("omitEmpty drops empty declared properties bottom-up, keeps false/0, defaulted fields, map entries and elements", () => {
  const got = omitEmpty(
    {
      name: "",
      flag: false,
      count: 0,
      labels: { empty: "" },
      rules: [{}, { action: "" }],
      nested: { extra: "" },
      tuned: { note: "" },
      slots: [],
      maybe: null,
      free: { x: "" },
    },
    schema,
  );
  assert.deepEqual(got, { count: 0, flag: false, free: { x: "" }, labels: { empty: "" }, rules: [{}, {}], tuned: {} });
  assert.deepEqual(omitEmpty({ modes: [] }, schema, new Set(["modes"])), { modes: [] });
  assert.deepEqual(omitEmpty({ count: "" }, schema), { count: "" });
});

test("canonical sorts keys recursively and drops undefined", () => {
  const got = canonical({ b: 1, a: { d: [{ z: 1, y: 2 }], c: undefined } });
  assert.equal(JSON.stringify(got), '{"a":{"d":[{"y":2,"z":1}]},"b":1}');
});

test("the passes do not modify their input", () => {
  const input = { name: "n", legacy: 1, rules: [{ action: "" }], nested: {} };
  const copy = structuredClone(input);
  prune(input, schema);
  applyDefaults(input, schema);
  omitEmpty(input, schema);
  assert.deepEqual(input, copy);
});
