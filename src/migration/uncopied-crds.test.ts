import { test } from "node:test";
import assert from "node:assert/strict";
import { backupCommand, describeUncopied, holdingObjects, uncopiedCrdsFinding, type UncopiedCrd } from "./uncopied-crds.js";

const crd = (plural: string, objects: number | null, namespaced = false, reason?: string): UncopiedCrd =>
  ({ name: `${plural}.crd.projectcalico.org`, kind: plural, plural, namespaced, objects, ...(reason ? { reason } : {}) });

test("only CRDs holding objects (or whose objects could not be counted) need a backup and the flag", () => {
  const empty = crd("remoteclusterconfigurations", 0);
  const keys = crd("licensekeys", 2);
  const hidden = crd("secrets", null, true, "cannot be listed: forbidden");
  assert.deepEqual(holdingObjects([empty, keys, hidden]), [keys, hidden]);
  assert.equal(uncopiedCrdsFinding([empty]), undefined);
  assert.equal(describeUncopied([keys, crd("one", 1), hidden]),
    "licensekeys.crd.projectcalico.org (2 objects), one.crd.projectcalico.org (1 object), secrets.crd.projectcalico.org (objects not counted: cannot be listed: forbidden)");
  assert.equal(backupCommand(hidden), "kubectl get secrets.crd.projectcalico.org --all-namespaces -o yaml > secrets.crd.projectcalico.org.yaml");
  const f = uncopiedCrdsFinding([empty, keys]);
  assert.equal(f?.severity, "warning");
  assert.equal(f?.code, "UncopiedV1Crds");
  assert.match(f?.message ?? "", /^1 crd\.projectcalico\.org CRD\(s\) hold objects the migration does not copy: licensekeys\.crd\.projectcalico\.org \(2 objects\)\. Finalize deletes/);
});
