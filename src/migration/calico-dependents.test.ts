import { test } from "node:test";
import assert from "node:assert/strict";
import { Names } from "../api/datastore-migration.js";
import { kindByName, type CalicoKind } from "../calico/kinds.js";
import type { KubeObject } from "../kube/object.js";
import { detachPatch } from "./calico-dependents.js";
import { convertV1ToV3 } from "../convert/convert.js";
import { calicoOwnersIn, reattachedMetadata, withoutCalicoOwners } from "../convert/detached-metadata.js";

const TIER_REF = { apiVersion: "crd.projectcalico.org/v1", kind: "Tier", name: "security", uid: "0f1e2d3c-4b5a-4968-8776-655443322110" };
const NS_REF = { apiVersion: "v1", kind: "Namespace", name: "team-a", uid: "11111111-2222-4333-8444-555555555555" };
// As libcalico writes it (Go field order), not as JSON.stringify would.
const ORIGINAL = JSON.stringify({ name: "owned", creationTimestamp: "2026-01-01T00:00:00Z", labels: { app: "x" }, ownerReferences: [NS_REF, TIER_REF], annotations: { note: "n" } });

function gnp(annotations: Record<string, string>, labels?: Record<string, string>): KubeObject {
  return { apiVersion: "crd.projectcalico.org/v1", kind: "GlobalNetworkPolicy", metadata: { name: "security.owned", uid: "22222222-2222-4333-8444-555555555555", resourceVersion: "7", annotations, labels }, spec: { tier: "security", selector: "all()" } };
}

const GNP = kindByName("GlobalNetworkPolicy") as CalicoKind;

test("only Calico owner references leave the annotation; the rest keeps its order", () => {
  const stripped = withoutCalicoOwners(ORIGINAL);
  assert.deepEqual(JSON.parse(stripped ?? "{}"), { name: "owned", creationTimestamp: "2026-01-01T00:00:00Z", labels: { app: "x" }, ownerReferences: [NS_REF], annotations: { note: "n" } });
  assert.equal(withoutCalicoOwners(stripped ?? ""), undefined, "nothing left to take out");
  assert.equal(withoutCalicoOwners("not json"), undefined, "a malformed annotation is left to conversion to report");
  assert.equal(JSON.parse(withoutCalicoOwners(JSON.stringify({ ownerReferences: [TIER_REF] })) ?? "{}").ownerReferences, undefined, "no empty list left behind");
});

test("the plan names the Calico owners an annotation holds, and only those", () => {
  assert.deepEqual(calicoOwnersIn(ORIGINAL), [TIER_REF]);
  assert.deepEqual(calicoOwnersIn(withoutCalicoOwners(ORIGINAL) ?? ""), []);
  assert.deepEqual(calicoOwnersIn("not json"), []);
  assert.deepEqual(calicoOwnersIn(""), []);
});

test("read back untouched, the recorded annotation comes back byte for byte", () => {
  assert.equal(reattachedMetadata(withoutCalicoOwners(ORIGINAL), ORIGINAL), ORIGINAL);
});

test("written meanwhile through the Calico API server, the current annotation wins and the recorded Calico references are added", () => {
  const edited = JSON.stringify({ name: "owned", labels: { app: "y" }, ownerReferences: [NS_REF] });
  assert.deepEqual(JSON.parse(reattachedMetadata(edited, ORIGINAL)), { name: "owned", labels: { app: "y" }, ownerReferences: [TIER_REF, NS_REF] });
  const readded = JSON.stringify({ name: "owned", ownerReferences: [TIER_REF] });
  assert.equal(reattachedMetadata(readded, ORIGINAL), readded, "a reference present already is not doubled");
});

test("a detached CR converts exactly as it did before, without the migration's own marks", () => {
  const before = gnp({ "projectcalico.org/metadata": ORIGINAL });
  const patch = detachPatch(before, "mig-uid");
  assert.ok(patch);
  assert.equal(patch.labels[Names.detachedBy], "mig-uid");
  const after = gnp(patch.annotations, patch.labels);
  assert.deepEqual(convertV1ToV3(GNP, after), convertV1ToV3(GNP, before));
  assert.equal(detachPatch(after, "mig-uid"), undefined, "detached once");
});

test("Calico references given again after the detach are recorded too and leave the annotation", () => {
  const detached = detachPatch(gnp({ "projectcalico.org/metadata": ORIGINAL }), "mig-uid");
  assert.ok(detached);
  const secondOwner = { ...TIER_REF, name: "other", uid: "33333333-2222-4333-8444-555555555555" };
  const readded = JSON.stringify({ name: "owned", ownerReferences: [NS_REF, secondOwner] });
  const again = detachPatch(gnp({ ...detached.annotations, "projectcalico.org/metadata": readded }, detached.labels), "mig-uid");
  assert.ok(again);
  assert.deepEqual(JSON.parse(again.annotations["projectcalico.org/metadata"] ?? "{}").ownerReferences, [NS_REF]);
  assert.deepEqual(JSON.parse(again.annotations[Names.detachedMetadata] ?? "{}").ownerReferences, [TIER_REF, NS_REF, secondOwner]);
});

test("a CR without Calico owner references in its annotation is not touched", () => {
  assert.equal(detachPatch(gnp({ "projectcalico.org/metadata": JSON.stringify({ name: "x", ownerReferences: [NS_REF] }) }), "u"), undefined);
  assert.equal(detachPatch(gnp({}), "u"), undefined);
});
