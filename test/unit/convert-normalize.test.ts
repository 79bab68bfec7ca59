import { test } from "node:test";
import assert from "node:assert/strict";
import { CALICO_KINDS } from "../../src/calico/kinds.js";
import { convertV1ToV3 } from "../../src/convert/convert.js";
import { childPath } from "../../src/convert/diff.js";
import { normalizeSpec, pruneSpec, serverSpec, specDiff, specsEqual } from "../../src/convert/normalize.js";
import { MissingSchemaError, SchemaSet, specSchemaOf } from "../../src/convert/schema.js";
import { isRecord } from "../../src/convert/structural.js";
import { loadGoldenCases } from "../fixtures/golden/golden-cases.js";
import { loadShared, SHARED_FILES } from "../harness/shared-manifests.js";

const schemas = SchemaSet.fromCrds(loadShared(SHARED_FILES.v3Bundle));
const cases = loadGoldenCases();

function equal(kind: string, a: unknown, b: unknown): boolean {
  return specsEqual(kind, a, b, schemas.require(kind));
}

function diff(kind: string, a: unknown, b: unknown) {
  return specDiff(kind, a, b, schemas.require(kind));
}

/** Every scalar leaf (not null) of a JSON value with its path, in sorted-key order. */
function leaves(value: unknown, path = "spec"): { path: string; at: (string | number)[]; value: string | number | boolean }[] {
  const walk = (v: unknown, p: string, at: (string | number)[]): ReturnType<typeof leaves> => {
    if (Array.isArray(v)) return v.flatMap((x, i) => walk(x, `${p}[${i}]`, [...at, i]));
    if (isRecord(v)) return Object.keys(v).sort().flatMap((k) => walk(v[k], childPath(p, k), [...at, k]));
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return [{ path: p, at, value: v }];
    return [];
  };
  return walk(value, path, []);
}

