/**
 * An HA control plane: three kube-apiservers on one etcd behind the round-robin front proxy, the
 * last of which lags: for 30 s after the APIService is deleted (far longer than the drain) the
 * projectcalico.org/v3 requests that fall to it are proxied to the live Calico API server, which
 * answers from v1 storage and would write there. The migration must still end with every v1
 * object exactly once in v3 with an equal spec, no v1 object written by the controller but the
 * lock, no conflict invented, and the Calico API server's answers never counted.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { CALICO_KINDS, v1Resource } from "../../src/calico/kinds.js";
import { Names, type DatastoreMigration } from "../../src/api/datastore-migration.js";
import { withoutCalicoOwners } from "../../src/convert/detached-metadata.js";
import { installApiServerMode } from "../harness/api-server-mode.js";
import { ControlPlane } from "../harness/control-plane.js";
import { CONTROLLER_NAMESPACE, CONTROLLER_SA, installControllerManifests, startController, type RunningController } from "../harness/controller.js";
import { compareDatastores, describeComparison } from "../harness/datastore-compare.js";
import { eventually } from "../harness/eventually.js";
import { createMigration, waitPhase } from "../harness/migration-cr.js";
import { seedSampleCluster } from "../harness/sample-cluster.js";
import type { TestCluster } from "../harness/shared-cluster.js";

const LAG_MS = 30_000;

/** Every v1 CR of every migrated kind: `Kind/ns/name` → resourceVersion. */
async function v1Versions(cp: ControlPlane): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const kind of CALICO_KINDS) {
    for await (const cr of cp.admin.listItems(v1Resource(kind), { metadataOnly: true })) {
      out.set(`${kind.kind}/${cr.metadata.namespace ?? ""}/${cr.metadata.name ?? ""}`, cr.metadata.resourceVersion ?? "");
    }
  }
  return out;
}

