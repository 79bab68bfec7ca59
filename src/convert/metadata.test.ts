import { test } from "node:test";
import assert from "node:assert/strict";
import { kindByName, type CalicoKind } from "../calico/kinds.js";
import type { KubeObject, ObjectMeta } from "../kube/object.js";
import { convertV1ToV3 } from "./convert.js";
import { ConversionError } from "./conversion-error.js";
import { v3Name } from "./metadata.js";

const UID = "5190df99-1528-4dfe-9585-6ee9b4691183";
const META = "projectcalico.org/metadata";

function kind(name: string): CalicoKind {
  const c = kindByName(name);
  if (!c) throw new Error(name);
  return c;
}

function cr(kindName: string, metadata: Partial<ObjectMeta>, spec: unknown = {}): KubeObject {
  const c = kind(kindName);
  return { apiVersion: "crd.projectcalico.org/v1", kind: c.v1Kind, metadata: { uid: UID, ...metadata }, spec };
}

function meta(obj: Record<string, unknown>): Record<string, string> {
  return { [META]: JSON.stringify(obj) };
}

// kind, CR name, annotation (undefined: none), spec.tier, expected v3 name
const NAME_RULES: [string, string, Record<string, unknown> | undefined, string | undefined, string][] = [
  ["GlobalNetworkPolicy", "default.foo", { name: "foo" }, "default", "foo"],
  ["GlobalNetworkPolicy", "default.foo", { name: "bar" }, "default", "bar"],
  ["GlobalNetworkPolicy", "default.foo", {}, "default", "foo"],
  ["GlobalNetworkPolicy", "default.foo", {}, "", "foo"],
  ["GlobalNetworkPolicy", "default.foo", {}, undefined, "foo"],
  ["GlobalNetworkPolicy", "default.foo", { name: "" }, "default", "foo"],
  ["GlobalNetworkPolicy", "default.foo", undefined, "default", "default.foo"],
  ["GlobalNetworkPolicy", "default.default.foo", {}, "default", "default.foo"],
  ["GlobalNetworkPolicy", "foo", {}, "default", "foo"],
  ["GlobalNetworkPolicy", "security.foo", {}, "security", "security.foo"],
  ["GlobalNetworkPolicy", "security.foo", { name: "security.foo" }, "security", "security.foo"],
  ["GlobalNetworkPolicy", "default.foo", {}, "security", "default.foo"],
  ["NetworkPolicy", "default.foo", {}, "default", "foo"],
  ["NetworkPolicy", "default.foo", undefined, undefined, "default.foo"],
  ["StagedGlobalNetworkPolicy", "default.foo", {}, "default", "foo"],
  ["StagedNetworkPolicy", "default.foo", {}, undefined, "foo"],
  ["StagedNetworkPolicy", "ops.foo", {}, "ops", "ops.foo"],
  ["StagedKubernetesNetworkPolicy", "default.foo", {}, undefined, "default.foo"],
  ["GlobalNetworkSet", "default.foo", {}, undefined, "default.foo"],
  ["GlobalNetworkSet", "foo", { name: "bar" }, undefined, "bar"],
];

for (const [k, crName, annotation, tier, want] of NAME_RULES) {
  test(`name rule: ${k} ${crName} annotation=${JSON.stringify(annotation)} tier=${JSON.stringify(tier)} → ${want}`, () => {
    const c = kind(k);
    const spec = tier === undefined ? {} : { tier };
    const got = convertV1ToV3(c, cr(k, { name: crName, namespace: c.namespaced ? "ns1" : undefined, annotations: annotation && meta(annotation) }, spec));
    assert.equal(got.v3.metadata.name, want);
    assert.equal(got.renamedFrom, want === crName ? undefined : crName);
    assert.equal(got.source.name, crName);
    assert.equal(v3Name(k, crName, annotation, tier), want);
  });
}

test("labels: CR labels overlaid by the annotation's; annotations: CR's remaining overlaid by the annotation's", () => {
  const got = convertV1ToV3(
    kind("GlobalNetworkSet"),
    cr("GlobalNetworkSet", {
      name: "gns",
      labels: { a: "cr", b: "cr" },
      annotations: { x: "cr", y: "cr", ...meta({ labels: { b: "meta", c: "meta" }, annotations: { y: "meta", z: "meta" } }) },
    }),
  );
  assert.deepEqual(got.v3.metadata.labels, { a: "cr", b: "meta", c: "meta" });
  assert.deepEqual(got.v3.metadata.annotations, { x: "cr", y: "meta", z: "meta" });
});

test("the metadata annotation is removed; annotations and labels are absent when empty", () => {
  const got = convertV1ToV3(kind("GlobalNetworkSet"), cr("GlobalNetworkSet", { name: "gns", labels: {}, annotations: meta({ labels: {} }) }));
  assert.equal("annotations" in got.v3.metadata, false);
  assert.equal("labels" in got.v3.metadata, false);
});

test("server metadata is cleared; finalizers come only from the annotation", () => {
  const withMeta = convertV1ToV3(
    kind("HostEndpoint"),
    cr("HostEndpoint", {
      name: "hep",
      resourceVersion: "12",
      generation: 3,
      creationTimestamp: "2025-01-01T00:00:00Z",
      selfLink: "/apis/x",
      finalizers: ["v1.example.com/cr-level"],
      managedFields: [{ manager: "x" }],
      annotations: meta({ creationTimestamp: "2024-01-01T00:00:00Z", generation: 9, finalizers: ["example.com/keep"], deletionTimestamp: "2025-02-02T00:00:00Z" }),
    }),
  );
  assert.deepEqual(Object.keys(withMeta.v3.metadata).sort(), ["finalizers", "name", "uid"]);
  assert.deepEqual(withMeta.v3.metadata.finalizers, ["example.com/keep"]);
  const without = convertV1ToV3(kind("HostEndpoint"), cr("HostEndpoint", { name: "hep", finalizers: ["v1.example.com/cr-level"], resourceVersion: "1" }));
  assert.deepEqual(Object.keys(without.v3.metadata).sort(), ["name", "uid"]);
});

