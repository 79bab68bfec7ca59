import { test } from "node:test";
import assert from "node:assert/strict";
import { kindByName, type CalicoKind } from "../calico/kinds.js";
import { ConversionError, type ConversionSubject } from "./conversion-error.js";
import { cidrToName, convertBlockAffinitySpec, convertIpamBlock, convertIpamHandle } from "./ipam.js";

function subject(kind: string, name = "x"): ConversionSubject {
  const c: CalicoKind | undefined = kindByName(kind);
  if (!c) throw new Error(kind);
  return { kind: c, name };
}

test("cidrToName replaces dots, colons and the slash", () => {
  assert.equal(cidrToName("10.0.0.0/26"), "10-0-0-0-26");
  assert.equal(cidrToName("fd00::/122"), "fd00---122");
  assert.equal(cidrToName("2001:db8:1:2:3:4:5:0/122"), "2001-db8-1-2-3-4-5-0-122");
  assert.equal(cidrToName("fd00:10:244:1::/126"), "fd00-10-244-1---126");
});

test("IPAMBlock spec: known fields copied, null allocations and releasedAt kept, strictAffinity false", () => {
  const got = convertIpamBlock(
    {
      cidr: "10.0.0.0/30",
      affinity: "host:n1",
      affinityClaimTime: "2025-01-01T00:00:00Z",
      allocations: [0, null, 1, null],
      unallocated: [1, 3],
      attributes: [
        { handle_id: "h1", secondary: { node: "n1" }, unknownKey: "dropped" },
        { handle_id: "h2", alternateOwnerAttrs: { pod: "p2" }, releasedAt: "2025-02-02T00:00:00Z", secondary: null },
      ],
      sequenceNumber: 4,
      sequenceNumberForAllocation: { "0": 1, "2": 3 },
      deleted: false,
      strictAffinity: true,
      legacyField: "dropped",
    },
    subject("IPAMBlock"),
  );
  assert.equal(got.name, "10-0-0-0-30");
  assert.deepEqual(got.spec, {
    cidr: "10.0.0.0/30",
    affinity: "host:n1",
    affinityClaimTime: "2025-01-01T00:00:00Z",
    allocations: [0, null, 1, null],
    unallocated: [1, 3],
    attributes: [
      { handle_id: "h1", secondary: { node: "n1" } },
      { handle_id: "h2", alternateOwnerAttrs: { pod: "p2" }, releasedAt: "2025-02-02T00:00:00Z" },
    ],
    sequenceNumber: 4,
    sequenceNumberForAllocation: { "0": 1, "2": 3 },
    deleted: false,
    strictAffinity: false,
  });
});

test("IPAMBlock spec: absent lists become empty, absent sequenceNumber 0, absent deleted false, no affinity", () => {
  const got = convertIpamBlock({ cidr: "fd00::/122", affinity: null }, subject("IPAMBlock"));
  assert.deepEqual(got, {
    name: "fd00---122",
    spec: { cidr: "fd00::/122", allocations: [], unallocated: [], attributes: [], sequenceNumber: 0, deleted: false, strictAffinity: false },
  });
});

test("an IPAMBlock without a CIDR is a ConversionError on spec.cidr", () => {
  assert.throws(() => convertIpamBlock({ allocations: [] }, subject("IPAMBlock", "10-0-0-0-26")), (err: unknown) => {
    assert.ok(err instanceof ConversionError);
    assert.equal(err.field, "spec.cidr");
    assert.equal(err.kind, "IPAMBlock");
    assert.equal(err.objectName, "10-0-0-0-26");
    assert.match(err.message, /kubectl edit ipamblocks\.crd\.projectcalico\.org 10-0-0-0-26/);
    return true;
  });
});

test("IPAMHandle: name is the handleID lower-cased, the handleID keeps its case", () => {
  assert.deepEqual(convertIpamHandle({ handleID: "vxlan-tunnel-addr-WIN-7QK2M1", block: { "10.0.0.0/26": 1 } }, subject("IPAMHandle")), {
    name: "vxlan-tunnel-addr-win-7qk2m1",
    spec: { handleID: "vxlan-tunnel-addr-WIN-7QK2M1", block: { "10.0.0.0/26": 1 }, deleted: false },
  });
  assert.deepEqual(convertIpamHandle({ handleID: "h", deleted: true }, subject("IPAMHandle")).spec, { handleID: "h", block: {}, deleted: true });
});

test("an IPAMHandle without a handleID is a ConversionError on spec.handleID", () => {
  assert.throws(() => convertIpamHandle({ block: {} }, subject("IPAMHandle", "h1")), (err: unknown) => {
    assert.ok(err instanceof ConversionError);
    assert.equal(err.field, "spec.handleID");
    assert.equal(err.objectName, "h1");
    return true;
  });
});

test("BlockAffinity spec: only deleted changes", () => {
  assert.deepEqual(convertBlockAffinitySpec({ state: "pending", node: "n", cidr: "c", type: "", deleted: "true" }), {
    state: "pending",
    node: "n",
    cidr: "c",
    type: "",
    deleted: true,
  });
});
