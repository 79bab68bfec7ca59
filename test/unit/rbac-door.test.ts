/**
 * The controller's one extra permission for the pre-copy door is `update` on exactly the v3 CRDs
 * of the migrated kinds: the ClusterRole's list must equal the kind table.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { CALICO_KINDS } from "../../src/calico/kinds.js";
import { v3CrdName } from "../../src/migration/precopy-door.js";
import { repoRoot } from "../harness/binaries.js";

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs?: string[];
}

test("the ClusterRole grants update on exactly the migrated kinds' v3 CRDs, by name", () => {
  const role = YAML.parse(fs.readFileSync(path.join(repoRoot, "manifests/rbac/cluster-role.yaml"), "utf8")) as { rules: Rule[] };
  const crdUpdates = role.rules.filter((r) => r.apiGroups?.includes("apiextensions.k8s.io") && r.verbs?.includes("update"));
  assert.equal(crdUpdates.length, 1, "one rule grants update on CRDs");
  assert.deepEqual([...(crdUpdates[0]?.resourceNames ?? [])].sort(), CALICO_KINDS.map(v3CrdName).sort());
  assert.deepEqual(crdUpdates[0]?.verbs, ["update"]);
});
