import { test } from "node:test";
import assert from "node:assert/strict";
import { CALICO_KINDS, kindByName, type CalicoKind } from "../calico/kinds.js";
import type { KubeObject, ObjectMeta } from "../kube/object.js";
import { convertV1ToV3, TIER_DEFAULTS } from "./convert.js";
import { ConversionError } from "./conversion-error.js";

const UID = "5190df99-1528-4dfe-9585-6ee9b4691183";
const V3_UID = "8a09fb99-a814-4d7f-95a1-76972d9688c1";

function kind(name: string): CalicoKind {
  const c = kindByName(name);
  if (!c) throw new Error(name);
  return c;
}

function cr(kindName: string, metadata: Partial<ObjectMeta> = {}, spec: unknown = {}, status?: unknown): KubeObject {
  const c = kind(kindName);
  const obj: KubeObject = { apiVersion: "crd.projectcalico.org/v1", kind: c.v1Kind, metadata: { name: "x", uid: UID, ...metadata }, spec };
  if (status !== undefined) obj.status = status;
  return obj;
}

test("the v3 uid is the converted CR uid; the source keeps the CR's name, namespace and uid", () => {
  const got = convertV1ToV3(kind("NetworkSet"), cr("NetworkSet", { name: "set", namespace: "ns1" }));
  assert.equal(got.v3.metadata.uid, V3_UID);
  assert.deepEqual(got.source, { name: "set", namespace: "ns1", uid: UID });
  assert.equal(got.v3.metadata.namespace, "ns1");
  assert.equal(got.v3.apiVersion, "projectcalico.org/v3");
  assert.equal(got.v3.kind, "NetworkSet");
});

test("cluster-scoped kinds carry no namespace", () => {
  const got = convertV1ToV3(kind("GlobalNetworkSet"), cr("GlobalNetworkSet", { namespace: "stray" }));
  assert.equal("namespace" in got.v3.metadata, false);
  assert.deepEqual(got.source, { name: "x", uid: UID });
});

for (const [label, uid] of [["a non-UUID uid", "abc-123"], ["a missing uid", undefined]] as const) {
  test(`${label} is a ConversionError on metadata.uid`, () => {
    const obj = cr("NetworkPolicy", { name: "p", namespace: "ns1", uid });
    assert.throws(
      () => convertV1ToV3(kind("NetworkPolicy"), obj),
      (err: unknown) => {
        assert.ok(err instanceof ConversionError);
        assert.equal(err.name, "ConversionError");
        assert.deepEqual([err.kind, err.namespace, err.objectName, err.field], ["NetworkPolicy", "ns1", "p", "metadata.uid"]);
        assert.match(err.message, /^cannot convert NetworkPolicy "ns1\/p" \(networkpolicies\.crd\.projectcalico\.org\): metadata\.uid: /);
        assert.match(err.message, /Fix: re-create the CR/);
        return true;
      },
    );
  });
}

test("status is never copied and the spec is copied as is on the generic path", () => {
  for (const c of CALICO_KINDS.filter((k) => k.converter === "generic")) {
    const spec = { some: { nested: [1, null, "x"] }, flag: false };
    const got = convertV1ToV3(c, cr(c.kind, {}, spec, { phase: "whatever" }));
    assert.equal("status" in got.v3, false, c.kind);
    assert.deepEqual(got.v3.spec, spec, c.kind);
  }
});

test("a CR without a spec converts to an empty spec", () => {
  const obj = cr("GlobalNetworkSet");
  delete obj.spec;
  assert.deepEqual(convertV1ToV3(kind("GlobalNetworkSet"), obj).v3.spec, {});
});

test("conversion does not modify the CR", () => {
  const obj = cr("GlobalNetworkPolicy", { name: "default.p", annotations: { "projectcalico.org/metadata": "{}" } }, { tier: "default", egress: [{ action: "Allow" }] });
  const copy = structuredClone(obj);
  const got = convertV1ToV3(kind("GlobalNetworkPolicy"), obj);
  (got.v3.spec as { egress: unknown[] }).egress.push("changed");
  assert.deepEqual(obj, copy);
});

test("Tier: an unset or null order becomes 1000000 and defaultAction Deny; set values are kept, 0 included", () => {
  const tier = kind("Tier");
  assert.deepEqual(convertV1ToV3(tier, cr("Tier", {}, {})).v3.spec, { order: 1_000_000, defaultAction: "Deny" });
  assert.deepEqual(convertV1ToV3(tier, cr("Tier", {}, { order: null, defaultAction: null })).v3.spec, TIER_DEFAULTS);
  assert.deepEqual(convertV1ToV3(tier, cr("Tier", {}, { order: 0, defaultAction: "Pass" })).v3.spec, { order: 0, defaultAction: "Pass" });
  assert.deepEqual(convertV1ToV3(tier, cr("Tier", {}, { order: 1000 })).v3.spec, { order: 1000, defaultAction: "Deny" });
});

test("IPAMConfig becomes kind IPAMConfiguration with its spec and metadata", () => {
  const got = convertV1ToV3(kind("IPAMConfiguration"), cr("IPAMConfiguration", { name: "default", labels: { a: "b" } }, { strictAffinity: true, autoAllocateBlocks: false }));
  assert.equal(got.v3.kind, "IPAMConfiguration");
  assert.deepEqual(got.v3.metadata, { name: "default", uid: V3_UID, labels: { a: "b" } });
  assert.deepEqual(got.v3.spec, { strictAffinity: true, autoAllocateBlocks: false });
});

test("BlockAffinity: deleted string becomes a boolean; name and labels kept", () => {
  const ba = kind("BlockAffinity");
  const labels = { "projectcalico.org/ip-version": "4" };
  const base = { state: "confirmed", node: "n1", cidr: "10.0.0.0/26" };
  for (const [deleted, want] of [["true", true], ["false", false], [undefined, false], [true, true], ["True", false]] as const) {
    const got = convertV1ToV3(ba, cr("BlockAffinity", { name: "n1-10-0-0-0-26", labels }, { ...base, deleted }));
    assert.deepEqual(got.v3.spec, { ...base, deleted: want }, String(deleted));
    assert.equal(got.v3.metadata.name, "n1-10-0-0-0-26");
    assert.deepEqual(got.v3.metadata.labels, labels);
  }
});

test("IPAMBlock and IPAMHandle get fresh metadata: the CR's labels, annotations and owner references are dropped", () => {
  const metadata = {
    labels: { a: "b" },
    annotations: { "projectcalico.org/metadata": JSON.stringify({ labels: { c: "d" } }) },
    ownerReferences: [{ apiVersion: "v1", kind: "Node", name: "n", uid: UID }],
  };
  const block = convertV1ToV3(kind("IPAMBlock"), cr("IPAMBlock", { name: "10-0-0-0-26", ...metadata }, { cidr: "10.0.0.0/26" }));
  assert.deepEqual(block.v3.metadata, { name: "10-0-0-0-26", uid: V3_UID });
  assert.equal(block.renamedFrom, undefined);
  const handle = convertV1ToV3(kind("IPAMHandle"), cr("IPAMHandle", { name: "h-abc", ...metadata }, { handleID: "h-ABC", block: {} }));
  assert.deepEqual(handle.v3.metadata, { name: "h-abc", uid: V3_UID });
});
