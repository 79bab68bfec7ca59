/**
 * Smoke tests proving the emulated API-server mode behaves like a real Calico cluster in that mode.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ApiError, isNotFound } from "../../src/kube/errors.js";
import type { KubeObject } from "../../src/kube/object.js";
import type { ResourceRef } from "../../src/kube/resource.js";
import { APISERVICE, APISERVICE_NAME, resetApiServerMode } from "../harness/api-server-mode.js";
import { eventually } from "../harness/eventually.js";
import { sharedCluster, type TestCluster } from "../harness/shared-cluster.js";

const TIERS_V3: ResourceRef = { group: "projectcalico.org", version: "v3", plural: "tiers", namespaced: false, kind: "Tier" };
const TIERS_V1: ResourceRef = { group: "crd.projectcalico.org", version: "v1", plural: "tiers", namespaced: false, kind: "Tier" };
const NP_V3: ResourceRef = { group: "projectcalico.org", version: "v3", plural: "networkpolicies", namespaced: true, kind: "NetworkPolicy" };
const CONFIGMAPS: ResourceRef = { group: "", version: "v1", plural: "configmaps", namespaced: true, kind: "ConfigMap" };

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    if (err instanceof ApiError) return err.code;
    throw err;
  }
}

describe("API-server mode emulation", () => {
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

  test("with the APIService registered, v3 requests do not reach the CRDs while v1 serves", async () => {
    assert.equal(await status(cluster.admin.list(TIERS_V3)), 503);
    assert.equal(await status(cluster.admin.list(TIERS_V1)), 200);
    const svc = await cluster.admin.get(APISERVICE, APISERVICE_NAME);
    assert.deepEqual((svc.spec as { service: { name: string } }).service.name, "calico-api");
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
