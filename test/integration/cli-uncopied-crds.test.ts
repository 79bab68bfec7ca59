/**
 * A crd.projectcalico.org CRD the migration does not copy (here a legacy `LicenseKey` kind with
 * two objects): `plan` lists it with its object count, and `finalize` — whose cleanup deletes
 * every CRD of the group — names it and its count and refuses without --delete-uncopied-crds,
 * deleting nothing; with the flag it goes ahead.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { migrationResource } from "../../src/api/datastore-migration.js";
import { runCli } from "../../src/cli/program.js";
import { parseNext } from "../../src/cli/render/output.js";
import { V1_GROUP } from "../../src/calico/kinds.js";
import { isNotFound } from "../../src/kube/errors.js";
import type { ResourceRef } from "../../src/kube/resource.js";
import type { PlanReport } from "../../src/migration/planner.js";
import { CRDS } from "../../src/migration/prerequisites.js";
import { resetApiServerMode } from "../harness/api-server-mode.js";
import { waitEstablished } from "../harness/apply.js";
import { captureIo, type CapturedIo } from "../harness/cli.js";
import { CORE_ROLE_OPT_OUT, installControllerManifests, startController, type RunningController } from "../harness/controller.js";
import { createMigration, switchAllComponents, waitPhase } from "../harness/migration-cr.js";
import { sharedCluster, type TestCluster } from "../harness/shared-cluster.js";
import { writeV1 } from "../harness/v1-writer.js";

const CRD_NAME = `licensekeys.${V1_GROUP}`;
const LICENSE_KEYS: ResourceRef = { group: V1_GROUP, version: "v1", plural: "licensekeys", namespaced: false, kind: "LicenseKey" };

describe("v1 CRDs the migration does not copy", () => {
  let cluster: TestCluster;
  let controller: RunningController | undefined;
  const cli = async (...argv: string[]): Promise<{ code: number; io: CapturedIo }> => {
    const io = captureIo();
    const code = await runCli([...argv, "--kubeconfig", cluster.kubeconfigPath], io);
    return { code, io };
  };

  before(async () => {
    cluster = await sharedCluster();
    await resetApiServerMode(cluster.admin);
    await installControllerManifests(cluster.admin);
    await cluster.admin.create(CRDS, {
      apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition", metadata: { name: CRD_NAME },
      spec: {
        group: V1_GROUP, scope: "Cluster", names: { plural: "licensekeys", singular: "licensekey", kind: "LicenseKey", listKind: "LicenseKeyList" },
        versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } } }],
      },
    });
    await waitEstablished(cluster.admin, [CRD_NAME]);
    for (const name of ["default", "spare"]) {
      await cluster.admin.create(LICENSE_KEYS, { apiVersion: `${V1_GROUP}/v1`, kind: "LicenseKey", metadata: { name }, spec: { token: `t-${name}` } });
    }
    await writeV1(cluster.admin, { kind: "Tier", metadata: { name: "default" }, spec: { order: 1_000_000, defaultAction: "Deny" } });
  });

  after(async () => {
    await controller?.stop();
    await cluster.admin.delete(CRDS, CRD_NAME).catch(() => undefined);
  });

  test("plan lists the CRD with its object count, as a section and as a warning naming the backup", async () => {
    const json = await cli("plan", "-o", "json");
    assert.equal(json.code, 0, json.io.err());
    const report = JSON.parse(json.io.out()) as PlanReport;
    assert.deepEqual(report.uncopiedV1Crds, [{ name: CRD_NAME, kind: "LicenseKey", plural: "licensekeys", namespaced: false, objects: 2 }]);
    const warning = report.warnings.find((w) => w.code === "UncopiedV1Crds");
    assert.ok(warning, JSON.stringify(report.warnings));
    assert.match(warning.message, /licensekeys\.crd\.projectcalico\.org \(2 objects\)/);
    assert.match(warning.fix, /kubectl get licensekeys\.crd\.projectcalico\.org -o yaml > licensekeys\.crd\.projectcalico\.org\.yaml/);

    const table = await cli("plan", "--no-validate");
    assert.equal(table.code, 0, table.io.err());
    assert.match(table.io.out(), /v1 CRDs not migrated: 1\n.*finalize deletes every CRD of the group.*\n +CRD +OBJECTS\n +licensekeys\.crd\.projectcalico\.org +2\n/);
  });

  test("finalize names the CRD and its count and refuses without --delete-uncopied-crds; with it the cleanup goes ahead", async () => {
    controller = await startController(cluster);
    await createMigration(cluster.admin, { annotations: CORE_ROLE_OPT_OUT });
    await waitPhase(cluster.admin, "Converged");
    await switchAllComponents(cluster.admin);
    await waitPhase(cluster.admin, "Complete");

    const refused = await cli("finalize", "--yes");
    assert.equal(refused.code, 1, refused.io.err());
    assert.match(refused.io.out(), /1 crd\.projectcalico\.org CRD\(s\) were not migrated .*: licensekeys\.crd\.projectcalico\.org \(2 objects\)/);
    assert.match(refused.io.err(), /^error: refusing to finalize: licensekeys\.crd\.projectcalico\.org \(2 objects\) holds objects that exist nowhere else.*Nothing was deleted/);
    assert.deepEqual(parseNext(refused.io.err()), [
      "kubectl get licensekeys.crd.projectcalico.org -o yaml > licensekeys.crd.projectcalico.org.yaml",
      "calico-migrate finalize --delete-uncopied-crds",
    ]);
    // Nothing was deleted: the CR, its finalizer's work and the CRD's objects are all still there.
    const dm = await cluster.admin.get(migrationResource("v1"), "v1-to-v3");
    assert.equal(dm.metadata.deletionTimestamp, undefined);
    assert.equal((await cluster.admin.listAll(LICENSE_KEYS)).length, 2);

    // Not a terminal: the printed retry keeps the flag.
    const noYes = await cli("finalize", "--delete-uncopied-crds");
    assert.equal(noYes.code, 1);
    assert.deepEqual(parseNext(noYes.io.err()), ["calico-migrate finalize --delete-uncopied-crds --yes"]);

    const done = await cli("finalize", "--delete-uncopied-crds", "--yes");
    assert.equal(done.code, 0, done.io.err());
    assert.match(done.io.out(), /licensekeys\.crd\.projectcalico\.org \(2 objects\)/);
    assert.match(done.io.out(), /Every crd\.projectcalico\.org CRD is deleted\./);
    await assert.rejects(cluster.admin.get(CRDS, CRD_NAME), (e) => isNotFound(e));
  });
});
