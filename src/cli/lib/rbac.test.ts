import { test } from "node:test";
import assert from "node:assert/strict";
import { foreignOwnerRbac } from "./rbac.js";

const res = (group: string, plural: string) => ({ resource: { group, version: "v1", plural, namespaced: true, kind: "X" } });

test("the emitted role grants get, list, patch on exactly the dependents' resources, grouped by API group", () => {
  const [role, binding] = foreignOwnerRbac([res("", "configmaps"), res("", "secrets"), res("", "configmaps"), res("example.com", "widgets")]);
  assert.deepEqual(role?.rules, [
    { apiGroups: [""], resources: ["configmaps", "secrets"], verbs: ["get", "list", "patch"] },
    { apiGroups: ["example.com"], resources: ["widgets"], verbs: ["get", "list", "patch"] },
  ]);
  assert.deepEqual(binding?.subjects, [{ kind: "ServiceAccount", namespace: "calico-datastore-migration", name: "calico-datastore-migration" }]);
  assert.equal((binding?.roleRef as { name: string }).name, role?.metadata.name);
});
