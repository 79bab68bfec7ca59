/**
 * The pre-copy door (issue 11's foundation) against a cluster in API-server mode with a live Calico
 * API server: a temporary version on every v3 CRD lets objects be written to v3 CRD storage while
 * the aggregated APIService still serves projectcalico.org/v3. Stored this way, every golden object
 * equals what a v3 create stores (the same prediction convert-roundtrip checks for v3 creates:
 * the goldens run both ways); nothing reaches v1 or the Calico API server; closing the door leaves
 * `storedVersions: [v3]` and the objects in v3 storage; a refused door leaves nothing half-open.
 */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { CALICO_KINDS, v1Resource, v3Resource } from "../../src/calico/kinds.js";
import { serverSpec } from "../../src/convert/normalize.js";
import { SchemaSet } from "../../src/convert/schema.js";
import { canonical } from "../../src/convert/structural.js";
import { KubeClient } from "../../src/kube/client.js";
import { hasCode, isNotFound } from "../../src/kube/errors.js";
import { loadClientConfig } from "../../src/kube/kubeconfig.js";
import type { KubeObject } from "../../src/kube/object.js";
import { collectionPath, objectPath } from "../../src/kube/resource.js";
import { relabelManagedFields } from "../../src/migration/managed-fields.js";
import { closeDoor, DOOR_VERSION, doorResource, doorServed, openDoor, v3CrdName } from "../../src/migration/precopy-door.js";
import { CRDS } from "../../src/migration/prerequisites.js";
import { APISERVICE, APISERVICE_NAME, installApiServerMode, NAMESPACES } from "../harness/api-server-mode.js";
import { eventually } from "../harness/eventually.js";
import { privateCluster } from "../harness/shared-cluster.js";
import { loadGoldenCases } from "../fixtures/golden/golden-cases.js";

const cases = loadGoldenCases().sort((a, b) => a.kind.order - b.kind.order || a.file.localeCompare(b.file));
const UID = "00000000-0000-4000-8000-0000000000d0";
// Top level: privateCluster's `after` hook must not be registered from inside a `before` hook.
const cp = await privateCluster({ controllerManager: false });
const client = cp.admin;
let schemas: SchemaSet;

/** The one copy left with door-labelled managedFields: the negative control. */
function unrelabelled(): (typeof cases)[number] {
  return cases.filter((c) => c.kind.kind === "GlobalNetworkPolicy").at(-1)!;
}

/** The golden object as a create request: no uid, timestamps or owner references. */
function createBody(expected: KubeObject): KubeObject {
  const body = structuredClone(expected);
  body.apiVersion = `projectcalico.org/${DOOR_VERSION}`;
  delete body.metadata.uid;
  delete body.metadata.creationTimestamp;
  delete body.metadata.ownerReferences;
  return body;
}

