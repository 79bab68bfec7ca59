/**
 * `calico-migrate watch` following a migration to Complete — plain lines, JSON documents and a
 * terminal frame at once — and, at Converged, what must be refused or time out: watch
 * --timeout (exit 3), switch-components --dry-run, finalize before Complete, abort once a
 * component runs with the v3 API group; and abort and switch-components at Complete.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { migrationResource, type DatastoreMigration } from "../../src/api/datastore-migration.js";
import { runAbort } from "../../src/cli/commands/abort.js";
import { runFinalize } from "../../src/cli/commands/finalize.js";
import { runStart } from "../../src/cli/commands/start.js";
import { runStatus } from "../../src/cli/commands/status.js";
import { runReport } from "../../src/cli/commands/report.js";
import { runSwitchComponents } from "../../src/cli/commands/switch-components.js";
import { runWatch, type WatchOptions } from "../../src/cli/commands/watch.js";
import { parseNext } from "../../src/cli/render/output.js";
import { run } from "../../src/cli/run.js";
import { COMPONENTS_NAMESPACE, DAEMONSETS, DEPLOYMENTS, INSTALLATIONS, resetApiServerMode } from "../harness/api-server-mode.js";
import { captureIo, completeRollouts, spawnCli, type CapturedIo } from "../harness/cli.js";
import { installControllerManifests, startController, type RunningController } from "../harness/controller.js";
import { eventually } from "../harness/eventually.js";
import { sharedCluster, type TestCluster } from "../harness/shared-cluster.js";
import { writeV1 } from "../harness/v1-writer.js";

const ENV = { name: "CALICO_API_GROUP", value: "projectcalico.org/v3" };

describe("calico-migrate watch", () => {
  let cluster: TestCluster;
  let controller: RunningController;
  const g = () => ({ kubeconfig: cluster.kubeconfigPath, color: true });
  const dm = async () => (await cluster.admin.get(migrationResource("v1"), "v1-to-v3")) as unknown as DatastoreMigration;

  before(async () => {
    cluster = await sharedCluster();
    await resetApiServerMode(cluster.admin);
    // The optional foreign-owner role: the CLI starts the migration with remapping on: the controller scans for foreign owner references.
    await installControllerManifests(cluster.admin, { foreignOwnerRole: true });
    await writeV1(cluster.admin, { kind: "Tier", metadata: { name: "security" }, spec: { order: 200 } });
    for (let i = 0; i < 30; i++) await writeV1(cluster.admin, { kind: "GlobalNetworkSet", metadata: { name: `set-${i}` }, spec: { nets: [`10.${i}.0.0/16`] } });
    controller = await startController(cluster);
  });

  after(async () => {
    await controller?.stop();
  });

  test("follows the migration to Complete in three forms; at Converged refuses and times out as it should", async () => {
    const startIo = captureIo();
    assert.equal(await run(startIo, () => runStart({ ...g(), validate: false, remapForeignOwnerReferences: true, watch: false, until: "Complete", timeoutMs: 0 }, startIo)), 0, startIo.err());

    const watchers: { io: CapturedIo; done: Promise<number> }[] = [];
    const follow = (io: CapturedIo, o: Partial<WatchOptions> = {}) => {
      const done = run(io, () => runWatch({ ...g(), output: "table", until: "Complete", timeoutMs: 180_000, ...o }, io));
      watchers.push({ io, done });
      return done;
    };
    const plain = captureIo();
    const json = captureIo();
    const tty = captureIo({ isTTY: true });
    void follow(plain);
    void follow(json, { output: "json" });
    void follow(tty);

    await eventually(async () => assert.equal((await dm()).status?.phase, "Converged"), { timeoutMs: 120_000, message: "Converged" });

    // --timeout: exit 3, in-process and from the real binary.
    const timeout = captureIo();
    assert.equal(await run(timeout, () => runWatch({ ...g(), output: "table", until: "Complete", timeoutMs: 1500 }, timeout)), 3);
    assert.match(timeout.err(), /^error: timed out after 1\.5s waiting for phase Complete: the migration is in phase Converged: /);
    assert.deepEqual(parseNext(timeout.err()), ["calico-migrate switch-components", "calico-migrate finalize"]);
    const bin = await spawnCli(["watch", "--timeout", "1s", "--kubeconfig", cluster.kubeconfigPath]);
    assert.equal(bin.code, 3, bin.stderr);
    const binUntil = await spawnCli(["watch", "--until", "Converged", "--kubeconfig", cluster.kubeconfigPath]);
    assert.equal(binUntil.code, 0, binUntil.stderr);
    assert.match(binUntil.stdout, /phase Converged/);

    // An operator-managed install: the operator switches the components, so the CLI refuses and says so.
    await cluster.admin.create(INSTALLATIONS, { apiVersion: "operator.tigera.io/v1", kind: "Installation", metadata: { name: "default" }, spec: {} });
    try {
      const op = captureIo();
      assert.equal(await run(op, () => runSwitchComponents({ ...g(), dryRun: false, force: false, timeoutMs: 0 }, op)), 1);
      assert.match(op.err(), /^error: this install is managed by the Tigera operator \(an operator\.tigera\.io Installation exists\): the operator sets CALICO_API_GROUP/);
      assert.deepEqual(parseNext(op.err()), ["calico-migrate watch", "calico-migrate finalize"]);
      const opStatus = captureIo();
      assert.equal(await run(opStatus, () => runStatus({ ...g(), output: "json" }, opStatus)), 0);
      assert.match((JSON.parse(opStatus.out()) as { next: string[] }).next[0] ?? "", /the operator switches the components/);
    } finally {
      await cluster.admin.delete(INSTALLATIONS, "default");
    }

    // --dry-run prints the patches and changes nothing.
    const dry = captureIo();
    assert.equal(await run(dry, () => runSwitchComponents({ ...g(), dryRun: true, force: false, timeoutMs: 0 }, dry)), 0, dry.err());
    assert.match(dry.out(), /daemonset\.apps\/calico-node \(namespace calico-system\): would set CALICO_API_GROUP=projectcalico\.org\/v3 on container calico-node, init container install-cni:\n {2}kubectl -n calico-system patch daemonset calico-node --type strategic -p '\{"spec":\{"template":\{"spec":\{"containers":\[\{"name":"calico-node","env":\[\{"name":"CALICO_API_GROUP","value":"projectcalico\.org\/v3"\}\]\}\],"initContainers"/);
    assert.match(dry.out(), /\(dry run: nothing was changed\)/);
    const node = await cluster.admin.get(DAEMONSETS, "calico-node", COMPONENTS_NAMESPACE);
    assert.doesNotMatch(JSON.stringify(node.spec), /CALICO_API_GROUP/);

    // finalize before Complete: refused, nothing deleted.
    const early = captureIo();
    assert.equal(await run(early, () => runFinalize({ ...g(), yes: true, timeoutMs: 0 }, early)), 1);
    assert.match(early.err(), /the migration is in phase Converged, not Complete/);
    assert.equal((await dm()).metadata.deletionTimestamp, undefined);

    // Once one component runs with the v3 API group, an abort would not roll back: refused, nothing deleted.
    await cluster.admin.patch(DAEMONSETS, "calico-node", { spec: { template: { spec: { containers: [{ name: "calico-node", env: [ENV] }] } } } }, "strategic", COMPONENTS_NAMESPACE);
    const abort = captureIo();
    assert.equal(await run(abort, () => runAbort({ ...g(), yes: true, timeoutMs: 0 }, abort)), 1);
    assert.match(abort.err(), /refusing to abort: the migration is Converged and can no longer be rolled back safely \(calico-node already run with the v3 API group\)\. Deleting the DatastoreMigration now would not roll anything back: the controller would drive on to Complete and then delete the v1 CRDs\. Nothing was deleted/);
    assert.deepEqual(parseNext(abort.err()), ["calico-migrate switch-components", "calico-migrate finalize"]);
    assert.equal((await dm()).metadata.deletionTimestamp, undefined);

    // The rest of the switch, as an operator or a person would do it; then the rollouts finish.
    await cluster.admin.patch(DAEMONSETS, "calico-node", { spec: { template: { spec: { initContainers: [{ name: "install-cni", env: [ENV] }] } } } }, "strategic", COMPONENTS_NAMESPACE);
    for (const name of ["calico-typha", "calico-kube-controllers"]) {
      await cluster.admin.patch(DEPLOYMENTS, name, { spec: { template: { spec: { containers: [{ name, env: [ENV] }] } } } }, "strategic", COMPONENTS_NAMESPACE);
    }
    await completeRollouts(cluster);

    const codes = await Promise.all(watchers.map((w) => w.done));
    assert.deepEqual(codes, [0, 0, 0], watchers.map((w) => w.io.err()).join("\n"));

    const lines = plain.out().split("\n");
    assert.ok(lines.some((l) => /^\d\d:\d\d:\d\d phase Converged \(after \d+s in (Pending|Migrating)\)/.test(l)), plain.out());
    assert.ok(lines.some((l) => /^\d\d:\d\d:\d\d phase Complete \(after \d+s in Converged\): Migration complete$/.test(l)), plain.out());
    assert.ok(!plain.out().includes("\u001b["), "no escape sequences when not a terminal");
    assert.deepEqual(parseNext(plain.out()), ["calico-migrate finalize"]);

    const docs = json.out().trim().split("\n").map((l) => JSON.parse(l) as { phase: string; next: string[]; time: string });
    assert.ok(docs.length >= 2);
    assert.ok(docs.some((d) => d.phase === "Converged"));
    assert.equal(docs[docs.length - 1]!.phase, "Complete");
    assert.deepEqual(docs[docs.length - 1]!.next, ["calico-migrate finalize"]);

    const ESC = String.fromCharCode(27);
    assert.ok(new RegExp(`${ESC}\\[\\d+F${ESC}\\[0J`).test(tty.out()), "the frame is redrawn in place");
    assert.match(tty.out(), /█{20}/, "per-kind bars");
    assert.match(tty.out(), /GlobalNetworkSet/);
    assert.match(tty.out(), /Next:\n {2}calico-migrate finalize\n$/);

    // At Complete: abort points to finalize, switch-components has nothing to do.
    const lateAbort = captureIo();
    assert.equal(await run(lateAbort, () => runAbort({ ...g(), yes: true, timeoutMs: 0 }, lateAbort)), 1);
    assert.match(lateAbort.err(), /the migration is Complete: every component runs on v3 and there is nothing to roll back/);
    assert.deepEqual(parseNext(lateAbort.err()), ["calico-migrate finalize"]);
    const noReport = captureIo();
    assert.equal(await run(noReport, () => runReport({ ...g(), output: "table", namespace: "nowhere" }, noReport)), 1);
    assert.match(noReport.err(), /^error: no migration report in namespace nowhere/);
    const lateSwitch = captureIo();
    assert.equal(await run(lateSwitch, () => runSwitchComponents({ ...g(), dryRun: false, force: false, timeoutMs: 0 }, lateSwitch)), 1);
    assert.match(lateSwitch.err(), /it is already Complete/);
  });
});
