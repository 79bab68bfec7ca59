/**
 * Smoke tests proving the test ground behaves like a real Calico cluster in API-server mode: a
 * live aggregated Calico API server (the stand-in) reached only through the egress proxy, storing
 * in crd.projectcalico.org/v1; and the unavailable mode, where every v3 request answers 503.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { convertUid } from "../../src/convert/uid.js";
import { ApiError, isNotFound } from "../../src/kube/errors.js";
import type { KubeObject } from "../../src/kube/object.js";
import type { ResourceRef } from "../../src/kube/resource.js";
import { APISERVICE, APISERVICE_NAME, resetApiServerMode, waitApiServiceAvailable } from "../harness/api-server-mode.js";
import { CALICO_SERVICE_IP } from "../harness/control-plane.js";
import { eventually } from "../harness/eventually.js";
import { sharedCluster, type TestCluster } from "../harness/shared-cluster.js";

const TIERS_V3: ResourceRef = { group: "projectcalico.org", version: "v3", plural: "tiers", namespaced: false, kind: "Tier" };
const TIERS_V1: ResourceRef = { group: "crd.projectcalico.org", version: "v1", plural: "tiers", namespaced: false, kind: "Tier" };
const NP_V3: ResourceRef = { group: "projectcalico.org", version: "v3", plural: "networkpolicies", namespaced: true, kind: "NetworkPolicy" };
const CONFIGMAPS: ResourceRef = { group: "", version: "v1", plural: "configmaps", namespaced: true, kind: "ConfigMap" };
const GNP_V3: ResourceRef = { group: "projectcalico.org", version: "v3", plural: "globalnetworkpolicies", namespaced: false, kind: "GlobalNetworkPolicy" };
const GNP_V1: ResourceRef = { group: "crd.projectcalico.org", version: "v1", plural: "globalnetworkpolicies", namespaced: false, kind: "GlobalNetworkPolicy" };
const SERVICES: ResourceRef = { group: "", version: "v1", plural: "services", namespaced: true, kind: "Service" };
const ENDPOINT_SLICES: ResourceRef = { group: "discovery.k8s.io", version: "v1", plural: "endpointslices", namespaced: true, kind: "EndpointSlice" };

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    if (err instanceof ApiError) return err.code;
    throw err;
  }
}

describe("API-server mode test ground", () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await sharedCluster();
  });
  after(async () => {
    await resetApiServerMode(cluster.admin);
  });

  test("the control plane reports the Kubernetes version it was built as", async () => {
    const v = await cluster.admin.request<{ gitVersion: string }>("GET", "/version");
    assert.match(v.gitVersion, /^v1\.\d+\.\d+$/);
  });

  test("the live Calico API server answers projectcalico.org/v3 and stores in crd.projectcalico.org/v1, reached through the egress proxy", async () => {
    await waitApiServiceAvailable(cluster.admin);
    assert.equal(await status(cluster.admin.list(TIERS_V3)), 200);
    const svc = await cluster.admin.get(APISERVICE, APISERVICE_NAME);
    assert.equal((svc.spec as { service: { name: string } }).service.name, "calico-api");
    const created = await cluster.admin.create(GNP_V3, {
      apiVersion: "projectcalico.org/v3", kind: "GlobalNetworkPolicy",
      metadata: { name: "smoke-allow-dns", labels: { team: "net" } },
      spec: { selector: "all()", order: 10, egress: [{ action: "Allow", protocol: "UDP", destination: { ports: [53] } }] },
    });
    const stored = await cluster.admin.get(GNP_V1, "smoke-allow-dns");
    assert.equal(created.metadata.uid, convertUid(stored.metadata.uid ?? ""), "the v3 uid is the v1 CR's, bit-reversed");
    assert.equal(created.metadata.resourceVersion, stored.metadata.resourceVersion);
    assert.deepEqual(JSON.parse(stored.metadata.annotations?.["projectcalico.org/metadata"] ?? "{}").labels, { team: "net" }, "v3 metadata kept in the annotation");
    assert.equal(stored.metadata.labels, undefined, "only Calico's own labels on the CR");
    assert.deepEqual((created.spec as { types?: string[] }).types, ["Egress"], "types defaulted as libcalico does");
    const state = await cluster.sideState();
    assert.ok((state.egress.tunnels[`${CALICO_SERVICE_IP}:443`] ?? 0) > 0, "kube-apiserver reached the Calico API server through the egress proxy");
    assert.ok((state.calico.served.create ?? 0) > 0);
    await cluster.admin.delete(GNP_V3, "smoke-allow-dns");
    await assert.rejects(cluster.admin.get(GNP_V1, "smoke-allow-dns"), (e) => isNotFound(e));
  });

  test("the Calico API server answers the garbage collector's metadata-only get, list and watch with PartialObjectMetadata", {
    skip: process.env.CALICO_STANDIN_PARTIAL_METADATA === "0" ? "CALICO_STANDIN_PARTIAL_METADATA=0 asks for the old whole-object answers" : false,
  }, async () => {
    // client-go's metadata client, which the garbage collector's informers and owner lookups use.
    const accept = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";
    await waitApiServiceAvailable(cluster.admin);
    const tier = await cluster.admin.create(TIERS_V3, { apiVersion: "projectcalico.org/v3", kind: "Tier", metadata: { name: "smoke-metadata" }, spec: { order: 300 } });
    try {
      const got = await cluster.admin.request<KubeObject>("GET", "/apis/projectcalico.org/v3/tiers/smoke-metadata", { accept });
      assert.deepEqual([got.apiVersion, got.kind, got.metadata.uid, "spec" in got], ["meta.k8s.io/v1", "PartialObjectMetadata", tier.metadata.uid, false]);
      const list = await cluster.admin.request<{ kind: string; items: KubeObject[] }>("GET", "/apis/projectcalico.org/v3/tiers", { accept: accept.replace(/PartialObjectMetadata/g, "PartialObjectMetadataList") });
      assert.equal(list.kind, "PartialObjectMetadataList");
      assert.ok(list.items.some((i) => i.metadata.uid === tier.metadata.uid && !("spec" in i)));
      // A watch from "now" starts with the existing objects, then ends after a second.
      const text = await cluster.admin.requestText("GET", "/apis/projectcalico.org/v3/tiers?watch=true&timeoutSeconds=1", { accept });
      const events = text.split("\n").filter(Boolean).map((l) => JSON.parse(l) as { type: string; object: KubeObject });
      const added = events.find((e) => e.object.metadata?.uid === tier.metadata.uid);
      assert.equal(added?.type, "ADDED");
      assert.deepEqual([added?.object.apiVersion, added?.object.kind, "spec" in (added?.object ?? {})], ["meta.k8s.io/v1", "PartialObjectMetadata", false]);
    } finally {
      await cluster.admin.delete(TIERS_V3, "smoke-metadata");
    }
  });

  test("the egress proxy refuses every address it does not know; the APIService behind it stays unavailable", async () => {
    const ns = "egress-refusal";
    await cluster.admin.create({ group: "", version: "v1", plural: "namespaces", namespaced: false, kind: "Namespace" }, { metadata: { name: ns } }).catch(() => undefined);
    await cluster.admin.create(SERVICES, { metadata: { name: "elsewhere", namespace: ns }, spec: { clusterIP: "10.0.0.101", ports: [{ port: 443, protocol: "TCP" }] } });
    await cluster.admin.create(ENDPOINT_SLICES, {
      metadata: { name: "elsewhere", namespace: ns, labels: { "kubernetes.io/service-name": "elsewhere" } },
      addressType: "IPv4", endpoints: [{ addresses: ["192.0.2.20"], conditions: { ready: true } }], ports: [{ port: 443, protocol: "TCP" }],
    });
    await cluster.admin.create(APISERVICE, {
      metadata: { name: "v1.refused.example.com" },
      spec: { group: "refused.example.com", version: "v1", groupPriorityMinimum: 10, versionPriority: 10, insecureSkipTLSVerify: true, service: { name: "elsewhere", namespace: ns, port: 443 } },
    });
    try {
      await eventually(async () => {
        const state = await cluster.sideState();
        assert.ok(state.egress.refused.some((r) => r.target === "10.0.0.101:443"), `refused: ${JSON.stringify(state.egress.refused)}`);
      }, { timeoutMs: 60_000, message: "the egress proxy refused 10.0.0.101:443" });
      const svc = await cluster.admin.get(APISERVICE, "v1.refused.example.com");
      const available = ((svc.status as { conditions?: { type: string; status: string }[] }).conditions ?? []).find((c) => c.type === "Available");
      assert.notEqual(available?.status, "True");
      assert.equal((await cluster.sideState()).egress.tunnels["10.0.0.101:443"], undefined, "no tunnel was opened");
    } finally {
      await cluster.admin.delete(APISERVICE, "v1.refused.example.com").catch(() => undefined);
      await cluster.admin.request("DELETE", `/api/v1/namespaces/${ns}`).catch(() => undefined);
    }
  });

  test("with the Calico API server unavailable, v3 requests answer 503 and never reach the CRDs while v1 serves", async () => {
    await resetApiServerMode(cluster.admin, { calicoApiServer: "unavailable" });
    await eventually(async () => assert.equal(await status(cluster.admin.list(TIERS_V3)), 503), { timeoutMs: 60_000, message: "v3 answers 503" });
    assert.equal(await status(cluster.admin.list(TIERS_V1)), 200);
  });

  test("after unregistering, v3 CRDs serve, an automanaged APIService appears, and admission policies default policies", async () => {
    await cluster.admin.delete(APISERVICE, APISERVICE_NAME);
    await eventually(() => cluster.admin.list(TIERS_V3), { timeoutMs: 30_000, message: "v3 tiers served" });
    const auto = await eventually(async () => {
      const s = await cluster.admin.get(APISERVICE, APISERVICE_NAME);
      assert.equal(s.metadata.labels?.["kube-aggregator.kubernetes.io/automanaged"], "true");
      return s;
    }, { timeoutMs: 30_000, message: "automanaged APIService" });
    assert.equal((auto.spec as { service?: unknown }).service, undefined);

    // The policytypes/tierlabel MAPs may need a moment to resolve their v3 paramKind after the switch.
    const np = await eventually(
      () =>
        cluster.admin.create(NP_V3, {
          apiVersion: "projectcalico.org/v3",
          kind: "NetworkPolicy",
          metadata: { name: "smoke-egress", namespace: "default" },
          spec: { selector: "all()", egress: [{ action: "Allow" }] },
        }),
      { timeoutMs: 30_000, message: "create v3 NetworkPolicy" },
    );
    const spec = np.spec as { types?: string[]; tier?: string };
    assert.deepEqual(spec.types, ["Egress"]);
    assert.equal(spec.tier, "default");
    assert.equal(np.metadata.labels?.["projectcalico.org/tier"], "default");
  });

  test("the built-in tier CEL rules reject a drifted default tier", async () => {
    await eventually(() => cluster.admin.list(TIERS_V3), { timeoutMs: 30_000 });
    const err = await cluster.admin
      .create(TIERS_V3, { apiVersion: "projectcalico.org/v3", kind: "Tier", metadata: { name: "default" }, spec: { order: 42, defaultAction: "Deny" } })
      .then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof ApiError, "creating a drifted default tier must fail");
    assert.equal(err.code, 422);
    assert.match(err.message, /default/i);
  });

  test("the garbage collector deletes a ConfigMap whose only owner does not exist", async () => {
    const cm: KubeObject = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name: "smoke-orphan",
        namespace: "default",
        ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "no-such-owner", uid: "00000000-0000-4000-8000-000000000001" }],
      },
      data: { a: "b" },
    };
    await cluster.admin.create(CONFIGMAPS, cm);
    await eventually(
      async () => {
        try {
          await cluster.admin.get(CONFIGMAPS, "smoke-orphan", "default");
          return false;
        } catch (err) {
          return isNotFound(err);
        }
      },
      { timeoutMs: 90_000, message: "GC deletes the orphan" },
    );
  });
});
