import { test } from "node:test";
import assert from "node:assert/strict";
import { Names } from "../api/datastore-migration.js";
import type { KubeObject } from "../kube/object.js";
import { eventId, KindMetadata } from "./kind-metadata.js";

const UID = "uid-of-migration";
const MANAGER = "calico-datastore-migration";

function v3(name: string, opts: { ns?: string; by?: string; sourceRv?: string; sourceName?: string; manager?: string; rv?: string } = {}): KubeObject {
  const annotations: Record<string, string> = {};
  if (opts.by) annotations[Names.migratedBy] = opts.by;
  if (opts.sourceRv) annotations[Names.sourceResourceVersion] = opts.sourceRv;
  if (opts.sourceName) annotations[Names.sourceName] = opts.sourceName;
  return {
    apiVersion: "projectcalico.org/v3",
    kind: "NetworkPolicy",
    metadata: { name, namespace: opts.ns, uid: `u-${name}`, resourceVersion: opts.rv ?? "1", annotations, managedFields: [{ manager: opts.manager ?? MANAGER, fieldsV1: { "f:spec": {} } }] },
  };
}

function v1(name: string, rv: string, ns?: string): KubeObject {
  return { apiVersion: "crd.projectcalico.org/v1", kind: "NetworkPolicy", metadata: { name, namespace: ns, uid: `v1-${name}`, resourceVersion: rv } };
}

test("a copy of ours is found by the v1 key it was made from, renamed or not", () => {
  const m = new KindMetadata(UID, MANAGER);
  m.setV3(v3("a", { ns: "ns1", by: UID, sourceRv: "5" }));
  m.setV3(v3("b", { ns: "ns1", by: UID, sourceRv: "6", sourceName: "default.b" }));
  m.setV3(v3("users", { ns: "ns1" }));
  m.setV3(v3("other-migration", { ns: "ns1", by: "someone-else", sourceRv: "7" }));
  assert.deepEqual([...m.copies.keys()].sort(), ["ns1/a", "ns1/default.b"]);
  assert.equal(m.v3.size, 4);
  assert.equal(m.copies.get("ns1/a")?.migratedBy, UID);
  assert.equal(m.copies.get("ns1/a")?.untouched, true);
});

test("an edit by another field manager leaves the copy known but not untouched", () => {
  const m = new KindMetadata(UID, MANAGER);
  m.applyV3({ type: "ADDED", object: v3("a", { by: UID, sourceRv: "5" }) });
  m.applyV3({ type: "MODIFIED", object: v3("a", { by: UID, sourceRv: "5", manager: "kubectl-edit", rv: "9" }) });
  assert.equal(m.copies.get("a")?.untouched, false);
  assert.equal(m.v3.size, 1);
});

test("replayed events bring both sides up to date: created, changed, deleted, re-created", () => {
  const m = new KindMetadata(UID, MANAGER);
  m.setV1(v1("keep", "1", "ns"), true);
  m.setV1(v1("gone", "2", "ns"), true);
  m.setV3(v3("gone", { ns: "ns", by: UID, sourceRv: "2" }));
  m.applyV1({ type: "MODIFIED", object: v1("keep", "10", "ns") }, true);
  m.applyV1({ type: "DELETED", object: v1("gone", "11", "ns") }, true);
  m.applyV1({ type: "ADDED", object: v1("new", "12", "ns") }, true);
  m.applyV3({ type: "DELETED", object: v3("gone", { ns: "ns", by: UID, sourceRv: "2" }) });
  m.applyV1({ type: "ADDED", object: v1("gone", "13", "ns") }, true);
  assert.deepEqual([...m.v1.entries()].map(([k, v]) => `${k}@${v.rv}`).sort(), ["ns/gone@13", "ns/keep@10", "ns/new@12"]);
  assert.equal(m.v3.size, 0);
  assert.equal(m.copies.size, 0, "a removed copy is forgotten under its source key too");
  m.applyV3({ type: "BOOKMARK", object: v3("x") });
  assert.equal(m.v3.size, 0, "a bookmark changes nothing");
});

test("a cluster-scoped kind keys v1 objects by name alone", () => {
  const m = new KindMetadata(UID, MANAGER);
  m.setV1(v1("global", "3", "ignored"), false);
  assert.deepEqual([...m.v1.keys()], ["global"]);
});

test("a copy renamed onto another source key drops its old source entry", () => {
  const m = new KindMetadata(UID, MANAGER);
  m.setV3(v3("b", { by: UID, sourceRv: "1", sourceName: "default.b" }));
  m.setV3(v3("b", { by: UID, sourceRv: "2" }));
  assert.deepEqual([...m.copies.keys()], ["b"]);
});

test("an event is identified by its key and resourceVersion", () => {
  assert.equal(eventId(v1("p", "42", "ns")), "ns/p@42");
  assert.equal(eventId(v1("p", "42")), "p@42");
});
