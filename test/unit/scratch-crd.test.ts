// The plan's scratch copies of the v3 CRDs must not claim the v3 short names or categories:
// while they exist, `kubectl get gnp` (or `kubectl get calico`) would otherwise be ambiguous.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SCRATCH_GROUP, scratchCrd } from "../../src/migration/validation.js";
import { loadShared, SHARED_FILES } from "../harness/shared-manifests.js";

type CrdSpec = { group: string; names: Record<string, unknown>; versions: unknown[] };

test("a scratch CRD keeps the real v3 CRD's names and schema but drops its short names and categories", () => {
  const real = loadShared(SHARED_FILES.v3Bundle).find((o) => o.kind === "CustomResourceDefinition" && o.metadata.name === "globalnetworkpolicies.projectcalico.org");
  assert.ok(real, "the v3 bundle has the GlobalNetworkPolicy CRD");
  const spec = real.spec as CrdSpec;
  assert.deepEqual(spec.names.shortNames, ["gnp", "cgnp"], "the fixture has short names to drop");
  // Calico's bundle has no categories today; a CRD that has them must not pass them on either.
  const withCategories = { ...real, spec: { ...spec, names: { ...spec.names, categories: ["calico"] } } };

  const copy = scratchCrd(withCategories);
  const copied = copy.spec as CrdSpec;
  assert.equal(copy.metadata.name, `globalnetworkpolicies.${SCRATCH_GROUP}`);
  assert.equal(copied.group, SCRATCH_GROUP);
  assert.deepEqual(copied.names, { kind: "GlobalNetworkPolicy", listKind: "GlobalNetworkPolicyList", plural: "globalnetworkpolicies", singular: "globalnetworkpolicy" });
  assert.deepEqual(copied.versions, spec.versions, "the schema is the real one");
  assert.deepEqual((real.spec as CrdSpec).names.shortNames, ["gnp", "cgnp"], "the installed CRD's object is not changed");
});
