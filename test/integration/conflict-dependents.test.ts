/**
 * A conflict that appears during the copy, on a Calico object that owns a ConfigMap: while the
 * migration waits for the conflict to be resolved, the ConfigMap is not pointed at the user's
 * conflicting v3 object. So the first resolution `calico-migrate conflicts` offers — delete the
 * v3 object — does not let the garbage collector delete the ConfigMap; once Converged, the
 * ConfigMap is owned by the migrated v3 object.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ConditionType, Names } from "../../src/api/datastore-migration.js";
import { kindByName, V3_GROUP, v3Resource, type CalicoKind } from "../../src/calico/kinds.js";
import type { KubeObject } from "../../src/kube/object.js";
import { resetApiServerMode } from "../harness/api-server-mode.js";
import { proxyForCluster, type ClusterProxy } from "../harness/cluster-proxy.js";
import { installControllerManifests } from "../harness/controller.js";
import { ControllerProcess } from "../harness/controller-process.js";
import { gcBarrier } from "../harness/gc-barrier.js";
import { createMigration, waitPhase } from "../harness/migration-cr.js";
import { sharedCluster, type TestCluster } from "../harness/shared-cluster.js";
import { ownerRefTo, writeV1 } from "../harness/v1-writer.js";
import { createV3 } from "../harness/v3-storage.js";

const TIERS = v3Resource(kindByName("Tier") as CalicoKind);
const CONFIGMAPS = { group: "", version: "v1", plural: "configmaps", namespaced: true, kind: "ConfigMap" } as const;
const calicoOwners = (cm: KubeObject) => (cm.metadata.ownerReferences ?? []).filter((r) => r.apiVersion.startsWith(`${V3_GROUP}/`));

describe("a conflict on the owner of a foreign dependent", () => {
  let cluster: TestCluster;
  let cp: ClusterProxy;
  let controller: ControllerProcess | undefined;
  let twinUid = "";

  before(async () => {
    cluster = await sharedCluster();
    await resetApiServerMode(cluster.admin);
    // The optional foreign-owner role: the suite is about foreign dependents of conflicting owners (foreign owner references).
    await installControllerManifests(cluster.admin, { foreignOwnerRole: true });
    const owner = await writeV1(cluster.admin, { kind: "Tier", metadata: { name: "owner" }, spec: { order: 100 } });
    await writeV1(cluster.admin, { kind: "Tier", metadata: { name: "bystander" }, spec: { order: 200 } });
    await cluster.admin.create(CONFIGMAPS, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "owned-by-tier", namespace: "default", ownerReferences: [ownerRefTo(owner, "Tier")] }, data: { k: "v" } });
    // The user creates a v3 twin of Tier "owner" while the copy runs: just before the copy's create
    // of "owner" reaches the API server (after the conflict check of Pending).
    cp = await proxyForCluster(cluster, {
      seed: 1,
      rules: [{
        // On the copy's create of "owner" itself: the Tiers are copied concurrently, and a hook on
        // another Tier's create could let ours of "owner" through first.
        name: "user-twin-during-copy", method: "POST", path: /\/apis\/projectcalico\.org\/v3\/tiers$/, times: 1,
        when: (r) => (r.body as { metadata?: { name?: string } } | undefined)?.metadata?.name === "owner",
        action: { type: "hook", run: async () => void (twinUid = (await createV3(cluster.admin, { kind: "Tier", metadata: { name: "owner" }, spec: { order: 7 } })).metadata.uid ?? "") },
      }],
    });
    controller = new ControllerProcess(cp.kubeconfig, { drainPeriod: "1s", name: "conflict-dependents", extraArgs: ["--no-validate", "--no-precopy"] });
  });

  after(async () => {
    await controller?.kill();
    await cp?.proxy.stop();
    await cluster.admin.delete(CONFIGMAPS, "owned-by-tier", "default").catch(() => undefined);
  });

  test("while waiting the dependent stays detached; deleting the user's v3 object spares it; at Converged it is owned by the migrated object", async () => {
    const dm = await createMigration(cluster.admin);
    const waiting = await waitPhase(cluster.admin, "WaitingForConflictResolution", { timeoutMs: 120_000 });
    assert.ok(twinUid, "the user's twin was created during the copy");
    assert.deepEqual((waiting.status?.conditions ?? []).filter((c) => c.type === ConditionType.Conflict).map((c) => c.message),
      ["Tier/owner: v3 resource exists with different spec (differs at: spec.order)"]);
    const detached = await cluster.admin.get(CONFIGMAPS, "owned-by-tier", "default");
    assert.deepEqual(calicoOwners(detached), [], "not pointed at the user's conflicting object");

    // Resolution 1 of `calico-migrate conflicts`: delete the v3 object; the migration copies it from v1.
    await cluster.admin.delete(TIERS, "owner", undefined, { uid: twinUid });
    await gcBarrier(cluster.admin);
    await cluster.admin.get(CONFIGMAPS, "owned-by-tier", "default");

    await waitPhase(cluster.admin, "Converged", { timeoutMs: 120_000 });
    const migrated = await cluster.admin.get(TIERS, "owner");
    assert.equal(migrated.metadata.annotations?.[Names.migratedBy], dm.metadata.uid);
    const cm = await cluster.admin.get(CONFIGMAPS, "owned-by-tier", "default");
    assert.deepEqual(calicoOwners(cm).map((r) => [r.kind, r.name, r.uid]), [["Tier", "owner", migrated.metadata.uid]]);
  });
});
