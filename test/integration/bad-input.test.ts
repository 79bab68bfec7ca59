/**
 * Bad input, table-driven, against the controller process (as its ServiceAccount, behind an
 * observing proxy): each row breaks the cluster or the data in one way, asserts the exact status
 * message (or condition, or Event) the user sees, then deletes the CR, undoes the damage and
 * checks that the cluster is exactly as before — every v1 object, the lock, the APIService and
 * the foreign owner references — so nothing was lost. (MutatingAdmissionPolicy not served needs a
 * control plane started without it: bad-input-no-map.test.ts.)
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ConditionType, Names, truncateMessage } from "../../src/api/datastore-migration.js";
import { CLUSTER_INFORMATION_V1, kindByName, v1Resource, V1_GROUP } from "../../src/calico/kinds.js";
import { Discovery } from "../../src/kube/discovery.js";
import { isNotFound } from "../../src/kube/errors.js";
import type { KubeObject } from "../../src/kube/object.js";
import { CRDS } from "../../src/migration/prerequisites.js";
import { resetApiServerMode, v3Crds, withoutV1Validation } from "../harness/api-server-mode.js";
import { applyAll, waitEstablished } from "../harness/apply.js";
import { blocked, expectMessage as expectMessageOf, legacyV1, runRow, type BadInputRow } from "../harness/bad-input-table.js";
import { takeSnapshot, type ClusterSnapshot } from "../harness/cluster-snapshot.js";
import { proxyForCluster, type ClusterProxy } from "../harness/cluster-proxy.js";
import { installControllerManifests } from "../harness/controller.js";
import { ControllerProcess } from "../harness/controller-process.js";
import { isV1List, isV3Create, v3StorageVersion } from "../harness/crash-classify.js";
import { consistently, eventually } from "../harness/eventually.js";
import { createMigration, eventsFor, getMigration, waitMigration } from "../harness/migration-cr.js";
import { seedScale, type ScaleSeedResult } from "../harness/scale-seed.js";
import { sharedCluster } from "../harness/shared-cluster.js";
import { writeV1 } from "../harness/v1-writer.js";
import { createV3, listAllV3, withV3Storage } from "../harness/v3-storage.js";

const CLUSTER_ROLE = { group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterroles", namespaced: false, kind: "ClusterRole" } as const;
const CLUSTER_ROLE_BINDING = { ...CLUSTER_ROLE, plural: "clusterrolebindings", kind: "ClusterRoleBinding" } as const;
const TIERS_V3 = { group: "projectcalico.org", version: "v3", plural: "tiers", namespaced: false, kind: "Tier" } as const;
const LONG = `etcdserver: ${"the request is too large and went on and on ".repeat(70)}`.trim();

const cluster = await sharedCluster();
const admin = cluster.admin;

describe("bad input", () => {
  let seeded: ScaleSeedResult;
  let snapshot: ClusterSnapshot;
  let cp: ClusterProxy;
  let controller: ControllerProcess;
  const userObjects: KubeObject[] = [];

  before(async () => {
    await resetApiServerMode(admin);
    // The optional foreign-owner role: its migrations scan for foreign owner references (the CRs do not opt out).
    await installControllerManifests(admin, { foreignOwnerRole: true });
    seeded = await seedScale(admin, { objects: 40, seed: 99 });
    snapshot = await takeSnapshot(admin, seeded.namespaces);
    cp = await proxyForCluster(cluster, { seed: 99 });
    controller = new ControllerProcess(cp.kubeconfig, { drainPeriod: "1s", name: "bad-input" });
  });

  after(async () => {
    await controller?.kill();
    await cp?.proxy.stop();
  });

  const expectMessage = (message: string, name?: string) => expectMessageOf(admin, message, name);

  const rows: BadInputRow[] = [
    {
      name: "an unsupported spec.type (our CRD without its enum) fails the migration before any lock",
      setup: async () => {
        const crd = await admin.get(CRDS, "datastoremigrations.migration.projectcalico.org");
        for (const v of (crd.spec as { versions: { schema: { openAPIV3Schema: { properties: { spec: { properties: { type: { enum?: string[] } } } } } } }[] }).versions) {
          delete v.schema.openAPIV3Schema.properties.spec.properties.type.enum;
        }
        await admin.update(CRDS, crd);
        return () => installControllerManifests(admin, { foreignOwnerRole: true });
      },
      run: async () => {
        await eventually(() => createMigration(admin, { type: "Bogus" }), { timeoutMs: 30_000, message: "a CR with spec.type Bogus is accepted" });
        const dm = await waitMigration(admin, (d) => assert.equal(d.status?.phase, "Failed", `phase (${d.status?.message})`));
        const text = `unsupported migration type: "Bogus" (only "APIServerToCRDs" is supported)`;
        assert.equal(dm.status?.message, text);
        assert.equal(dm.status?.conditions?.find((c) => c.type === ConditionType.Failed)?.message, text);
        assert.equal(dm.metadata.finalizers?.includes(Names.finalizer) ?? false, false, "no finalizer: deleting it touches nothing");
      },
    },
    {
      name: "a DatastoreMigration with another name is told it is ignored",
      run: async () => {
        await createMigration(admin, { name: "my-migration" });
        await expectMessage(`ignored: only the DatastoreMigration named "v1-to-v3" is acted on; delete this one (kubectl delete datastoremigration my-migration)`, "my-migration");
      },
    },
    {
      name: "a second DatastoreMigration next to v1-to-v3 is ignored and flagged on v1-to-v3",
      run: async () => {
        await createMigration(admin, { name: "second" });
        await createMigration(admin);
        await waitMigration(admin, (d) => assert.equal(d.status?.conditions?.find((c) => c.type === ConditionType.OtherMigrations)?.message,
          "other DatastoreMigrations exist and are ignored: second; delete them — the operator may read one of them instead of v1-to-v3"), { message: "the OtherMigrations condition" });
        await expectMessage(`ignored: only the DatastoreMigration named "v1-to-v3" is acted on; delete this one (kubectl delete datastoremigration second)`, "second");
      },
    },
    {
      name: "deleting our CRD while a migration copies ends like deleting the CR (aborted, cluster restored)",
      setup: () => Promise.resolve(() => installControllerManifests(admin, { foreignOwnerRole: true })),
      run: async () => {
        const dm = await createMigration(admin);
        await waitMigration(admin, (d) => assert.equal(d.status?.phase, "Migrating", `phase (${d.status?.message})`), { message: "Migrating" });
        await admin.delete(CRDS, "datastoremigrations.migration.projectcalico.org");
        await eventually(async () => {
          try {
            await admin.get(CRDS, "datastoremigrations.migration.projectcalico.org");
            return false;
          } catch (err) {
            return isNotFound(err);
          }
        }, { timeoutMs: 120_000, message: "the CRD is gone once the abort released the CR" });
        const [aborted] = await eventsFor(admin, dm, "Aborted");
        assert.equal(aborted?.message.startsWith("migration aborted: API server mode restored, v1 datastore unlocked"), true, aborted?.message);
      },
    },
    {
      name: "v1 ClusterInformation missing blocks before any lock",
      setup: async () => {
        const ci = await admin.get(CLUSTER_INFORMATION_V1, "default");
        await admin.delete(CLUSTER_INFORMATION_V1, "default");
        return async () => void (await admin.create(CLUSTER_INFORMATION_V1, { apiVersion: ci.apiVersion, kind: ci.kind, metadata: { name: "default", labels: ci.metadata.labels, annotations: ci.metadata.annotations }, spec: ci.spec }));
      },
      run: async () => {
        await createMigration(admin);
        await expectMessage(blocked(`v1 ClusterInformation "default" not found: there is no datastore lock to take`, "check that calico-node runs (it creates ClusterInformation default on start)"));
      },
    },
    {
      name: "a missing v3 CRD blocks before any lock",
      setup: async () => {
        await admin.delete(CRDS, "caliconodestatuses.projectcalico.org");
        await eventually(() => admin.get(CRDS, "caliconodestatuses.projectcalico.org").then(() => false, (err: unknown) => isNotFound(err)), { timeoutMs: 60_000, message: "v3 CRD deleted" });
        return async () => {
          const crd = v3Crds().filter((c) => c.metadata.name === "caliconodestatuses.projectcalico.org");
          await applyAll(admin, new Discovery(admin), crd);
          await waitEstablished(admin, ["caliconodestatuses.projectcalico.org"], { storage: false });
        };
      },
      run: async () => {
        await createMigration(admin);
        await expectMessage(blocked("v3 CRDs (projectcalico.org) not installed — apply them before starting migration (missing: caliconodestatuses.projectcalico.org)",
          "kubectl apply -f https://raw.githubusercontent.com/projectcalico/calico/<version>/manifests/v3_projectcalico_org.yaml"));
      },
    },
    {
      name: "RBAC missing for one v1 kind blocks before any lock",
      setup: async () => {
        const role = await admin.get(CLUSTER_ROLE, "calico-datastore-migration");
        const rules = (role as unknown as { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] }).rules;
        const v1 = rules.find((r) => r.apiGroups.includes(V1_GROUP) && r.verbs.includes("list") && r.resources.includes("bgpfilters"));
        assert.ok(v1, "the ClusterRole grants list on every v1 kind by name");
        v1.resources = v1.resources.filter((p) => p !== "bgpfilters");
        await admin.update(CLUSTER_ROLE, role);
        // The optional foreign-owner role lists everything: without it, the grant above is all there is.
        await admin.delete(CLUSTER_ROLE_BINDING, "calico-datastore-migration-foreign-owners");
        return () => installControllerManifests(admin, { foreignOwnerRole: true });
      },
      run: async () => {
        await createMigration(admin);
        await expectMessage("Waiting for migration RBAC permissions");
      },
    },
    {
      name: "a drifted built-in tier blocks with Calico's message",
      setup: async () => {
        const tiers = v1Resource(kindByName("Tier")!);
        const set = async (order: number) => {
          const t = await admin.get(tiers, "kube-admin");
          await admin.update(tiers, { ...t, spec: { ...(t.spec as object), order } });
        };
        await withoutV1Validation(admin, "tiers", () => set(42));
        return () => set(1000);
      },
      run: async () => {
        await createMigration(admin);
        await expectMessage(`Correct the following v1 tiers before migration can start: tier "kube-admin" must have order 1000`);
      },
    },
    {
      name: "an IPPool with an unmasked CIDR (v3 rejects it) blocks before any lock",
      setup: () => legacyV1(admin, "IPPool", "unmasked-pool", { cidr: "10.99.0.1/16", blockSize: 26, nodeSelector: "all()" }),
      run: async () => {
        await createMigration(admin);
        await expectMessage(blocked(`IPPool "unmasked-pool" would be rejected by the v3 API at spec: IPPool.projectcalico.org "unmasked-pool" is invalid: spec: Invalid value: IPPool CIDR must be strictly masked`, "correct it in v1: kubectl edit ippools.crd.projectcalico.org unmasked-pool"));
      },
    },
    {
      name: "a BGPPeer with both node and nodeSelector (v3 rejects it) blocks before any lock",
      setup: () => legacyV1(admin, "BGPPeer", "node-and-selector", { node: "node-0", nodeSelector: "all()", peerIP: "192.0.2.2", asNumber: 64514 }),
      run: async () => {
        await createMigration(admin);
        await expectMessage(blocked(`BGPPeer "node-and-selector" would be rejected by the v3 API at spec: BGPPeer.projectcalico.org "node-and-selector" is invalid: spec: Forbidden: node and nodeSelector cannot both be set`, "correct it in v1: kubectl edit bgppeers.crd.projectcalico.org node-and-selector"));
      },
    },
    {
      name: "two v1 objects converting to one v3 name block before any lock",
      setup: async () => {
        const ns = seeded.namespaces[0] ?? "default";
        const spec = { tier: "default", selector: "all()", types: ["Ingress"] };
        const a = await writeV1(admin, { kind: "NetworkPolicy", metadata: { name: "dup", namespace: ns }, spec }, { crName: "default.dup", omitNameInAnnotation: true });
        const b = await writeV1(admin, { kind: "NetworkPolicy", metadata: { name: "dup", namespace: ns }, spec });
        const res = v1Resource(kindByName("NetworkPolicy")!);
        return async () => {
          for (const o of [a, b]) await admin.delete(res, o.metadata.name ?? "", ns);
        };
      },
      run: async () => {
        const ns = seeded.namespaces[0] ?? "default";
        await createMigration(admin);
        await expectMessage(blocked(`NetworkPolicy v1 objects "default.dup" and "dup" in namespace ${ns} both become v3 "dup"`,
          `delete or rename one of them: kubectl delete networkpolicies.crd.projectcalico.org dup -n ${ns} (after saving what you need)`));
      },
    },
    {
      name: "a malformed projectcalico.org/metadata annotation blocks before any lock",
      setup: async () => {
        await writeV1(admin, { kind: "GlobalNetworkSet", metadata: { name: "bad-meta" }, spec: { nets: ["10.0.0.0/8"] } }, { rawMetadataAnnotation: "{not json" });
        return async () => void (await admin.delete(v1Resource(kindByName("GlobalNetworkSet")!), "bad-meta"));
      },
      run: async () => {
        await createMigration(admin);
        await expectMessage(`cannot convert GlobalNetworkSet "bad-meta" (globalnetworksets.crd.projectcalico.org): metadata.annotations[projectcalico.org/metadata]: not valid JSON (Expected property name or '}' in JSON at position 1). Fix: correct the annotation to the JSON of an ObjectMeta (or remove it to present the CR's own metadata): kubectl edit globalnetworksets.crd.projectcalico.org bad-meta`);
      },
    },
    {
      name: "a non-UUID uid in an owner reference blocks before any lock",
      setup: async () => {
        await writeV1(admin, { kind: "GlobalNetworkSet", metadata: { name: "bad-owner", ownerReferences: [{ apiVersion: "crd.projectcalico.org/v1", kind: "Tier", name: "security", uid: "not-a-uuid" }] }, spec: { nets: ["10.0.0.0/8"] } });
        return async () => void (await admin.delete(v1Resource(kindByName("GlobalNetworkSet")!), "bad-owner"));
      },
      run: async () => {
        await createMigration(admin);
        await expectMessage(`cannot convert GlobalNetworkSet "bad-owner" (globalnetworksets.crd.projectcalico.org): metadata.ownerReferences[0].uid: owner reference to Tier "security" (in the projectcalico.org/metadata annotation) has uid "not-a-uuid", which is not a UUID. Fix: correct or remove that owner reference in the projectcalico.org/metadata annotation: kubectl edit globalnetworksets.crd.projectcalico.org bad-owner`);
      },
    },
    {
      name: "an error longer than status.message allows is truncated with a marker, and the write is accepted",
      setup: () => {
        cp.proxy.addRule({ name: "long-error", times: 5, when: (r) => isV1List(r), action: { type: "status", code: 500, message: LONG } });
        return Promise.resolve(() => Promise.resolve(cp.proxy.removeRule("long-error")));
      },
      run: async () => {
        assert.ok(LONG.length > 2000);
        await createMigration(admin);
        const dm = await expectMessage(truncateMessage(LONG));
        assert.equal(dm.status?.message?.length, 1024);
        assert.ok(dm.status?.message?.endsWith("… (truncated)"));
        assert.equal(controller.lines("writing the error into status failed").length, 0, "no status write was rejected");
      },
    },
    {
      name: "a conflicting v3 object deleted and re-created while Waiting is never touched; equal again, the migration resumes",
      run: async () => {
        const conflicting = { kind: "Tier", metadata: { name: "platform" }, spec: { order: 300, defaultAction: "Pass" } };
        // The user's object is in v3 storage by the time the migration first reads it there:
        // through the pre-copy door (or v3, when the copy falls back to the lock).
        cp.proxy.addRule({
          name: "user-conflict", times: 1, when: (r) => r.method === "GET" && !r.watch && /^\/apis\/projectcalico\.org\/(v3|v3migration)\/tiers$/.test(r.path),
          action: { type: "hook", run: async (r) => void (await createV3(admin, conflicting, v3StorageVersion(r))) },
        });
        await createMigration(admin);
        await expectMessage("Datastore is locked: resolve 1 resource conflicts to let the migration continue");
        const conflictMessage = "Tier/platform: v3 resource exists with different spec (differs at: spec.order)";
        await waitMigration(admin, (d) => assert.deepEqual(d.status?.conditions?.filter((c) => c.type === "Conflict").map((c) => c.message), [conflictMessage]));
        const recreate = async (order: number) => {
          await admin.delete(TIERS_V3, "platform");
          await eventually(() => admin.get(TIERS_V3, "platform").then(() => false, (err: unknown) => isNotFound(err)), { message: "v3 tier deleted" });
          return createV3(admin, { ...conflicting, spec: { order, defaultAction: "Pass" } });
        };
        const second = await recreate(250);
        await consistently(async () => {
          const t = await admin.get(TIERS_V3, "platform");
          const dm = await getMigration(admin);
          return t.metadata.uid === second.metadata.uid && (t.spec as { order: number }).order === 250 && t.metadata.annotations?.[Names.migratedBy] === undefined
            && dm?.status?.phase === "WaitingForConflictResolution" && dm.status.conditions?.some((c) => c.message === conflictMessage) === true;
        }, { durationMs: 3_000, message: "the re-created conflicting object is reported, never overwritten" });
        const third = await recreate(200);
        userObjects.push(third);
        await waitMigration(admin, (d) => assert.ok(["Migrating", "Converged"].includes(d.status?.phase ?? ""), `phase ${d.status?.phase}`), { message: "the migration resumes" });
        const t = await admin.get(TIERS_V3, "platform");
        assert.equal(t.metadata.uid, third.metadata.uid, "the user's object is kept, not replaced");
      },
    },
    {
      name: "v3 objects a user creates mid-migration end as a conflict and an extra, reported and never overwritten",
      run: async () => {
        const user = [
          { kind: "GlobalNetworkSet", metadata: { name: "blocked-ranges" }, spec: { nets: ["192.0.2.0/24"] } },
          { kind: "GlobalNetworkSet", metadata: { name: "user-extra" }, spec: { nets: ["192.0.2.64/26"] } },
        ];
        cp.proxy.addRule({
          name: "user-mid-migration", times: 1, when: (r) => isV3Create(r) && r.path.endsWith("/globalnetworkpolicies"),
          action: { type: "hook", run: async (r) => {
            for (const o of user) userObjects.push(await createV3(admin, o, v3StorageVersion(r)));
          } },
        });
        await createMigration(admin);
        await expectMessage("Datastore is locked: resolve 1 resource conflicts to let the migration continue");
        const current = await getMigration(admin);
        assert.deepEqual(current?.status?.conditions?.filter((c) => c.type === "Conflict").map((c) => c.message), ["GlobalNetworkSet/blocked-ranges: v3 resource exists with different spec (differs at: spec.nets[0], spec.nets[1])"]);
        // Created during the pre-copy, the conflict is found before Migrating (the final delta,
        // then the detection after the APIService is gone): the extra is reported by the
        // verification once the conflict is resolved; here it is only never touched (next test).
      },
    },
  ];

  for (const row of rows) test(row.name, () => runRow(admin, row, snapshot, seeded.namespaces));

  test("the user's v3 objects are exactly as the user wrote them", async () => {
    const v3 = await withV3Storage(admin, () => listAllV3(admin));
    for (const u of userObjects) {
      const found = v3.find((o) => o.kind === u.kind && o.metadata.name === u.metadata.name);
      assert.ok(found, `${u.kind}/${u.metadata.name} is still there`);
      assert.equal(found.metadata.uid, u.metadata.uid, `${u.metadata.name} is the user's object`);
      assert.deepEqual(found.spec, u.spec, `${u.metadata.name} keeps its spec`);
      assert.equal(found.metadata.annotations?.[Names.migratedBy], undefined);
    }
  });
});