function setAt(root: unknown, at: (string | number)[], value: unknown): void {
  let node = root as Record<string | number, unknown>;
  for (const key of at.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[at[at.length - 1]!] = value;
}

function changed(v: string | number | boolean): string | number | boolean {
  if (typeof v === "string") return `${v}-changed`;
  if (typeof v === "number") return v + 1;
  return !v;
}

test("the schema set holds every migrated kind (and ClusterInformation)", () => {
  for (const c of CALICO_KINDS) assert.ok(schemas.forKind(c.kind), c.kind);
  assert.ok(schemas.kinds().includes("ClusterInformation"));
  assert.equal(schemas.forKind("Profile"), undefined);
  assert.throws(() => schemas.require("Profile"), MissingSchemaError);
  assert.throws(() => specSchemaOf({ type: "object", properties: {} }), MissingSchemaError);
});

for (const c of cases) {
  test(`${c.file}: equal to itself after a server round trip; a changed leaf is the only difference`, () => {
    const kind = c.kind.kind;
    const schema = schemas.require(kind);
    const stored = serverSpec(kind, JSON.parse(JSON.stringify(c.expected.spec)), schema);
    assert.deepEqual(diff(kind, c.expected.spec, stored), []);
    const normal = normalizeSpec(kind, c.expected.spec, schema);
    assert.deepEqual(normalizeSpec(kind, normal, schema), normal, "normalisation is idempotent");
    assert.equal(JSON.stringify(normalizeSpec(kind, stored, schema)), JSON.stringify(normal), "normal form is canonical");
    const all = leaves(stored);
    assert.ok(all.length > 0);
    for (const leaf of all) {
      const mutated = structuredClone(stored);
      setAt(mutated, leaf.at, changed(leaf.value));
      assert.deepEqual(diff(kind, c.expected.spec, mutated), [{ path: leaf.path, v1: leaf.value, v3: changed(leaf.value) }], leaf.path);
    }
  });
}

test("absent, null and empty compare equal for optional fields without defaults", () => {
  const base = { node: "n1", interfaceName: "eth0" };
  assert.ok(equal("HostEndpoint", base, { ...base, expectedIPs: [], profiles: null, ports: [] }));
  const rule = { action: "Allow" };
  const gnp = { tier: "default", types: ["Ingress"], selector: "all()", ingress: [rule] };
  assert.ok(equal("GlobalNetworkPolicy", gnp, { ...gnp, namespaceSelector: "", ingress: [{ ...rule, source: {}, destination: { nets: [], selector: "" } }] }));
  assert.ok(equal("KubeControllersConfiguration", { controllers: {} }, { controllers: { node: { hostEndpoint: {} }, policy: {} } }));
  assert.ok(equal("GlobalNetworkSet", {}, { nets: null }));
  assert.ok(equal("GlobalNetworkSet", undefined, {}));
});

test("an empty object whose fields have defaults differs from an absent one (the server fills it)", () => {
  assert.deepEqual(diff("KubeControllersConfiguration", { controllers: {} }, { controllers: { loadBalancer: {} } }), [
    { path: "spec.controllers", v1: undefined, v3: { loadBalancer: { assignIPs: "AllServices" } } },
  ]);
});

test("unknown v1 fields are pruned (legacy IPPool ipip and nat-outgoing)", () => {
  const v3 = { cidr: "10.0.0.0/16", ipipMode: "Always", natOutgoing: true };
  const v1 = { ...v3, ipip: { enabled: true, mode: "always" }, "nat-outgoing": true };
  assert.ok(equal("IPPool", v1, v3));
  assert.deepEqual(pruneSpec(v1, schemas.require("IPPool")), v3);
  const rule = { action: "Allow", legacyField: 1 };
  assert.ok(equal("NetworkPolicy", { types: ["Ingress"], ingress: [rule] }, { types: ["Ingress"], ingress: [{ action: "Allow" }] }));
});

test("schema defaults: absent equals the default; other values differ", () => {
  assert.ok(equal("BGPConfiguration", {}, { logSeverityScreen: "Info", serviceLoadBalancerAggregation: "Enabled" }));
  assert.deepEqual(diff("BGPConfiguration", {}, { logSeverityScreen: "Debug" }), [{ path: "spec.logSeverityScreen", v1: "Info", v3: "Debug" }]);
  assert.ok(equal("IPPool", { cidr: "10.0.0.0/16" }, { cidr: "10.0.0.0/16", nodeSelector: "all()", assignmentMode: "Automatic" }));
  assert.ok(equal("BlockAffinity", { state: "confirmed", node: "n", cidr: "10.0.0.0/26" }, { state: "confirmed", node: "n", cidr: "10.0.0.0/26", deleted: false }));
  assert.ok(equal("Tier", {}, { defaultAction: "Deny" }));
  assert.deepEqual(diff("IPAMConfiguration", { autoAllocateBlocks: false, strictAffinity: false }, { strictAffinity: false }), [
    { path: "spec.autoAllocateBlocks", v1: false, v3: true },
  ]);
});

test("an explicit empty value of a defaulted field is kept (the server keeps it instead of defaulting)", () => {
  assert.deepEqual(diff("IPPool", { cidr: "10.0.0.0/16", nodeSelector: "" }, { cidr: "10.0.0.0/16" }), [
    { path: "spec.nodeSelector", v1: "", v3: "all()" },
  ]);
});

test("false and 0 are values, not absence, where no default applies", () => {
  assert.deepEqual(diff("FelixConfiguration", { ipv6Support: false }, {}), [{ path: "spec.ipv6Support", v1: false, v3: undefined }]);
  assert.deepEqual(diff("BGPPeer", { asNumber: 0 }, {}), [{ path: "spec.asNumber", v1: 0, v3: undefined }]);
  assert.ok(equal("IPAMBlock", { cidr: "10.0.0.0/30", sequenceNumber: 0 }, { cidr: "10.0.0.0/30" }), "sequenceNumber defaults to 0");
});

test("map entries with empty values and null array elements are data", () => {
  const selector = (matchLabels: Record<string, string>) => ({ policyTypes: ["Ingress"], podSelector: { matchLabels } });
  assert.deepEqual(diff("StagedKubernetesNetworkPolicy", selector({ "app.kubernetes.io/name": "", tier: "web" }), selector({ tier: "web" })), [
    { path: 'spec.podSelector.matchLabels["app.kubernetes.io/name"]', v1: "", v3: undefined },
  ]);
  assert.deepEqual(diff("IPAMBlock", { cidr: "10.0.0.0/30", allocations: [null, 1] }, { cidr: "10.0.0.0/30", allocations: [1] }), [
    { path: "spec.allocations[0]", v1: null, v3: 1 },
    { path: "spec.allocations[1]", v1: 1, v3: undefined },
  ]);
});

test("policy defaulting: a v1 policy without types or tier equals the v3 object the admission policies defaulted", () => {
  const rule = [{ action: "Allow" }];
  for (const kind of ["GlobalNetworkPolicy", "NetworkPolicy", "StagedGlobalNetworkPolicy", "StagedNetworkPolicy"]) {
    assert.ok(equal(kind, { ingress: rule, egress: rule }, { tier: "default", types: ["Ingress", "Egress"], ingress: rule, egress: rule }), kind);
    assert.ok(equal(kind, { egress: rule }, { tier: "default", types: ["Egress"], egress: rule }), kind);
    assert.ok(equal(kind, { selector: "all()" }, { tier: "default", types: ["Ingress"], selector: "all()" }), kind);
    assert.ok(equal(kind, { tier: "", ingress: rule }, { tier: "default", types: ["Ingress"], ingress: rule }), kind);
    assert.deepEqual(diff(kind, { egress: rule }, { tier: "default", types: ["Ingress", "Egress"], egress: rule }), [
      { path: "spec.types[0]", v1: "Egress", v3: "Ingress" },
      { path: "spec.types[1]", v1: undefined, v3: "Egress" },
    ]);
  }
  assert.ok(equal("StagedKubernetesNetworkPolicy", { egress: [{}] }, { policyTypes: ["Ingress", "Egress"], egress: [{}] }));
  assert.ok(equal("StagedKubernetesNetworkPolicy", {}, { policyTypes: ["Ingress"], stagedAction: "Set" }));
});

test("policy defaulting follows the CEL: an empty egress list counts as present; an explicit empty types list is kept", () => {
  assert.ok(equal("NetworkPolicy", { egress: [] }, { tier: "default", types: ["Egress"] }));
  assert.ok(!equal("NetworkPolicy", { egress: [] }, {}));
  assert.deepEqual(diff("NetworkPolicy", { types: [] }, {}), [{ path: "spec.types[0]", v1: undefined, v3: "Ingress" }]);
});

test("a converted legacy v1 policy equals the v3 object stored from it", () => {
  const legacy = cases.find((c) => c.file === "gnp-default-tier-no-name-in-annotation.yaml");
  assert.ok(legacy);
  const converted = convertV1ToV3(legacy.kind, legacy.input);
  const stored = { ...(converted.v3.spec as object), tier: "default", types: ["Egress"] };
  assert.ok(equal("GlobalNetworkPolicy", converted.v3.spec, stored));
});