describe("the pre-copy door on the v3 CRDs", () => {
  before(async () => {
    await installApiServerMode(client);
    schemas = SchemaSet.fromCrds(await client.listAll(CRDS));
    const namespaces = new Set(cases.map((c) => c.expected.metadata.namespace).filter((ns): ns is string => !!ns));
    for (const name of namespaces) await client.create(NAMESPACES, { apiVersion: "v1", kind: "Namespace", metadata: { name } });
  });

  test("opens on every migrated kind's v3 CRD and is served beside the aggregated projectcalico.org/v3", async () => {
    assert.deepEqual(await openDoor(client, UID), { open: true });
    await eventually(async () => assert.ok(await doorServed(client)), { timeoutMs: 30_000, message: "door served" });
    for (const kind of CALICO_KINDS) {
      const crd = await client.get(CRDS, v3CrdName(kind));
      const versions = (crd.spec as { versions: { name: string; storage: boolean }[] }).versions;
      assert.deepEqual(versions.map((v) => [v.name, v.storage]), [["v3", true], [DOOR_VERSION, false]], kind.kind);
    }
    // Opening again changes nothing.
    const rv = (await client.get(CRDS, v3CrdName(CALICO_KINDS[0]!))).metadata.resourceVersion;
    assert.deepEqual(await openDoor(client, UID), { open: true });
    assert.equal((await client.get(CRDS, v3CrdName(CALICO_KINDS[0]!))).metadata.resourceVersion, rv);
  });

  test("Calico's admission policies default what is written through the door", async () => {
    const gnp = CALICO_KINDS.find((k) => k.kind === "GlobalNetworkPolicy")!;
    const probe = { apiVersion: `projectcalico.org/${DOOR_VERSION}`, kind: "GlobalNetworkPolicy", metadata: { name: "admission-probe" }, spec: { tier: "", selector: "all()", ingress: [{ action: "Allow" }] } };
    await eventually(async () => {
      const answer = await client.request<KubeObject>("POST", collectionPath(doorResource(gnp)), { body: probe, query: { dryRun: "All" } });
      assert.deepEqual([(answer.spec as { tier?: string }).tier, (answer.spec as { types?: string[] }).types], ["default", ["Ingress"]]);
    }, { timeoutMs: 60_000, message: "admission policies in force through the door" });
  });

  test("every golden object stored through the door is what a v3 create stores", async () => {
    for (const c of cases) {
      const ref = doorResource(c.kind);
      const ns = c.expected.metadata.namespace;
      await client.request("POST", collectionPath(ref, ns), { body: createBody(c.expected), query: { fieldValidation: "Strict" } });
      const stored = await client.request<KubeObject>("GET", objectPath(ref, c.expected.metadata.name ?? "", ns));
      assert.deepEqual(canonical(stored.spec), serverSpec(c.kind, c.expected.spec, schemas.require(c.kind.kind)), c.file);
    }
  });

  test("nothing written through the door reached v1 storage or the Calico API server", async () => {
    for (const c of cases) {
      const name = c.expected.metadata.name ?? "";
      await assert.rejects(client.get(v1Resource(c.kind), name, c.expected.metadata.namespace), (err) => isNotFound(err), `${c.file}: no v1 object`);
      // Through v3 the aggregated API still answers, from v1: the door's object is not there.
      await assert.rejects(client.get(v3Resource(c.kind), name, c.expected.metadata.namespace), (err) => isNotFound(err), `${c.file}: not in the aggregated view`);
    }
    assert.deepEqual((await cp.sideState()).calico.writes, []);
  });

  test("relabelling a copy's managedFields to v3 (while the door exists) changes nothing else and adds no entry", async () => {
    for (const c of cases) {
      if (c === unrelabelled()) continue;
      const ref = doorResource(c.kind);
      const obj = await client.get(ref, c.expected.metadata.name ?? "", c.expected.metadata.namespace);
      assert.ok(await relabelManagedFields(client, ref, obj, `projectcalico.org/${DOOR_VERSION}`, "projectcalico.org/v3"), c.file);
      const after = await client.get(ref, c.expected.metadata.name ?? "", c.expected.metadata.namespace);
      const entries = after.metadata.managedFields as { apiVersion?: string; manager?: string }[];
      assert.deepEqual(entries.map((e) => e.apiVersion), entries.map(() => "projectcalico.org/v3"), c.file);
      assert.equal(entries.length, (obj.metadata.managedFields ?? []).length, `${c.file}: no entry added`);
      assert.deepEqual(after.spec, obj.spec, c.file);
      assert.equal(await relabelManagedFields(client, ref, after, `projectcalico.org/${DOOR_VERSION}`, "projectcalico.org/v3"), false, "nothing left to relabel");
    }
  });

  test("closing removes the version, storedVersions stays [v3], and the objects are in v3 storage", async () => {
    assert.equal(await closeDoor(client), CALICO_KINDS.length);
    assert.equal(await closeDoor(client), 0, "closing again changes nothing");
    for (const kind of CALICO_KINDS) {
      const crd = await client.get(CRDS, v3CrdName(kind));
      assert.deepEqual((crd.spec as { versions: { name: string }[] }).versions.map((v) => v.name), ["v3"], kind.kind);
      assert.deepEqual((crd.status as { storedVersions?: string[] }).storedVersions, ["v3"], kind.kind);
      assert.equal(crd.metadata.annotations?.["migration.projectcalico.org/precopy-door"], undefined);
    }
    await client.delete(APISERVICE, APISERVICE_NAME);
    for (const c of cases) {
      await eventually(async () => {
        const stored = await client.get(v3Resource(c.kind), c.expected.metadata.name ?? "", c.expected.metadata.namespace);
        assert.deepEqual(canonical(stored.spec), serverSpec(c.kind, c.expected.spec, schemas.require(c.kind.kind)), c.file);
      }, { timeoutMs: 30_000, message: `${c.file} read through projectcalico.org/v3 from CRD storage` });
    }
  });

  test("after the door is closed, a user's server-side apply and update of a relabelled copy work", async () => {
    const c = cases.find((x) => x.kind.kind === "GlobalNetworkPolicy" && x !== unrelabelled())!;
    const ref = v3Resource(c.kind);
    const name = c.expected.metadata.name ?? "";
    // A GitOps tool's server-side apply of the v3 object, taking ownership of what it sets.
    const applied = await client.patch(ref, name, {
      apiVersion: "projectcalico.org/v3", kind: c.kind.kind, metadata: { name, labels: { "gitops.example/owner": "argo" } }, spec: c.expected.spec,
    }, "apply", undefined, { fieldManager: "argocd", force: true });
    assert.equal(applied.metadata.labels?.["gitops.example/owner"], "argo");
    // kubectl edit / replace: a plain update.
    applied.metadata.annotations = { ...(applied.metadata.annotations ?? {}), "edited-by": "kubectl" };
    const updated = await client.update(ref, applied);
    assert.equal(updated.metadata.annotations?.["edited-by"], "kubectl");
  });

  test("negative control: a copy whose managedFields still name the removed door refuses server-side apply (kubernetes#111937)", async () => {
    const c = unrelabelled();
    const name = c.expected.metadata.name ?? "";
    await assert.rejects(
      client.patch(v3Resource(c.kind), name, { apiVersion: "projectcalico.org/v3", kind: c.kind.kind, metadata: { name, labels: { "gitops.example/owner": "argo" } } }, "apply", c.expected.metadata.namespace, { fieldManager: "argocd", force: true }),
      /invalid group\/version: projectcalico.org\/v3migration/,
    );
  });

  test("a door the controller may not open everywhere is refused with the fix, and nothing is left open", async () => {
    // A ServiceAccount that may update only the Tier CRD: the second CRD refuses.
    const rbac = (plural: string) => ({ group: "rbac.authorization.k8s.io", version: "v1", plural, namespaced: false, kind: plural === "clusterroles" ? "ClusterRole" : "ClusterRoleBinding" });
    await client.create(rbac("clusterroles"), {
      apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: "door-partial" },
      rules: [
        { apiGroups: ["apiextensions.k8s.io"], resources: ["customresourcedefinitions"], verbs: ["get", "list"] },
        { apiGroups: ["apiextensions.k8s.io"], resources: ["customresourcedefinitions"], verbs: ["update"], resourceNames: [v3CrdName(CALICO_KINDS[0]!)] },
      ],
    });
    await client.create(rbac("clusterrolebindings"), {
      apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", metadata: { name: "door-partial" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "door-partial" },
      subjects: [{ kind: "ServiceAccount", name: "door-partial", namespace: "default" }],
    });
    const sa = new KubeClient(await loadClientConfig({ kubeconfig: await cp.serviceAccountKubeconfig("default", "door-partial") }));
    try {
      const outcome = await eventually(async () => {
        const o = await openDoor(sa, UID);
        assert.equal(o.open, false);
        return o;
      }, { timeoutMs: 30_000, message: "RBAC in force" });
      assert.ok(!outcome.open && outcome.refusal.crd === v3CrdName(CALICO_KINDS[1]!), JSON.stringify(outcome));
      assert.match(!outcome.open ? outcome.refusal.reason : "", /grant the controller update on the v3 CRDs/);
      const tiers = await client.get(CRDS, v3CrdName(CALICO_KINDS[0]!));
      assert.deepEqual((tiers.spec as { versions: { name: string }[] }).versions.map((v) => v.name), ["v3"], "the one CRD it opened was closed again");
    } finally {
      sa.close();
    }
  });

  test("once closed, the door's path is no longer served", async () => {
    await eventually(async () => {
      await assert.rejects(client.request("GET", `/apis/projectcalico.org/${DOOR_VERSION}/tiers`), (err) => hasCode(err, 404));
    }, { timeoutMs: 30_000, message: "door no longer served" });
  });
});
