import { test } from "node:test";
import assert from "node:assert/strict";
import type { KubeObject } from "../kube/object.js";
import { beyondStatus } from "./manager.js";

const cr = (rv: string, extra: Partial<KubeObject> = {}, metadata: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: "migration.projectcalico.org/v1", kind: "DatastoreMigration",
  metadata: { name: "v1-to-v3", resourceVersion: rv, managedFields: [{ manager: "x", time: rv }], ...metadata },
  spec: { type: "APIServerToCRDs" },
  ...extra,
});

test("a write of status only does not enqueue the CR again; a resync and any other change do", () => {
  assert.equal(beyondStatus(cr("1", { status: { phase: "Pending" } }), cr("2", { status: { phase: "Migrating", message: "x" } })), false);
  assert.equal(beyondStatus(cr("1"), cr("1")), true, "a resync");
  assert.equal(beyondStatus(cr("1"), cr("2", {}, { deletionTimestamp: "2026-01-01T00:00:00Z" })), true, "deletion");
  assert.equal(beyondStatus(cr("1"), cr("2", {}, { annotations: { "migration.projectcalico.org/remap-foreign-owner-references": "false" } })), true, "an annotation");
  assert.equal(beyondStatus(cr("1"), cr("2", {}, { finalizers: ["migration.projectcalico.org/v1-crd-cleanup"] })), true, "a finalizer");
  assert.equal(beyondStatus(cr("1"), cr("2", { spec: { type: "Other" } })), true, "the spec");
});
