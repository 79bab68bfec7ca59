/**
 * The controller's mainline on a real control plane in API-server mode, run as its own
 * ServiceAccount: Pending → Migrating → Converged → Complete, then cleanup of the v1 CRDs.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { migrationResource, Names, type DatastoreMigration } from "../../src/api/datastore-migration.js";
import { CLUSTER_INFORMATION_V1, CLUSTER_INFORMATION_V3, kindByName, v3Resource } from "../../src/calico/kinds.js";
import { isNotFound } from "../../src/kube/errors.js";
import type { KubeObject } from "../../src/kube/object.js";
import { APISERVICE, APISERVICE_NAME, COMPONENTS_NAMESPACE, DAEMONSETS, resetApiServerMode } from "../harness/api-server-mode.js";
import { installControllerManifests, startController, type RunningController } from "../harness/controller.js";
import { eventually } from "../harness/eventually.js";
import { sharedCluster, type TestCluster } from "../harness/shared-cluster.js";
import { ownerRefTo, writeV1 } from "../harness/v1-writer.js";
import { CRDS } from "../../src/migration/prerequisites.js";

const DM = migrationResource("v1");
const CONFIGMAPS = { group: "", version: "v1", plural: "configmaps", namespaced: true, kind: "ConfigMap" } as const;

async function getDm(cluster: TestCluster): Promise<DatastoreMigration> {
  return (await cluster.admin.get(DM, "v1-to-v3")) as unknown as DatastoreMigration;
}

async function waitPhase(cluster: TestCluster, phase: string, timeoutMs = 120_000): Promise<DatastoreMigration> {
  return eventually(async () => {
    const dm = await getDm(cluster);
    assert.equal(dm.status?.phase, phase, `phase (message: ${dm.status?.message})`);
    return dm;
  }, { timeoutMs, message: `phase ${phase}` });
}

describe("controller mainline", () => {
  let cluster: TestCluster;
  let controller: RunningController;
  let securityTier: KubeObject;

  before(async () => {
    cluster = await sharedCluster();
    await resetApiServerMode(cluster.admin);
    // The optional foreign-owner role: a ConfigMap owned by a Calico Tier must be re-pointed at the v3 owner (foreign owner references).
    await installControllerManifests(cluster.admin, { foreignOwnerRole: true });
    const defaultTier = await writeV1(cluster.admin, { kind: "Tier", metadata: { name: "default" }, spec: { order: 1_000_000, defaultAction: "Deny" } });
    securityTier = await writeV1(cluster.admin, { kind: "Tier", metadata: { name: "security", labels: { team: "sec" } }, spec: { order: 200 } });
    await writeV1(cluster.admin, {
      kind: "GlobalNetworkPolicy",
      metadata: { name: "deny-all", ownerReferences: [ownerRefTo(defaultTier, "Tier")] },
      spec: { tier: "default", selector: "all()", types: ["Ingress"] },
    }, { crName: "default.deny-all", omitNameInAnnotation: true });
    await writeV1(cluster.admin, { kind: "NetworkPolicy", metadata: { name: "allow-web", namespace: "default" }, spec: { tier: "default", selector: "app == 'web'", ingress: [{ action: "Allow" }] } });
    await cluster.admin.create(CONFIGMAPS, {
      apiVersion: "v1", kind: "ConfigMap",
      metadata: { name: "owned-by-tier", namespace: "default", ownerReferences: [ownerRefTo(securityTier, "Tier")] },
      data: { k: "v" },
    });
    controller = await startController(cluster);
  });

  after(async () => {
    await controller?.stop();
  });

  test("reaches Converged with every object copied and the APIService unregistered", async () => {
    await cluster.admin.create(DM, { apiVersion: "migration.projectcalico.org/v1", kind: "DatastoreMigration", metadata: { name: "v1-to-v3" }, spec: { type: "APIServerToCRDs" } });
    const dm = await waitPhase(cluster, "Converged");
    assert.ok(dm.metadata.finalizers?.includes(Names.finalizer));
    assert.ok(dm.status?.startedAt && dm.status.datastoreLockedAt);
    assert.ok(dm.metadata.annotations?.[Names.savedApiService]?.includes("calico-api"), "the APIService was saved on the CR");
    assert.equal(dm.status?.progress?.migrated, 4);
    assert.equal(dm.status?.progress?.typeDetails?.length, 21);
    assert.equal(dm.status?.progress?.typeProgress, "21 / 21");
    await assert.rejects(cluster.admin.get(APISERVICE, APISERVICE_NAME).then((s) => {
      if (s.metadata.labels?.["kube-aggregator.kubernetes.io/automanaged"]) throw Object.assign(new Error("automanaged"), { code: 404 });
      return s;
    }), (err: { code?: number }) => err.code === 404);

    const tiers = v3Resource(kindByName("Tier")!);
    const v3Default = await cluster.admin.get(tiers, "default");
    assert.equal((v3Default.spec as { order: number }).order, 1_000_000);
    assert.equal(v3Default.metadata.annotations?.["projectcalico.org/metadata"], undefined);
    assert.equal(v3Default.metadata.annotations?.[Names.migratedBy], dm.metadata.uid);
    const v3Security = await cluster.admin.get(tiers, "security");
    assert.equal(v3Security.metadata.labels?.team, "sec");
    const gnp = await cluster.admin.get(v3Resource(kindByName("GlobalNetworkPolicy")!), "deny-all");
    assert.equal(gnp.metadata.ownerReferences?.[0]?.uid, v3Default.metadata.uid, "Calico owner reference points at the new v3 uid");
    await assert.rejects(cluster.admin.get(v3Resource(kindByName("GlobalNetworkPolicy")!), "default.deny-all"), (e) => isNotFound(e));

    const ci3 = await cluster.admin.get(CLUSTER_INFORMATION_V3, "default");
    assert.equal((ci3.spec as { datastoreReady: boolean }).datastoreReady, true, "v3 unlocked at Converged");
    const ci1 = await cluster.admin.get(CLUSTER_INFORMATION_V1, "default");
    assert.equal((ci1.spec as { datastoreReady: boolean }).datastoreReady, false, "v1 stays locked");

    const cm = await cluster.admin.get(CONFIGMAPS, "owned-by-tier", "default");
    assert.equal(cm.metadata.ownerReferences?.[0]?.uid, v3Security.metadata.uid, "foreign dependent points at the v3 owner");
    // Converged is written first; the Converged handler then names the components it waits for.
    await eventually(async () => {
      assert.match((await getDm(cluster)).status?.message ?? "", /CALICO_API_GROUP=projectcalico.org\/v3 on calico-node, calico-typha and calico-kube-controllers/);
    }, { timeoutMs: 30_000, message: "message names the components" });
  });

  test("reaches Complete once the components run with the v3 API group", async () => {
    const { DEPLOYMENTS } = await import("../harness/api-server-mode.js");
    for (const [ref, name] of [[DAEMONSETS, "calico-node"], [DEPLOYMENTS, "calico-typha"], [DEPLOYMENTS, "calico-kube-controllers"]] as const) {
      const obj = await cluster.admin.get(ref, name, COMPONENTS_NAMESPACE);
      const spec = obj.spec as { template: { spec: { containers: { env?: { name: string; value: string }[] }[] } } };
      for (const c of spec.template.spec.containers) c.env = [...(c.env ?? []), { name: "CALICO_API_GROUP", value: "projectcalico.org/v3" }];
      const updated = await cluster.admin.update(ref, obj);
      const generation = updated.metadata.generation;
      const status = ref === DAEMONSETS
        ? { observedGeneration: generation, desiredNumberScheduled: 1, updatedNumberScheduled: 1, numberAvailable: 1, numberReady: 1, currentNumberScheduled: 1, numberMisscheduled: 0 }
        : { observedGeneration: generation, replicas: 1, updatedReplicas: 1, availableReplicas: 1, readyReplicas: 1 };
      await cluster.admin.update(ref, { ...updated, status }, { subresource: "status" });
    }
    const dm = await waitPhase(cluster, "Complete", 60_000);
    assert.ok(dm.status?.completedAt);
    assert.equal(dm.status?.message, "Migration complete");
  });

  test("deleting the CR after Complete deletes every v1 CRD, then the CR", async () => {
    await cluster.admin.delete(DM, "v1-to-v3");
    await eventually(async () => {
      try {
        await getDm(cluster);
        return false;
      } catch (err) {
        return isNotFound(err);
      }
    }, { timeoutMs: 120_000, message: "CR gone" });
    const left = (await cluster.admin.listAll(CRDS)).filter((c) => (c.spec as { group: string }).group === "crd.projectcalico.org");
    assert.deepEqual(left.map((c) => c.metadata.name), []);
  });
});
