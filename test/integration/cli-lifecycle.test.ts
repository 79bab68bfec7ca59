/**
 * The whole migration driven only by the "Next:" lines calico-migrate prints: plan → start →
 * watch --until Converged → switch-components (this test plays kubelet and the workload
 * controllers by writing rollout status) → finalize (refused without --yes, as printed) →
 * report; ending Complete, with the CR and every v1 CRD gone.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { migrationResource } from "../../src/api/datastore-migration.js";
import { runCli } from "../../src/cli/program.js";
import { parseNext } from "../../src/cli/render/output.js";
import { V1_GROUP } from "../../src/calico/kinds.js";
import { isNotFound } from "../../src/kube/errors.js";
import { CRDS } from "../../src/migration/prerequisites.js";
import { resetApiServerMode } from "../harness/api-server-mode.js";
import { captureIo, completeRollouts, type CapturedIo } from "../harness/cli.js";
import { installControllerManifests, startController, type RunningController } from "../harness/controller.js";
import { sharedCluster, type TestCluster } from "../harness/shared-cluster.js";
import { ownerRefTo, writeV1 } from "../harness/v1-writer.js";

const CONFIGMAPS = { group: "", version: "v1", plural: "configmaps", namespaced: true, kind: "ConfigMap" } as const;

describe("calico-migrate, following its own Next: lines", () => {
  let cluster: TestCluster;
  let controller: RunningController;

  /** Runs a printed command line in-process against the test cluster. */
  const cli = async (line: string, io: CapturedIo = captureIo()): Promise<{ code: number; io: CapturedIo }> => {
    const argv = line.split(/\s+/).filter(Boolean);
    assert.equal(argv.shift(), "calico-migrate", `a calico-migrate command: ${line}`);
    const code = await runCli([...argv, "--kubeconfig", cluster.kubeconfigPath], io);
    return { code, io };
  };

  before(async () => {
    cluster = await sharedCluster();
    await resetApiServerMode(cluster.admin);
    // The optional foreign-owner role: a ConfigMap owned by a Calico Tier must follow its owner to v3 (foreign owner references).
    await installControllerManifests(cluster.admin, { foreignOwnerRole: true });
    const def = await writeV1(cluster.admin, { kind: "Tier", metadata: { name: "default" }, spec: { order: 1_000_000, defaultAction: "Deny" } });
    const security = await writeV1(cluster.admin, { kind: "Tier", metadata: { name: "security" }, spec: { order: 200 } });
    await writeV1(cluster.admin, { kind: "GlobalNetworkPolicy", metadata: { name: "deny-all", ownerReferences: [ownerRefTo(def, "Tier")] }, spec: { tier: "default", selector: "all()", types: ["Ingress"] } }, { crName: "default.deny-all", omitNameInAnnotation: true });
    await writeV1(cluster.admin, { kind: "NetworkPolicy", metadata: { name: "allow-web", namespace: "default" }, spec: { tier: "default", selector: "app == 'web'", ingress: [{ action: "Allow" }] } });
    await cluster.admin.create(CONFIGMAPS, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "lifecycle-owned", namespace: "default", ownerReferences: [ownerRefTo(security, "Tier")] }, data: { k: "v" } });
    controller = await startController(cluster);
  });

  after(async () => {
    await controller?.stop();
    await cluster.admin.delete(CONFIGMAPS, "lifecycle-owned", "default").catch(() => undefined);
  });

  test("plan → start → watch → switch-components → finalize ends Complete with the v1 CRDs gone", async () => {
    const plan = await cli("calico-migrate plan");
    assert.equal(plan.code, 0, plan.io.err());
    assert.match(plan.io.out(), /Objects to migrate: 4 in 3 of 21 kinds/);
    let next = parseNext(plan.io.out());
    assert.deepEqual(next, ["calico-migrate start"]);

    const start = await cli(next[0]!);
    assert.equal(start.code, 0, start.io.err());
    assert.match(start.io.out(), /Plan: 4 objects in 3 kinds, 1 renames, 1 foreign dependents/);
    assert.match(start.io.out(), /datastoremigration\.migration\.projectcalico\.org\/v1-to-v3 created \(migration\.projectcalico\.org\/v1\)/);
    next = parseNext(start.io.out());
    assert.deepEqual(next, ["calico-migrate watch --until Converged"]);

    const watch = await cli(next[0]!);
    assert.equal(watch.code, 0, watch.io.err());
    assert.match(watch.io.out(), /^\d\d:\d\d:\d\d phase (Pending|Migrating)/m);
    assert.match(watch.io.out(), /^\d\d:\d\d:\d\d phase Converged/m);
    next = parseNext(watch.io.out());
    assert.deepEqual(next, ["calico-migrate switch-components", "calico-migrate finalize"]);

    // status at Converged, both forms.
    const status = await cli("calico-migrate status");
    assert.equal(status.code, 0);
    assert.match(status.io.out(), /Phase {6}Converged/);
    assert.match(status.io.out(), /Progress {3}21 \/ 21 kinds, 4 migrated, 0 skipped, 0 conflicts/);
    // Both v1 tiers (default, security) were created in v3 by the copy: none existed there before.
    assert.match(status.io.out(), /\n +KIND +V1 +MIGRATED +SKIPPED +CONFLICTS +STATE\n +Tier +2 +2 +0 +0 +done\n/);
    assert.match(status.io.out(), /\n +GlobalNetworkPolicy +1 +1 +0 +0 +done\n +NetworkPolicy +1 +1 +0 +0 +done\n/);
    const statusJson = await cli("calico-migrate status -o json");
    const view = JSON.parse(statusJson.io.out()) as { phase: string; next: string[]; timeline: { event: string }[]; kinds: { kind: string; migrated: number }[] };
    assert.equal(view.phase, "Converged");
    assert.deepEqual(view.next, ["calico-migrate switch-components", "calico-migrate finalize"]);
    assert.deepEqual(view.timeline.map((t) => t.event), ["Created", "Datastore locked", "Copy started (Migrating)"]);
    assert.equal(view.kinds.find((k) => k.kind === "Tier")?.migrated, 2);

    const switching = cli(next[0]!);
    await completeRollouts(cluster);
    const sw = await switching;
    assert.equal(sw.code, 0, sw.io.err());
    assert.match(sw.io.out(), /daemonset\.apps\/calico-node patched: CALICO_API_GROUP=projectcalico\.org\/v3 on container calico-node, init container install-cni/);
    assert.match(sw.io.out(), /deployment\.apps\/calico-typha patched/);
    assert.match(sw.io.out(), /daemon set "calico-node" successfully rolled out/);
    assert.match(sw.io.out(), /deployment "calico-kube-controllers" successfully rolled out/);
    assert.match(sw.io.out(), /Migration complete: every component runs with the v3 API group\./);
    next = parseNext(sw.io.out());
    assert.deepEqual(next, ["calico-migrate finalize"]);

    // Not a terminal and no --yes: refused, and the error says what to run instead.
    const refused = await cli(next[0]!);
    assert.equal(refused.code, 1);
    assert.match(refused.io.err(), /^error: not a terminal, so no confirmation can be asked: nothing was changed/);
    next = parseNext(refused.io.err());
    assert.deepEqual(next, ["calico-migrate finalize --yes"]);

    const finalize = await cli(next[0]!);
    assert.equal(finalize.code, 0, finalize.io.err());
    assert.match(finalize.io.out(), /deleted\n/);
    assert.match(finalize.io.out(), /is gone: the v1 CRD cleanup finished/);
    assert.match(finalize.io.out(), /Every crd\.projectcalico\.org CRD is deleted\./);
    assert.match(finalize.io.out(), /Remaining steps .*\n {2}1\. Remove the Calico API server/);
    await assert.rejects(cluster.admin.get(migrationResource("v1"), "v1-to-v3"), (e) => isNotFound(e));
    const left = (await cluster.admin.listAll(CRDS)).filter((c) => (c.spec as { group: string }).group === V1_GROUP);
    assert.deepEqual(left.map((c) => c.metadata.name), []);
    next = parseNext(finalize.io.out());
    assert.deepEqual(next, ["calico-migrate report"]);

    const report = await cli(next[0]!);
    assert.equal(report.code, 0, report.io.err());
    assert.match(report.io.out(), /Migration report: v1-to-v3/);
    assert.match(report.io.out(), /Renamed \(1\)\n +KIND +NAMESPACE +V1 NAME +V3 NAME\n +GlobalNetworkPolicy +default\.deny-all +deny-all/);
    assert.match(report.io.out(), /Remapped foreign owner references \(1\)\n.*\n +configmaps +default +lifecycle-owned +1 +0/);
    const md = await cli("calico-migrate report -o markdown");
    assert.match(md.io.out(), /^# Migration report: v1-to-v3\n/);
    assert.match(md.io.out(), /\| GlobalNetworkPolicy \| {2}\| default\.deny-all \| deny-all \|/);
    const json = JSON.parse((await cli("calico-migrate report -o json")).io.out()) as { kinds: { kind: string; migrated: number }[] };
    assert.equal(json.kinds.reduce((n, k) => n + k.migrated, 0), 4);
  });
});
