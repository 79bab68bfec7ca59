/**
 * Bad input on a control plane started without MutatingAdmissionPolicy (the v3 CRDs rely on
 * Calico's admission policies): the controller process blocks in Pending with the exact message
 * and its fix, takes no lock, and deleting the CR leaves the cluster as it was.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { MIGRATION_NAME, migrationResource } from "../../src/api/datastore-migration.js";
import { installApiServerMode } from "../harness/api-server-mode.js";
import { blocked } from "../harness/bad-input-table.js";
import { snapshotDifferences, takeSnapshot } from "../harness/cluster-snapshot.js";
import { installControllerManifests } from "../harness/controller.js";
import { ControllerProcess, controllerKubeconfig } from "../harness/controller-process.js";
import { createMigration, waitGone, waitMigration } from "../harness/migration-cr.js";
import { privateCluster } from "../harness/shared-cluster.js";
import { writeV1 } from "../harness/v1-writer.js";

const DM = migrationResource("v1");
const MAP_FIX = "enable the MutatingAdmissionPolicy feature gate and serve admissionregistration.k8s.io/v1beta1 on the kube-apiserver (Kubernetes 1.34/1.35), or upgrade to 1.36";

test("MutatingAdmissionPolicy not served blocks before any lock", async () => {
  const cp = await privateCluster({ mutatingAdmissionPolicy: false });
  await installApiServerMode(cp.admin);
  await installControllerManifests(cp.admin);
  await writeV1(cp.admin, { kind: "Tier", metadata: { name: "security" }, spec: { order: 100 } });
  const before = await takeSnapshot(cp.admin, []);
  const controller = new ControllerProcess(await controllerKubeconfig(cp), { drainPeriod: "1s", name: "no-map" });
  try {
    await createMigration(cp.admin);
    await waitMigration(cp.admin, (dm) => assert.equal(dm.status?.message, blocked("the MutatingAdmissionPolicy API is not served; the v3 CRDs rely on Calico's admission policies for defaulting", MAP_FIX)), { message: "the MAP blocker", timeoutMs: 90_000 });
    await cp.admin.delete(DM, MIGRATION_NAME);
    await waitGone(cp.admin);
    assert.deepEqual(snapshotDifferences(before, await takeSnapshot(cp.admin, [])), []);
  } finally {
    await controller.kill();
  }
});
