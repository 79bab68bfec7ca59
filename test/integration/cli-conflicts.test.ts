/**
 * `calico-migrate conflicts`: nothing computable while the aggregated APIService shadows v3
 * storage; once the controller waits for conflict resolution, every conflict recomputed from
 * storage with a diff and the commands that resolve it — and those commands do resolve it.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import YAML from "yaml";
import { migrationResource, type DatastoreMigration } from "../../src/api/datastore-migration.js";
import { runConflicts } from "../../src/cli/commands/conflicts.js";
import { runStart } from "../../src/cli/commands/start.js";
import { runStatus } from "../../src/cli/commands/status.js";
import type { ConflictReport } from "../../src/cli/conflicts.js";
import type { OutputFormat } from "../../src/cli/render/output.js";
import { parseNext } from "../../src/cli/render/output.js";
import { run } from "../../src/cli/run.js";
import { kindByName, v3Resource, V3_GROUP } from "../../src/calico/kinds.js";
import { Discovery } from "../../src/kube/discovery.js";
import type { KubeObject } from "../../src/kube/object.js";
import { APISERVICE, APISERVICE_NAME, registerApiService, resetApiServerMode } from "../harness/api-server-mode.js";
import { captureIo } from "../harness/cli.js";
import { installControllerManifests, startController, type RunningController } from "../harness/controller.js";
import { eventually } from "../harness/eventually.js";
import { sharedCluster, type TestCluster } from "../harness/shared-cluster.js";
import { writeV1 } from "../harness/v1-writer.js";

const GNP = v3Resource(kindByName("GlobalNetworkPolicy")!);
const NETSETS = v3Resource(kindByName("NetworkSet")!);

describe("calico-migrate conflicts", () => {
  let cluster: TestCluster;
  let controller: RunningController | undefined;
  const g = () => ({ kubeconfig: cluster.kubeconfigPath, color: false });
  const getDm = async () => (await cluster.admin.get(migrationResource("v1"), "v1-to-v3")) as unknown as DatastoreMigration;
  const conflicts = async (output: OutputFormat = "table") => {
    const io = captureIo();
    const code = await run(io, () => runConflicts({ ...g(), output }, io));
    return { code, io };
  };

  before(async () => {
    cluster = await sharedCluster();
    await resetApiServerMode(cluster.admin);
    // The optional foreign-owner role: the CLI starts the migration with remapping on: the controller scans for foreign owner references.
    await installControllerManifests(cluster.admin, { foreignOwnerRole: true });
    await writeV1(cluster.admin, { kind: "Tier", metadata: { name: "default" }, spec: { order: 1_000_000, defaultAction: "Deny" } });
    await writeV1(cluster.admin, { kind: "GlobalNetworkPolicy", metadata: { name: "web" }, spec: { tier: "default", selector: "app == 'web'", order: 100, types: ["Ingress"] } });
    await writeV1(cluster.admin, { kind: "NetworkSet", metadata: { name: "office", namespace: "default" }, spec: { nets: ["192.168.1.0/24"] } });
    // Someone wrote to v3 CRD storage before (e.g. while testing a v3 manifest): reach it for a moment.
    await cluster.admin.delete(APISERVICE, APISERVICE_NAME);
    const discovery = new Discovery(cluster.admin);
    await eventually(async () => {
      discovery.reset();
      assert.ok(await discovery.serves(`${V3_GROUP}/v3`, "globalnetworkpolicies"));
      await cluster.admin.list(GNP, { limit: 1 });
    }, { timeoutMs: 60_000, message: "v3 CRD storage readable" });
    await eventually(() => cluster.admin.create(GNP, { apiVersion: "projectcalico.org/v3", kind: "GlobalNetworkPolicy", metadata: { name: "web" }, spec: { tier: "default", selector: "app == 'web'", order: 5, types: ["Ingress"] } }), { timeoutMs: 60_000 });
    await cluster.admin.create(NETSETS, { apiVersion: "projectcalico.org/v3", kind: "NetworkSet", metadata: { name: "office", namespace: "default" }, spec: { nets: ["192.168.0.0/24"] } });
    await registerApiService(cluster.admin);
  });

  after(async () => {
    await controller?.stop();
  });

  test("while the aggregated APIService is registered nothing can be computed: it says so, exit 0", async () => {
    const { code, io } = await conflicts();
    assert.equal(code, 0, io.err());
    assert.match(io.out(), /^No conflicts can be computed yet\. v3 CRD storage is not readable while the aggregated APIService v3\.projectcalico\.org is registered/);
    assert.deepEqual(parseNext(io.out()), ["calico-migrate plan", "calico-migrate start"]);
    const json = JSON.parse((await conflicts("json")).io.out()) as ConflictReport;
    assert.equal(json.readable, false);
    assert.deepEqual(json.conflicts, []);
  });

  test("at WaitingForConflictResolution: each conflict with a diff and resolutions that work", async () => {
    controller = await startController(cluster);
    const startIo = captureIo();
    assert.equal(await run(startIo, () => runStart({ ...g(), validate: false, remapForeignOwnerReferences: true, watch: false, until: "Complete", timeoutMs: 0 }, startIo)), 0, startIo.err());
    await eventually(async () => assert.equal((await getDm()).status?.phase, "WaitingForConflictResolution"), { timeoutMs: 120_000, message: "waiting for conflict resolution" });

    const status = captureIo();
    assert.equal(await run(status, () => runStatus({ ...g(), output: "table" }, status)), 0);
    assert.match(status.out(), /Phase {6}WaitingForConflictResolution/);
    assert.match(status.out(), /Conflicts \(2 conditions; calico-migrate conflicts shows each with a diff\)/);
    assert.match(parseNext(status.out())[0] ?? "", /^calico-migrate conflicts$/);

    const { code, io } = await conflicts();
    assert.equal(code, 0, io.err());
    const out = io.out();
    assert.match(out, /^2 conflict\(s\): v3 objects that exist with a spec different from their v1 source/);
    assert.match(out, /Conflict 1\/2: GlobalNetworkPolicy web\n {2}differing fields: spec\.order\n {2}--- v1 \(converted\) GlobalNetworkPolicy web\n {2}\+\+\+ v3 GlobalNetworkPolicy web\n {2}@@ .* @@\n/);
    assert.match(out, /\n {2}- {2}order: 100\n {2}\+ {2}order: 5\n/);
    assert.match(out, /Keep the v1 version — delete the v3 object; the migration copies it from v1:\n {4}kubectl delete globalnetworkpolicies\.projectcalico\.org web\n/);
    assert.match(out, /kubectl replace -f - <<'EOF'\n {4}apiVersion: projectcalico\.org\/v3\n {4}kind: GlobalNetworkPolicy\n/);
    assert.match(out, /or edit it by hand until it matches: {2}kubectl edit globalnetworkpolicies\.projectcalico\.org web/);
    assert.match(out, /Keep the v3 version instead — make the v1 object match it .*\n {4}kubectl edit globalnetworkpolicies\.crd\.projectcalico\.org web/);
    assert.match(out, /Conflict 2\/2: NetworkSet default\/office\n {2}differing fields: spec\.nets\[0\]/);
    assert.match(out, /kubectl delete networksets\.projectcalico\.org office -n default/);

    const json = JSON.parse((await conflicts("json")).io.out()) as ConflictReport & { next: string[] };
    assert.equal(json.readable, true);
    assert.deepEqual(json.conflicts.map((c) => `${c.kind} ${c.namespace ?? ""}/${c.name}`), ["GlobalNetworkPolicy /web", "NetworkSet default/office"]);
    const [gnp, netset] = json.conflicts;
    assert.deepEqual(gnp!.fields, [{ path: "spec.order", v1: 100, v3: 5 }]);
    assert.equal(gnp!.v1Name, "web");

    // Resolve the policy in place with the printed object and the set by deleting it. `kubectl
    // replace` fills in the current resourceVersion of an object that has none, as done here.
    const replacement = YAML.parse(gnp!.resolve.replaceV3!.split("\n").slice(1, -1).join("\n")) as KubeObject;
    replacement.metadata.resourceVersion = (await cluster.admin.get(GNP, "web")).metadata.resourceVersion;
    await cluster.admin.update(GNP, replacement);
    assert.equal(netset!.resolve.deleteV3, "kubectl delete networksets.projectcalico.org office -n default");
    await cluster.admin.delete(NETSETS, "office", "default");

    const after = await conflicts();
    assert.equal(after.code, 0);
    assert.match(after.io.out(), /^No conflicts: every v1 object either has no v3 counterpart yet or an equal one/);
    // The controller may already have seen the resolution and left WaitingForConflictResolution
    // (then the note about its next poll is dropped): the next step is the same either way.
    const hint = /Next:\n {2}calico-migrate watch --until Converged( {3}# the controller resumes on its next poll)?\n/.exec(after.io.out());
    assert.ok(hint, after.io.out());

    const dm = await eventually(async () => {
      const d = await getDm();
      assert.equal(d.status?.phase, "Converged", d.status?.message);
      return d;
    }, { timeoutMs: 120_000, message: "Converged after the conflicts were resolved" });
    const web = await cluster.admin.get(GNP, "web");
    assert.equal((web.spec as { order: number }).order, 100, "the v1 version won");
    const office = await cluster.admin.get(NETSETS, "office", "default");
    assert.equal(office.metadata.annotations?.["migration.projectcalico.org/migrated-by"], dm.metadata.uid, "re-created by the migration");
  });
});
