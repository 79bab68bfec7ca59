/**
 * The core RBAC (manifests/rbac) grants exactly what src/controller/permissions.ts says the
 * controller calls: no wildcard, nothing the table does not use, nothing it uses missing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { CONTROLLER_PERMISSIONS, type Permission } from "../../src/controller/permissions.js";
import { repoRoot } from "../harness/binaries.js";

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

function rulesOf(file: string, kind: "ClusterRole" | "Role"): Rule[] {
  const doc = YAML.parse(fs.readFileSync(path.join(repoRoot, "manifests/rbac", file), "utf8")) as { kind: string; rules: Rule[] };
  assert.equal(doc.kind, kind);
  return doc.rules;
}

/** One granted (or needed) call per string: scope, group, resource, verb, object name or "any". */
function expand(scope: Permission["scope"], groups: readonly string[], resources: readonly string[], verbs: readonly string[], names?: readonly string[]): string[] {
  return groups.flatMap((g) => resources.flatMap((r) => verbs.flatMap((v) => (names ?? ["any"]).map((n) => `${scope} ${g || "core"} ${r} ${v} ${n}`))));
}

const granted = [
  ...rulesOf("cluster-role.yaml", "ClusterRole").flatMap((r) => expand("cluster", r.apiGroups, r.resources, r.verbs, r.resourceNames)),
  ...rulesOf("role.yaml", "Role").flatMap((r) => expand("namespace", r.apiGroups, r.resources, r.verbs, r.resourceNames)),
];
const needed = CONTROLLER_PERMISSIONS.flatMap((p) => expand(p.scope, [p.group], p.resources, p.verbs, p.resourceNames));

test("the core ClusterRole and Role name no wildcard", () => {
  for (const rule of [...rulesOf("cluster-role.yaml", "ClusterRole"), ...rulesOf("role.yaml", "Role")]) {
    for (const value of [...rule.apiGroups, ...rule.resources, ...rule.verbs, ...(rule.resourceNames ?? [])]) {
      assert.ok(!value.includes("*"), `wildcard "${value}" in ${JSON.stringify(rule)}`);
    }
  }
});

test("every call the controller makes is granted by the core RBAC", () => {
  const missing = needed.filter((n) => !granted.includes(n));
  assert.deepEqual(missing, [], "calls in src/controller/permissions.ts that manifests/rbac does not grant");
});

test("every verb the core RBAC grants is one the controller uses", () => {
  const unused = granted.filter((g) => !needed.includes(g));
  assert.deepEqual(unused, [], "grants in manifests/rbac that src/controller/permissions.ts does not list as used");
});

test("nothing is granted twice", () => {
  assert.deepEqual(granted.filter((g, i) => granted.indexOf(g) !== i), []);
});