describe("HA control plane with a lagging kube-apiserver", () => {
  let cp: ControlPlane;
  let cluster: TestCluster;
  let controller: RunningController;
  let v1Before: Map<string, string>;
  let dm: DatastoreMigration;

  before(async () => {
    // Not privateCluster(): its after() registered from a before() hook would stop it at once.
    cp = await ControlPlane.start({ apiservers: 3 });
    cluster = { admin: cp.admin, kubeconfigPath: cp.kubeconfigPath, dir: cp.dir, serviceAccountKubeconfig: (ns, n) => cp.serviceAccountKubeconfig(ns, n), sideState: () => cp.sideState() };
    await installApiServerMode(cp.admin);
    // The optional foreign-owner role: its migration scans for foreign owner references (the CR does not opt out).
    await installControllerManifests(cp.admin, { foreignOwnerRole: true });
    await seedSampleCluster(cp.admin, { throughApi: true });
    v1Before = await v1Versions(cp);
    await cp.setLag(LAG_MS);
    controller = await startController(cluster);
    await createMigration(cp.admin);
    dm = await waitPhase(cp.admin, "Converged", { timeoutMs: 240_000 });
    // Compare only once no replica lags any more.
    await eventually(async () => {
      const ha = (await cp.sideState()).ha;
      assert.ok(ha?.apiServiceDeletedAt && Date.now() - Date.parse(ha.apiServiceDeletedAt) > LAG_MS + 1000, "lag window over");
    }, { timeoutMs: LAG_MS + 30_000, message: "the lagging replica caught up" });
  });

  after(async () => {
    await controller?.stop();
    await cp?.stop();
  });

  test("the lagging replica really answered projectcalico.org/v3 requests from the Calico API server", async () => {
    const state = await cp.sideState();
    assert.ok((state.ha?.lagged ?? 0) > 0, `requests proxied by the lagging replica: ${state.ha?.lagged}`);
    assert.ok(state.ha?.requests.every((n) => n > 0), `every replica served requests: ${JSON.stringify(state.ha?.requests)}`);
  });

  test("the verification waited until no replica answered projectcalico.org/v3 from the Calico API server", (t) => {
    // Before that, the garbage collector can look a copy's Calico owner up through the lagging
    // replica, meet another uid and delete the copy after a verification that saw it.
    const line = controller.log.lines.find((l) => l.includes("projectcalico.org/v3 settled on CRD storage"));
    assert.ok(line, "the controller logged the wait");
    const fields = JSON.parse(line.slice(line.indexOf("{"))) as { settled: boolean; wrong: number; durationMs: number };
    assert.equal(fields.settled, true);
    assert.ok(fields.wrong > 0, `the probes met the lagging replica: ${line}`);
    // What it found: a copy the collector deleted during the lag shows up as re-created here.
    t.diagnostic(`waited ${fields.durationMs} ms; ${dm.status?.conditions?.find((c) => c.type === "Verified")?.message ?? "no Verified condition"}`);
  });

  test("every v1 object is in v3 exactly once with an equal spec, and nothing else is", async () => {
    const c = await compareDatastores(cp.admin);
    assert.ok(c.v1Total > 30, `seeded objects: ${c.v1Total}`);
    assert.deepEqual({ missing: c.missing, different: c.different, extras: c.extras, duplicated: c.duplicated }, { missing: [], different: [], extras: [], duplicated: [] }, describeComparison(c));
    assert.equal(c.matched, c.v1Total);
  });

  test("no v1 object was written by the controller but to take Calico owner references out of its annotation (the lock is not a migrated kind)", async () => {
    const now = await v1Versions(cp);
    assert.deepEqual([...now.keys()].sort(), [...v1Before.keys()].sort());
    const changed = [...now.entries()].filter(([key, rv]) => v1Before.get(key) !== rv).map(([key]) => key);
    const detached: string[] = [];
    for (const kind of CALICO_KINDS) {
      for await (const cr of cp.admin.listItems(v1Resource(kind), { metadataOnly: true, labelSelector: `${Names.detachedBy}=${dm.metadata.uid ?? ""}` })) {
        const a = cr.metadata.annotations ?? {};
        const recorded = a[Names.detachedMetadata] ?? "";
        assert.equal(a[Names.calicoMetadata], withoutCalicoOwners(recorded), `${kind.kind} ${cr.metadata.name}: only the Calico owner references left the annotation`);
        detached.push(`${kind.kind}/${cr.metadata.namespace ?? ""}/${cr.metadata.name ?? ""}`);
      }
    }
    // Its CR may carry the legacy `default.` prefix (the stand-in stores default-tier policies either way, as Calico releases did).
    assert.ok(detached.some((k) => /^GlobalNetworkPolicy\/\/(default\.)?deny-all-ingress$/.test(k)), `the policy owned by Tier default is detached: ${detached.join(", ")}`);
    assert.deepEqual(changed.sort(), detached.sort());
  });

  test("every write the controller made through the Calico API server is accounted for", async (t) => {
    // What the lagging replica carried to the Calico API server and so to v1 storage, by the
    // controller's own identity. A renamed policy (legacy `default.foo` → `foo`) has no v1 CR of
    // its v3 name, so its create is stored in v1 there: the controller must recognise it and
    // delete it again. Any other write (an update, a create left behind) would be a v1 change.
    const user = `system:serviceaccount:${CONTROLLER_NAMESPACE}:${CONTROLLER_SA}`;
    const all = (await cp.sideState()).calico.writes;
    assert.ok(all.some((w) => w.verb === "create" && w.user !== user), "the record holds the seeding's creates (it records at all)");
    const writes = all.filter((w) => w.user === user);
    const key = (w: { resource: string; namespace?: string; name?: string }) => `${w.resource}/${w.namespace ?? ""}/${w.name ?? ""}`;
    const deleted = new Set(writes.filter((w) => w.verb === "delete").map(key));
    const unaccounted = writes.filter((w) => !(w.verb === "create" && deleted.has(key(w))) && !(w.verb === "delete" && writes.some((c) => c.verb === "create" && key(c) === key(w))));
    assert.deepEqual(unaccounted, [], `controller writes through the Calico API server: ${JSON.stringify(writes)}`);
    const creates = writes.filter((w) => w.verb === "create");
    assert.equal(creates.length, deleted.size, "each create it stored in v1 was deleted once");
    t.diagnostic(`renamed creates stored in v1 by the lagging replica and removed again: ${creates.length}`);
  });

  test("no conflict was invented and the status counts what v3 storage holds", () => {
    assert.equal(dm.status?.progress?.conflicts ?? 0, 0);
    assert.deepEqual((dm.status?.conditions ?? []).filter((c) => c.type === "Conflict"), []);
    assert.equal((dm.status?.progress?.migrated ?? 0) + (dm.status?.progress?.skipped ?? 0), v1Before.size);
  });
});
