import { test } from "node:test";
import assert from "node:assert/strict";
import { CALICO_KINDS } from "../../src/calico/kinds.js";
import { convertV1ToV3 } from "../../src/convert/convert.js";
import { loadGoldenCases } from "../fixtures/golden/golden-cases.js";

const cases = loadGoldenCases();

for (const c of cases) {
  test(`golden ${c.file}`, () => {
    const inputCopy = structuredClone(c.input);
    const got = convertV1ToV3(c.kind, c.input);
    assert.deepEqual(got.v3, c.expected);
    assert.equal(got.renamedFrom, c.renamedFrom);
    assert.equal(got.kind, c.kind);
    assert.deepEqual(got.source, {
      name: c.input.metadata.name,
      ...(c.kind.namespaced ? { namespace: c.input.metadata.namespace } : {}),
      uid: c.input.metadata.uid,
      ...(c.input.metadata.resourceVersion ? { resourceVersion: c.input.metadata.resourceVersion } : {}),
    });
    assert.deepEqual(c.input, inputCopy, "conversion must not modify its input");
  });
}

test("golden cases cover every migrated kind", () => {
  const covered = new Set(cases.map((c) => c.kind.kind));
  assert.deepEqual(CALICO_KINDS.filter((k) => !covered.has(k.kind)).map((k) => k.kind), []);
});

test("golden expected objects are v3 objects without server metadata", () => {
  for (const c of cases) {
    assert.equal(c.expected.apiVersion, "projectcalico.org/v3", c.file);
    assert.equal(c.expected.kind, c.kind.kind, c.file);
    for (const key of ["resourceVersion", "generation", "creationTimestamp", "managedFields"]) {
      assert.equal(key in c.expected.metadata, false, `${c.file}: metadata.${key}`);
    }
    assert.equal("status" in c.expected, false, c.file);
  }
});
