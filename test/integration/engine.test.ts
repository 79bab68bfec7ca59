/**
 * The migration engine on a real control plane with the garbage collector running: the planner
 * reports exactly the seeded problems; after the APIService is unregistered the copy makes every
 * v1 object have exactly one equal v3 object (accepted by the real v3 CRDs and admission
 * policies); a second pass migrates nothing; and a ConfigMap owned by a Calico Tier survives,
 * re-pointed at the v3 Tier, while an unprotected twin (the negative control) is deleted.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { kindByName, v1Resource, v3Resource } from "../../src/calico/kinds.js";
import { Discovery } from "../../src/kube/discovery.js";
import { isNotFound } from "../../src/kube/errors.js";
import { APISERVICE, APISERVICE_NAME } from "../../src/migration/apiservice.js";
import { detachForeignOwners, reattachForeignOwners, scanForeignDependents } from "../../src/migration/foreign-owners.js";
import { loadSchemas, plan } from "../../src/migration/planner.js";
import { runPass } from "../../src/migration/run-kinds.js";
import { validateWithServer } from "../../src/migration/validation.js";
import { resetApiServerMode, withoutV1Validation } from "../harness/api-server-mode.js";
import { consistently, eventually } from "../harness/eventually.js";
import { seedSampleCluster } from "../harness/sample-cluster.js";
import { sharedCluster, type TestCluster } from "../harness/shared-cluster.js";
import { ownerRefTo, writeV1 } from "../harness/v1-writer.js";

const CONFIGMAPS = { group: "", version: "v1", plural: "configmaps", namespaced: true, kind: "ConfigMap" } as const;
const UID = "00000000-0000-4000-8000-00000000e001";

describe("migration engine", () => {
  let cluster: TestCluster;
  let seeded = 0;
  before(async () => {
    cluster = await sharedCluster();
    await resetApiServerMode(cluster.admin);
    seeded = await seedSampleCluster(cluster.admin);
  });
  after(async () => {
    await resetApiServerMode(cluster.admin);
  });

  test("the planner reports exactly the seeded problems and nothing else", async () => {
    const discovery = new Discovery(cluster.admin);
    const validator = (objects: Parameters<typeof validateWithServer>[0]["objects"]) => validateWithServer({ client: cluster.admin, objects, holder: "engine-test" });
    const clean = await plan({ client: cluster.admin, discovery, validator });
    assert.deepEqual(clean.blockers, [], "the sample cluster has no blockers");
    assert.equal(clean.total, seeded);
    assert.equal(clean.renames.length, 2);

    const problems = [
      // Stored before Calico's v1 CRD gained its CEL rules.
      await withoutV1Validation(cluster.admin, "ippools", () =>
        writeV1(cluster.admin, { kind: "IPPool", metadata: { name: "unmasked" }, spec: { cidr: "10.9.0.1/24", blockSize: 26, nodeSelector: "all()" } })),
      await writeV1(cluster.admin, { kind: "GlobalNetworkPolicy", metadata: { name: "dup" }, spec: { tier: "default", selector: "all()" } }, { crName: "default.dup", omitNameInAnnotation: true }),
      await writeV1(cluster.admin, { kind: "GlobalNetworkPolicy", metadata: { name: "dup" }, spec: { tier: "default", selector: "all()" } }),
      await writeV1(cluster.admin, { kind: "NetworkSet", metadata: { name: "bad-meta", namespace: "default" }, spec: {} }, { rawMetadataAnnotation: "{not json" }),
    ];
    const tiers = v1Resource(kindByName("Tier")!);
    try {
      await withoutV1Validation(cluster.admin, "tiers", async () => {
        const kubeAdmin = await cluster.admin.get(tiers, "kube-admin");
        await cluster.admin.update(tiers, { ...kubeAdmin, spec: { ...(kubeAdmin.spec as object), order: 42 } });
      });
      const report = await plan({ client: cluster.admin, discovery, validator: undefined });
      assert.deepEqual(report.blockers.map((b) => b.code).sort(), ["ConversionError", "NameCollision", "TierDrift"]);
      assert.match(report.blockers.find((b) => b.code === "TierDrift")!.message, /tier "kube-admin" must have order 1000/);
      assert.match(report.blockers.find((b) => b.code === "NameCollision")!.message, /"default\.dup" and "dup"/);
      assert.match(report.blockers.find((b) => b.code === "ConversionError")!.message, /NetworkSet "default\/bad-meta"/);
      // Validation runs once the objects convert: the unmasked pool is the only object it rejects.
      await cluster.admin.delete(v1Resource(kindByName("NetworkSet")!), "bad-meta", "default");
      const validated = await plan({ client: cluster.admin, discovery, validator });
      const invalid = validated.blockers.filter((b) => b.code === "InvalidObject");
      assert.deepEqual(invalid.map((b) => b.object), ["IPPool/unmasked"]);
      assert.match(invalid[0]!.fix, /kubectl edit ippools.crd.projectcalico.org unmasked/);
    } finally {
      for (const p of problems) {
        const kind = kindByName(p.kind === "IPAMConfig" ? "IPAMConfiguration" : p.kind ?? "")!;
        await cluster.admin.delete(v1Resource(kind), p.metadata.name ?? "", p.metadata.namespace).catch(() => undefined);
      }
      const t = await cluster.admin.get(tiers, "kube-admin");
      await cluster.admin.update(tiers, { ...t, spec: { ...(t.spec as object), order: 1000 } });
    }
  });

  test("copy: every v1 object gets exactly one equal v3 object, a second pass migrates nothing, protected foreign dependents survive the GC", { timeout: 300_000 }, async () => {
    const discovery = new Discovery(cluster.admin);
    const tiers = v1Resource(kindByName("Tier")!);
    const security = await cluster.admin.get(tiers, "security");
    const scan = await scanForeignDependents(cluster.admin, discovery);
    const protectedOnes = scan.dependents;
    assert.deepEqual(protectedOnes.map((d) => d.name), ["security-tier-runbook"]);
    assert.equal(await detachForeignOwners(cluster.admin, protectedOnes, UID), 1);

    await cluster.admin.delete(APISERVICE, APISERVICE_NAME);
    const unregisteredAt = Date.now();
    await eventually(async () => {
      discovery.reset();
      return discovery.serves("projectcalico.org/v3", "tiers");
    }, { timeoutMs: 60_000, message: "v3 CRDs served" });
    // Negative control, not protected. A live collector keeps the owners it observed through the
    // Calico API server in its graph until it relists or restarts, so this dependent names an owner
    // identity it never observed (the v1 CR's own uid): that one is looked up at once, and now
    // through the CRDs.
    await cluster.admin.create(CONFIGMAPS, {
      apiVersion: "v1", kind: "ConfigMap",
      metadata: { name: "negative-control", namespace: "default", ownerReferences: [{ ...ownerRefTo(security, "Tier"), uid: security.metadata.uid ?? "" }] },
      data: { note: "deliberately not protected" },
    });
    const schemas = await loadSchemas(cluster.admin);
    const opts = { client: cluster.admin, schemas, migrationUid: UID };
    const copy = await runPass(opts, "copy");
    assert.equal(copy.total, seeded);
    assert.equal(copy.kinds.reduce((n, k) => n + k.migrated, 0), seeded);
    assert.deepEqual(copy.conflicts, []);
    const reattached = await reattachForeignOwners(cluster.admin, discovery, UID);
    assert.equal(reattached.length, 1);

    const again = await runPass(opts, "verify");
    assert.equal(again.kinds.reduce((n, k) => n + k.migrated, 0), 0, "second pass migrates nothing");
    assert.equal(again.kinds.reduce((n, k) => n + k.skipped, 0), seeded, "all skipped");
    assert.deepEqual(again.conflicts, []);
    assert.deepEqual(again.kinds.flatMap((k) => k.extras), []);

    // Negative control: the GC deletes the dependent whose owner it cannot find.
    await eventually(async () => {
      try {
        await cluster.admin.get(CONFIGMAPS, "negative-control", "default");
        return false;
      } catch (err) {
        return isNotFound(err);
      }
    }, { timeoutMs: 240_000, intervalMs: 500, message: "the GC deletes the unprotected dependent" });
    const controlTook = Date.now() - unregisteredAt;
    // The protected one must survive at least as long as the control took, and not less than 60 s.
    const v3Security = await cluster.admin.get(v3Resource(kindByName("Tier")!), "security");
    await consistently(async () => {
      const cm = await cluster.admin.get(CONFIGMAPS, "security-tier-runbook", "default");
      return cm.metadata.ownerReferences?.[0]?.uid === v3Security.metadata.uid;
    }, { durationMs: Math.max(controlTook, 60_000), message: "protected dependent survives, pointing at the v3 Tier" });
  });
});
