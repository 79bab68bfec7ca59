import { test } from "node:test";
import assert from "node:assert/strict";
import { admissionGuardedFields, admitSpec, policyTypesField } from "./admission.js";

const RULE = [{ action: "Allow" }];
const TIERED = ["NetworkPolicy", "GlobalNetworkPolicy", "StagedNetworkPolicy", "StagedGlobalNetworkPolicy"];

for (const kind of TIERED) {
  test(`${kind}: tier defaulted when unset or empty, types derived from ingress/egress presence`, () => {
    assert.deepEqual(admitSpec(kind, {}), { tier: "default", types: ["Ingress"] });
    assert.deepEqual(admitSpec(kind, { tier: "" }), { tier: "default", types: ["Ingress"] });
    assert.deepEqual(admitSpec(kind, { tier: "sec", ingress: RULE }), { tier: "sec", ingress: RULE, types: ["Ingress"] });
    assert.deepEqual(admitSpec(kind, { egress: RULE }), { tier: "default", egress: RULE, types: ["Egress"] });
    assert.deepEqual(admitSpec(kind, { ingress: RULE, egress: RULE }), { tier: "default", ingress: RULE, egress: RULE, types: ["Ingress", "Egress"] });
  });
}

test("CEL has() is key presence: an empty list counts as present", () => {
  assert.deepEqual(admitSpec("GlobalNetworkPolicy", { egress: [] }), { tier: "default", egress: [], types: ["Egress"] });
  assert.deepEqual(admitSpec("GlobalNetworkPolicy", { ingress: [], egress: [] }), { tier: "default", ingress: [], egress: [], types: ["Ingress", "Egress"] });
});

test("existing types or policyTypes (even empty) stop the types mutation", () => {
  assert.deepEqual(admitSpec("NetworkPolicy", { tier: "default", types: [], egress: RULE }), { tier: "default", types: [], egress: RULE });
  assert.deepEqual(admitSpec("NetworkPolicy", { tier: "default", types: ["Egress"], ingress: RULE }), { tier: "default", types: ["Egress"], ingress: RULE });
  assert.deepEqual(admitSpec("NetworkPolicy", { tier: "default", policyTypes: ["Egress"] }), { tier: "default", policyTypes: ["Egress"] });
});

test("StagedKubernetesNetworkPolicy: policyTypes, egress-only gives Ingress+Egress, no tier", () => {
  const k = "StagedKubernetesNetworkPolicy";
  assert.deepEqual(admitSpec(k, {}), { policyTypes: ["Ingress"] });
  assert.deepEqual(admitSpec(k, { ingress: RULE }), { ingress: RULE, policyTypes: ["Ingress"] });
  assert.deepEqual(admitSpec(k, { egress: RULE }), { egress: RULE, policyTypes: ["Ingress", "Egress"] });
  assert.deepEqual(admitSpec(k, { ingress: RULE, egress: RULE }), { ingress: RULE, egress: RULE, policyTypes: ["Ingress", "Egress"] });
  assert.deepEqual(admitSpec(k, { policyTypes: ["Egress"] }), { policyTypes: ["Egress"] });
});

test("other kinds are not mutated; the input is not modified", () => {
  const spec = { nets: [] };
  assert.equal(admitSpec("GlobalNetworkSet", spec), spec);
  const policy = { egress: RULE };
  admitSpec("NetworkPolicy", policy);
  assert.deepEqual(policy, { egress: RULE });
  assert.equal(policyTypesField("Tier"), undefined);
  assert.equal(policyTypesField("StagedKubernetesNetworkPolicy"), "policyTypes");
  assert.deepEqual([...admissionGuardedFields("NetworkPolicy")], ["types", "policyTypes"]);
  assert.equal(admissionGuardedFields("IPPool").size, 0);
});
