/**
 * `calico-migrate abort`: the confirmation rules (refused without a terminal or --yes, and when
 * not confirmed), the explanation of what will be undone, and a rollback followed until the CR
 * is gone — from Pending during the drain (datastore locked) and from Migrating (held there by a
 * copy whose v3 creates are denied, so it cannot have reached Converged).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { migrationResource, type DatastoreMigration } from "../../src/api/datastore-migration.js";
import { runAbort } from "../../src/cli/commands/abort.js";
import { runStart } from "../../src/cli/commands/start.js";
import { runStatus } from "../../src/cli/commands/status.js";
import { parseNext } from "../../src/cli/render/output.js";
import { run } from "../../src/cli/run.js";
import { CLUSTER_INFORMATION_V1, kindByName, v1Resource } from "../../src/calico/kinds.js";
import { isNotFound } from "../../src/kube/errors.js";
import { collectionPath } from "../../src/kube/resource.js";
import { denyCreates } from "../harness/admission.js";
import { APISERVICE, APISERVICE_NAME, resetApiServerMode } from "../harness/api-server-mode.js";
import { captureIo, spawnCli } from "../harness/cli.js";
import { installControllerManifests, startController, type RunningController } from "../harness/controller.js";
import { eventually } from "../harness/eventually.js";
import { sharedCluster, type TestCluster } from "../harness/shared-cluster.js";
import { ownerRefTo, writeV1 } from "../harness/v1-writer.js";

const CONFIGMAPS = { group: "", version: "v1", plural: "configmaps", namespaced: true, kind: "ConfigMap" } as const;

describe("calico-migrate abort", () => {
  let cluster: TestCluster;
  let controller: RunningController | undefined;
  const g = () => ({ kubeconfig: cluster.kubeconfigPath, color: false });
  const getDm = async () => (await cluster.admin.get(migrationResource("v1"), "v1-to-v3")) as unknown as DatastoreMigration;
  const v1Ready = async () => ((await cluster.admin.get(CLUSTER_INFORMATION_V1, "default")).spec as { datastoreReady?: boolean }).datastoreReady;
  const start = async () => {
    const io = captureIo();
    assert.equal(await run(io, () => runStart({ ...g(), validate: false, remapForeignOwnerReferences: true, watch: false, until: "Complete", timeoutMs: 0 }, io)), 0, io.err());
  };
  const assertRolledBack = async () => {
    await assert.rejects(getDm(), (e) => isNotFound(e));
    assert.equal(await v1Ready(), true, "v1 datastore unlocked");
    const svc = await cluster.admin.get(APISERVICE, APISERVICE_NAME);
    assert.equal(svc.metadata.labels?.["kube-aggregator.kubernetes.io/automanaged"], undefined, "the aggregated APIService is back");
  };

  before(async () => {
    cluster = await sharedCluster();
    await resetApiServerMode(cluster.admin);
    // The optional foreign-owner role: the CLI starts the migration with remapping on: the controller scans for foreign owner references.
    await installControllerManifests(cluster.admin, { foreignOwnerRole: true });
    const tier = await writeV1(cluster.admin, { kind: "Tier", metadata: { name: "security" }, spec: { order: 200 } });
    await cluster.admin.create(CONFIGMAPS, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "abort-owned", namespace: "default", ownerReferences: [ownerRefTo(tier, "Tier")] }, data: { k: "v" } });
  });

  after(async () => {
    await controller?.stop();
    await cluster.admin.delete(CONFIGMAPS, "abort-owned", "default").catch(() => undefined);
  });

  test("from Pending during the drain: refused without --yes or confirmation, then rolled back", async () => {
    controller = await startController(cluster, { drainPeriodMs: 120_000 });
    await start();
    await eventually(async () => assert.ok((await getDm()).status?.datastoreLockedAt), { timeoutMs: 60_000, message: "datastore locked" });
    assert.equal(await v1Ready(), false);

    const noTty = captureIo();
    assert.equal(await run(noTty, () => runAbort({ ...g(), yes: false, timeoutMs: 0 }, noTty)), 1);
    assert.match(noTty.out(), /Migration v1-to-v3 is in phase Pending: Waiting for in-flight datastore writes to drain\nThe controller will roll back:\n {2}1\. give non-Calico objects back their original Calico owner references\n {2}2\. unlock the v1 datastore/);
    assert.match(noTty.err(), /^error: not a terminal, so no confirmation can be asked: nothing was changed/);
    assert.deepEqual(parseNext(noTty.err()), ["calico-migrate abort --yes"]);
    const bin = await spawnCli(["abort", "--kubeconfig", cluster.kubeconfigPath]);
    assert.equal(bin.code, 1, bin.stderr);

    const declined = captureIo({ isTTY: true, answer: false });
    assert.equal(await run(declined, () => runAbort({ ...g(), yes: false, timeoutMs: 0 }, declined)), 1);
    assert.match(declined.err(), /not confirmed: nothing was changed/);
    assert.equal((await getDm()).metadata.deletionTimestamp, undefined, "nothing deleted");

    const confirmed = captureIo({ isTTY: true, answer: true });
    assert.equal(await run(confirmed, () => runAbort({ ...g(), yes: false, timeoutMs: 120_000 }, confirmed)), 0, confirmed.err());
    assert.match(confirmed.out(), /datastoremigration\.migration\.projectcalico\.org\/v1-to-v3 deleted\n/);
    assert.match(confirmed.out(), /is gone: the rollback finished\nAPI server mode restored\.\n\nNext:\n {2}calico-migrate plan/);
    await assertRolledBack();

    const status = captureIo();
    assert.equal(await run(status, () => runStatus({ ...g(), output: "table" }, status)), 0);
    assert.equal(status.out(), "No DatastoreMigration v1-to-v3: no migration has been started.\n\nNext:\n  calico-migrate plan\n  calico-migrate start\n");
    const statusYaml = captureIo();
    assert.equal(await run(statusYaml, () => runStatus({ ...g(), output: "yaml" }, statusYaml)), 0);
    assert.match(statusYaml.out(), /^name: v1-to-v3\nexists: false\n/);

    const nothing = captureIo();
    assert.equal(await run(nothing, () => runAbort({ ...g(), yes: true, timeoutMs: 0 }, nothing)), 1);
    assert.match(nothing.err(), /no DatastoreMigration v1-to-v3: there is nothing to abort/);
    await controller.stop();
    controller = undefined;
  });

  test("from Migrating: the copy is rolled back and API server mode restored", async (t) => {
    // A copy inside the locked window (--no-precopy: with the pre-copy, a denied create is found
    // before the lock or by the final delta, which gives the lock back): GlobalNetworkSet creates
    // are denied, so the migration is held in Migrating — it cannot reach Converged — and the
    // abort is judged and confirmed there.
    t.after(() => cluster.admin.request("DELETE", collectionPath(v1Resource(kindByName("GlobalNetworkSet")!))).catch(() => undefined));
    const undeny = await denyCreates(cluster.admin, "globalnetworksets", "globalnetworkset creation denied by the test");
    t.after(undeny);
    const names = ["abort-set-0", "abort-set-1", "abort-set-2"];
    for (const [i, name] of names.entries()) await writeV1(cluster.admin, { kind: "GlobalNetworkSet", metadata: { name }, spec: { nets: [`10.${i}.0.0/24`] } });
    controller = await startController(cluster, { precopy: false });
    await start();
    const held = await eventually(async () => {
      const dm = await getDm();
      assert.equal(dm.status?.phase, "Migrating");
      assert.match(dm.status?.message ?? "", /^creating GlobalNetworkSet abort-set-\d: .*globalnetworkset creation denied by the test/);
      return dm;
    }, { timeoutMs: 120_000, message: "Migrating, held by the denied GlobalNetworkSet copy" });
    assert.ok(held.status?.datastoreLockedAt, "the datastore is locked");

    const io = captureIo();
    assert.equal(await run(io, () => runAbort({ ...g(), yes: true, timeoutMs: 180_000 }, io)), 0, io.err());
    // Each retry of the copy starts with "Migrating resources" and ends with the refusal: the
    // abort reads either; what it proves is the phase.
    assert.match(io.out(), /^Migration v1-to-v3 is in phase Migrating: (Migrating resources|creating GlobalNetworkSet abort-set-\d: .*globalnetworkset creation denied by the test[^\n]*)\nThe controller will roll back:\n/);
    assert.match(io.out(), /1\. delete the v3 objects this migration created \(objects that were already in v3 are kept\)\n {2}2\. register the aggregated APIService v3\.projectcalico\.org again/);
    assert.match(io.out(), /deletion requested: the controller is acting on it/);
    assert.match(io.out(), /is gone: the rollback finished\nAPI server mode restored\./);
    await assertRolledBack();
  });
});
