/**
 * `calico-migrate plan` on a real control plane in API-server mode: a clean cluster, drifted
 * built-in tiers, an IPPool only the v3 API rejects, a ConfigMap owned by a Calico object, and
 * two v1 policies colliding on one v3 name; table and JSON output, exit codes, --emit-rbac.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import YAML from "yaml";
import { runPlan, type PlanCommandOptions } from "../../src/cli/commands/plan.js";
import { runStart } from "../../src/cli/commands/start.js";
import { migrationResource } from "../../src/api/datastore-migration.js";
import { isNotFound } from "../../src/kube/errors.js";
import { parseNext } from "../../src/cli/render/output.js";
import { run } from "../../src/cli/run.js";
import type { PlanReport } from "../../src/migration/planner.js";
import type { ForeignScan } from "../../src/migration/foreign-owners.js";
import { kindByName, v1Resource } from "../../src/calico/kinds.js";
import { collectionPath } from "../../src/kube/resource.js";
import type { KubeObject } from "../../src/kube/object.js";
import { LEASES } from "../../src/kube/leader-election.js";
import { CRDS } from "../../src/migration/prerequisites.js";
import { SCRATCH_GROUP } from "../../src/migration/validation.js";
import { VALIDATION_LEASE, VALIDATION_LEASE_NAMESPACE } from "../../src/migration/validation-lease.js";
import { resetApiServerMode } from "../harness/api-server-mode.js";
import { captureIo, spawnCli, writeLegacyV1, type CapturedIo } from "../harness/cli.js";
import { installControllerManifests } from "../harness/controller.js";
import { sharedCluster, type TestCluster } from "../harness/shared-cluster.js";
import { ownerRefTo, writeV1 } from "../harness/v1-writer.js";

const CONFIGMAPS = { group: "", version: "v1", plural: "configmaps", namespaced: true, kind: "ConfigMap" } as const;

describe("calico-migrate plan", () => {
  let cluster: TestCluster;
  const opts = (o: Partial<PlanCommandOptions> = {}): PlanCommandOptions => ({ kubeconfig: cluster.kubeconfigPath, color: false, output: "table", validate: true, emitRbac: false, ...o });
  const plan = async (o: Partial<PlanCommandOptions> = {}): Promise<{ code: number; io: CapturedIo }> => {
    const io = captureIo();
    const code = await run(io, () => runPlan(opts(o), io));
    return { code, io };
  };
  const planJson = async (o: Partial<PlanCommandOptions> = {}) => {
    const { code, io } = await plan({ ...o, output: "json" });
    return { code, report: JSON.parse(io.out()) as PlanReport & { next: string[] }, io };
  };
  /** Deletes the v1 objects of the kinds a test wrote. */
  const clear = async (...kinds: string[]) => {
    for (const k of kinds) await cluster.admin.request("DELETE", collectionPath(v1Resource(kindByName(k)!)));
  };

  before(async () => {
    cluster = await sharedCluster();
    await resetApiServerMode(cluster.admin);
    await installControllerManifests(cluster.admin);
  });

  after(async () => {
    await clear("Tier", "IPPool", "GlobalNetworkPolicy");
  });

  test("a clean cluster: every prerequisite met, nothing blocks, exit 0 and the next command is start", async () => {
    const { code, io } = await plan();
    assert.equal(code, 0, io.err());
    const out = io.out();
    for (const check of ["v1 CRDs (crd.projectcalico.org)", "v3 CRDs (projectcalico.org)", "MutatingAdmissionPolicy", "RBAC", "v1 ClusterInformation default", "APIService v3.projectcalico.org"]) {
      assert.match(out, new RegExp(`✓ ${check.replace(/[().]/g, "\\$&")}`), check);
    }
    assert.match(out, /Objects to migrate: 0 in 0 of 21 kinds/);
    assert.match(out, /Blockers: 0/);
    assert.match(out, /every converted object was dry-run against the v3 CRDs/);
    // It says what it wrote for the validation, and those objects are gone again (the namespace stays).
    assert.match(out, /written for it and removed again \(no Calico object was changed\):\n {4}- Namespace calico-datastore-migration, if missing .*\n {4}- Lease calico-datastore-migration\/calico-datastore-migration-validation .*deleted at the end\n {4}- a copy of every v3 CRD in the group validation\.migration\.projectcalico\.org: deleted at the end\n {4}- 4 copies of Calico's mutating admission policies and bindings/);
    await assert.rejects(cluster.admin.get(LEASES, VALIDATION_LEASE, VALIDATION_LEASE_NAMESPACE), (e) => isNotFound(e), "the validation Lease is deleted");
    // A deleted CRD goes once its storage is cleaned up: every scratch CRD left is on its way out.
    const scratch = (await cluster.admin.listAll(CRDS)).filter((c) => (c.spec as { group: string }).group === SCRATCH_GROUP);
    assert.deepEqual(scratch.filter((c) => !c.metadata.deletionTimestamp).map((c) => c.metadata.name), [], "the scratch CRDs are deleted");
    const quick = await plan({ validate: false });
    assert.match(quick.io.out(), /Server-side validation\n {2}skipped .*\n {2}nothing was written to the cluster\n/);
    assert.match(out, /Conflicts with existing v3 objects\n {2}not checked: .*APIService is unregistered/);
    assert.match(out, /Locked window\n {2}about \d+s \(10s drain, 0 objects at ~\d+\/s/);
    assert.deepEqual(parseNext(out), ["calico-migrate start"]);
    assert.equal(io.err(), "");

    const { code: jsonCode, report } = await planJson();
    assert.equal(jsonCode, 0);
    assert.deepEqual(report.blockers, []);
    assert.equal(report.total, 0);
    assert.equal(report.kinds.length, 21);
    assert.equal(report.validated, true);
    assert.equal(report.conflicts, null);
    assert.equal(report.prerequisites.apiService, "aggregated");
    assert.deepEqual(report.next, ["calico-migrate start"]);
  });

  test("a drifted built-in tier blocks with Calico's message and the fix; exit 1", async (t) => {
    await writeLegacyV1(cluster.admin, "Tier", () => writeV1(cluster.admin, { kind: "Tier", metadata: { name: "kube-admin" }, spec: { order: 42, defaultAction: "Pass" } }));
    t.after(() => clear("Tier"));
    const { code, io } = await plan();
    assert.equal(code, 1);
    assert.match(io.out(), /TierDrift\n {6}Correct the following v1 tiers before migration can start: tier "kube-admin" must have order 1000\n {6}fix: kubectl edit tiers\.crd\.projectcalico\.org/);
    assert.match(io.err(), /^error: \d blocker\(s\) must be fixed before the migration can start: .*TierDrift/);
    assert.match(io.err(), /Next:\n {2}fix each blocker above/);
    assert.deepEqual(parseNext(io.out()), [], "a blocked plan offers no start");
    const { report } = await planJson({ validate: false });
    assert.deepEqual(report.blockers.map((b) => b.code), ["TierDrift"]);
  });

  test("an IPPool with an unmasked CIDR is caught by the server-side validation (and only by it)", async (t) => {
    await writeLegacyV1(cluster.admin, "IPPool", () => writeV1(cluster.admin, { kind: "IPPool", metadata: { name: "unmasked" }, spec: { cidr: "10.0.0.1/24" } }));
    t.after(() => clear("IPPool"));
    const started = Date.now();
    const { code, io } = await plan();
    assert.equal(code, 1, `${io.err()} after ${Date.now() - started} ms`);
    assert.match(io.out(), /InvalidObject {2}IPPool\/unmasked\n {6}IPPool "unmasked" would be rejected by the v3 API at spec: .*strictly masked/);
    assert.match(io.out(), /fix: correct it in v1: kubectl edit ippools\.crd\.projectcalico\.org unmasked/);
    const { code: noValidate, report } = await planJson({ validate: false });
    assert.equal(noValidate, 0, "without the server's judgement nothing flags it");
    assert.equal(report.validated, false);
    assert.equal(report.kinds.find((k) => k.kind === "IPPool")?.count, 1);
  });

  test("a ConfigMap owned by a Calico object is listed as protected; --emit-rbac scopes a role to ConfigMaps", async () => {
    const tier = await writeV1(cluster.admin, { kind: "Tier", metadata: { name: "security" }, spec: { order: 200 } });
    await cluster.admin.create(CONFIGMAPS, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "owned-by-tier", namespace: "default", ownerReferences: [ownerRefTo(tier, "Tier")] }, data: { k: "v" } });
    try {
      const { code, io } = await plan();
      assert.equal(code, 0, io.err());
      assert.match(io.out(), /1 non-Calico object\(s\) have Calico owners; the controller protects them/);
      assert.match(io.out(), /RESOURCE +NAMESPACE +NAME +CALICO OWNERS\n +configmaps +default +owned-by-tier +Tier\/security/);
      assert.match(io.out(), /Warnings: 1\n {2}ForeignOwnerReferences/);
      const { report } = await planJson({ validate: false });
      assert.deepEqual((report.foreign as ForeignScan).dependents.map((d) => `${d.resource.plural}/${d.name}`), ["configmaps/owned-by-tier"]);

      const rbac = await plan({ emitRbac: true });
      assert.equal(rbac.code, 0);
      const docs = YAML.parseAllDocuments(rbac.io.out()).map((d) => d.toJS() as KubeObject);
      assert.deepEqual(docs.map((d) => d.kind), ["ClusterRole", "ClusterRoleBinding"]);
      assert.deepEqual(docs[0]!.rules, [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "patch"] }]);
      assert.deepEqual(docs[1]!.subjects, [{ kind: "ServiceAccount", namespace: "calico-datastore-migration", name: "calico-datastore-migration" }]);
      assert.match(rbac.io.err(), /kubectl apply -f -/);

      // start --no-remap-foreign-owner-references records the opt-out on the CR and warns what it costs.
      const startIo = captureIo();
      assert.equal(await run(startIo, () => runStart({ kubeconfig: cluster.kubeconfigPath, color: false, validate: false, remapForeignOwnerReferences: false, watch: false, until: "Complete", timeoutMs: 0 }, startIo)), 0, startIo.err());
      assert.match(startIo.err(), /the garbage collector will delete the 1 non-Calico object\(s\) owned by Calico objects/);
      const cr = await cluster.admin.get(migrationResource("v1"), "v1-to-v3");
      assert.equal(cr.metadata.annotations?.["migration.projectcalico.org/remap-foreign-owner-references"], "false");
      assert.deepEqual(cr.spec, { type: "APIServerToCRDs" });
      assert.deepEqual(parseNext(startIo.out()), ["calico-migrate watch --until Converged"]);
      const again = captureIo();
      assert.equal(await run(again, () => runStart({ kubeconfig: cluster.kubeconfigPath, color: false, validate: false, remapForeignOwnerReferences: true, watch: false, until: "Complete", timeoutMs: 0 }, again)), 1);
      assert.match(again.err(), /^error: DatastoreMigration v1-to-v3 already exists, in phase Pending: \(no message yet\)/);
      await cluster.admin.delete(migrationResource("v1"), "v1-to-v3");
    } finally {
      await cluster.admin.delete(CONFIGMAPS, "owned-by-tier", "default");
      await clear("Tier");
    }
  });

  test("a Calico object owned by a Calico object is a warning that says what the controller does with its references", async (t) => {
    const tier = await writeV1(cluster.admin, { kind: "Tier", metadata: { name: "security" }, spec: { order: 200 } });
    await writeV1(cluster.admin, { kind: "GlobalNetworkPolicy", metadata: { name: "security.owned", ownerReferences: [ownerRefTo(tier, "Tier")] }, spec: { tier: "security", selector: "all()" } });
    t.after(() => clear("GlobalNetworkPolicy", "Tier"));
    const { code, io } = await plan({ validate: false });
    assert.equal(code, 0, io.err());
    assert.match(io.out(), /Warnings: 1\n {2}CalicoOwnerReferences\n {6}1 Calico object\(s\) have Calico owners: GlobalNetworkPolicy\/security\.owned \(owned by Tier\/security\)\. .*sets these references aside in v1 \(label migration\.projectcalico\.org\/detached-by/);
    assert.match(io.out(), /fix: nothing to do/);
    const { report } = await planJson({ validate: false });
    assert.deepEqual(report.warnings.map((w) => w.code), ["CalicoOwnerReferences"]);
    assert.deepEqual(report.blockers, []);
  });

  test("two v1 policies that become one v3 name block with the collision named; renames are listed", async () => {
    await writeV1(cluster.admin, { kind: "GlobalNetworkPolicy", metadata: { name: "foo" }, spec: { tier: "default", selector: "all()" } }, { crName: "default.foo", omitNameInAnnotation: true });
    await writeV1(cluster.admin, { kind: "GlobalNetworkPolicy", metadata: { name: "foo" }, spec: { tier: "default", selector: "all()" } });
    const { code, io } = await plan({ validate: false });
    assert.equal(code, 1);
    assert.match(io.out(), /Renames: 1 .*\n +KIND +NAMESPACE +V1 NAME +V3 NAME\n +GlobalNetworkPolicy +default\.foo +foo/);
    assert.match(io.out(), /NameCollision {2}GlobalNetworkPolicy\/foo\n {6}GlobalNetworkPolicy v1 objects "(default\.)?foo" and "(default\.)?foo" both become v3 "foo"/);
    const { report } = await planJson({ validate: false });
    assert.deepEqual(report.blockers.map((b) => `${b.code} ${b.object}`), ["NameCollision GlobalNetworkPolicy/foo"]);
    assert.deepEqual(report.renames, [{ kind: "GlobalNetworkPolicy", from: "default.foo", to: "foo" }]);

    // The real binary: exit 1 on blockers, JSON on stdout, the error on stderr.
    const bin = await spawnCli(["plan", "--no-validate", "-o", "json", "--kubeconfig", cluster.kubeconfigPath]);
    assert.equal(bin.code, 1, bin.stderr);
    assert.equal((JSON.parse(bin.stdout) as { blockers: unknown[] }).blockers.length, 1);
    assert.match(bin.stderr, /^error: 1 blocker\(s\) must be fixed/);

    // start refuses on the same blockers and creates nothing.
    const startIo = captureIo();
    assert.equal(await run(startIo, () => runStart({ kubeconfig: cluster.kubeconfigPath, color: false, validate: false, remapForeignOwnerReferences: true, watch: false, until: "Complete", timeoutMs: 0 }, startIo)), 1);
    assert.match(startIo.out(), /NameCollision {2}GlobalNetworkPolicy\/foo/);
    assert.match(startIo.err(), /^error: refusing to start: 1 blocker\(s\) found/);
    await assert.rejects(cluster.admin.get(migrationResource("v1"), "v1-to-v3"), (e) => isNotFound(e));

    await clear("GlobalNetworkPolicy");
    const clean = await spawnCli(["plan", "--no-validate", "--kubeconfig", cluster.kubeconfigPath]);
    assert.equal(clean.code, 0, clean.stderr);
    assert.match(clean.stdout, /Next:\n {2}calico-migrate start\n$/);
    const usage = await spawnCli(["plan", "-o", "xml", "--kubeconfig", cluster.kubeconfigPath]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /argument 'xml' is invalid\. Allowed choices are table, json, yaml/);
  });
});