test("owner references: Calico ones (v1 or v3 apiVersion) become v3 with the converted uid; others unchanged", () => {
  const refs = [
    { apiVersion: "crd.projectcalico.org/v1", kind: "Tier", name: "t", uid: "00000000-0000-4000-8000-000000000001", controller: true },
    { apiVersion: "projectcalico.org/v3", kind: "Tier", name: "u", uid: "5190df99-1528-4dfe-9585-6ee9b4691183" },
    { apiVersion: "v1", kind: "Namespace", name: "ns1", uid: "00000000-0000-4000-8000-000000000001" },
    { apiVersion: "crd.projectcalico.org/v2", kind: "Odd", name: "o", uid: "not-checked" },
  ];
  const got = convertV1ToV3(kind("NetworkPolicy"), cr("NetworkPolicy", { name: "p", namespace: "ns1", annotations: meta({ ownerReferences: refs }) }));
  assert.deepEqual(got.v3.metadata.ownerReferences, [
    { apiVersion: "projectcalico.org/v3", kind: "Tier", name: "t", uid: "00000000-0000-4000-8000-000000000080", controller: true },
    { apiVersion: "projectcalico.org/v3", kind: "Tier", name: "u", uid: "8a09fb99-a814-4d7f-95a1-76972d9688c1" },
    refs[2],
    refs[3],
  ]);
});

test("owner references on a CR without the annotation are converted the same way", () => {
  const got = convertV1ToV3(
    kind("NetworkSet"),
    cr("NetworkSet", {
      name: "ns-set",
      namespace: "ns1",
      ownerReferences: [{ apiVersion: "crd.projectcalico.org/v1", kind: "GlobalNetworkSet", name: "g", uid: "00000000-0000-4000-8000-000000000001" }],
    }),
  );
  assert.deepEqual(got.v3.metadata.ownerReferences, [
    { apiVersion: "projectcalico.org/v3", kind: "GlobalNetworkSet", name: "g", uid: "00000000-0000-4000-8000-000000000080" },
  ]);
});

test("a Calico owner reference with a non-UUID uid is a ConversionError naming the reference", () => {
  const refs = [
    { apiVersion: "v1", kind: "Namespace", name: "ns1", uid: "00000000-0000-4000-8000-000000000001" },
    { apiVersion: "crd.projectcalico.org/v1", kind: "Tier", name: "t", uid: "tier-uid" },
  ];
  assert.throws(
    () => convertV1ToV3(kind("NetworkPolicy"), cr("NetworkPolicy", { name: "p", namespace: "ns1", annotations: meta({ ownerReferences: refs }) })),
    (err: unknown) => {
      assert.ok(err instanceof ConversionError);
      assert.equal(err.name, "ConversionError");
      assert.equal(err.kind, "NetworkPolicy");
      assert.equal(err.namespace, "ns1");
      assert.equal(err.objectName, "p");
      assert.equal(err.field, "metadata.ownerReferences[1].uid");
      assert.match(err.message, /NetworkPolicy "ns1\/p"/);
      assert.match(err.message, /"tier-uid"/);
      assert.match(err.message, /kubectl edit networkpolicies\.crd\.projectcalico\.org p -n ns1/);
      return true;
    },
  );
});

for (const [label, raw, problem] of [
  ["invalid JSON", "{not json", /not valid JSON/],
  ["a JSON array", "[]", /not a JSON object/],
  ["JSON null", "null", /not a JSON object/],
  ["labels that are not strings", JSON.stringify({ labels: { a: 1 } }), /labels is not a map of strings/],
  ["annotations that are a list", JSON.stringify({ annotations: ["a"] }), /annotations is not a map of strings/],
  ["a name that is not a string", JSON.stringify({ name: 5 }), /name is not a string/],
  ["ownerReferences that are not a list", JSON.stringify({ ownerReferences: {} }), /ownerReferences is not a list/],
  ["an owner reference uid that is not a string", JSON.stringify({ ownerReferences: [{ apiVersion: "v1", uid: 5 }] }), /ownerReferences\[0\]\.uid is not a string/],
  ["finalizers that are not strings", JSON.stringify({ finalizers: [1] }), /finalizers is not a list of strings/],
] as const) {
  test(`a metadata annotation with ${label} is a ConversionError on the annotation`, () => {
    assert.throws(
      () => convertV1ToV3(kind("GlobalNetworkPolicy"), cr("GlobalNetworkPolicy", { name: "default.p", annotations: { [META]: raw } })),
      (err: unknown) => {
        assert.ok(err instanceof ConversionError);
        assert.equal(err.field, "metadata.annotations[projectcalico.org/metadata]");
        assert.equal(err.kind, "GlobalNetworkPolicy");
        assert.equal(err.namespace, undefined);
        assert.equal(err.objectName, "default.p");
        assert.match(err.message, problem);
        assert.match(err.message, /GlobalNetworkPolicy "default\.p" \(globalnetworkpolicies\.crd\.projectcalico\.org\)/);
        assert.match(err.message, /Fix: .*kubectl edit globalnetworkpolicies\.crd\.projectcalico\.org default\.p$/);
        return true;
      },
    );
  });
}
