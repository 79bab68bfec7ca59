/**
 * The shipped manifests: every one is accepted by the API server (server-side dry run), the
 * Deployment has the shape a locked cluster needs, and the controller started from the
 * Deployment's own command line, as its ServiceAccount, migrates the sample cluster.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { migrationResource, type DatastoreMigration } from "../../src/api/datastore-migration.js";
import { Discovery } from "../../src/kube/discovery.js";
import type { KubeObject } from "../../src/kube/object.js";
import { resetApiServerMode } from "../harness/api-server-mode.js";
import { repoRoot } from "../harness/binaries.js";
import { CONTROLLER_NAMESPACE, CONTROLLER_SA, CORE_ROLE_OPT_OUT, installControllerManifests } from "../harness/controller.js";
import { eventually } from "../harness/eventually.js";
import { seedSampleCluster } from "../harness/sample-cluster.js";
import { sharedCluster, type TestCluster } from "../harness/shared-cluster.js";

/** What `kubectl apply -k manifests/` applies: the kustomization's resources, in order. */
function renderKustomization(dir: string): KubeObject[] {
  const k = YAML.parse(fs.readFileSync(path.join(dir, "kustomization.yaml"), "utf8")) as { resources: string[] };
  return k.resources.flatMap((r) => YAML.parseAllDocuments(fs.readFileSync(path.join(dir, r), "utf8")).map((d) => d.toJS() as KubeObject));
}

const manifests = path.join(repoRoot, "manifests");

describe("manifests", () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await sharedCluster();
    await resetApiServerMode(cluster.admin);
  });

  test("every manifest (kustomization and optional role) is accepted in a server-side dry run", async () => {
    const discovery = new Discovery(cluster.admin);
    const objects = [...renderKustomization(manifests), ...YAML.parseAllDocuments(fs.readFileSync(path.join(manifests, "optional/foreign-owner-references.yaml"), "utf8")).map((d) => d.toJS() as KubeObject)];
    assert.ok(objects.length >= 9, `rendered ${objects.length} objects`);
    // The CRD and namespace must exist for the namespaced and custom objects to be dry-run.
    await installControllerManifests(cluster.admin, { foreignOwnerRole: false });
    for (const obj of objects) {
      const ref = await discovery.resourceFor(obj.apiVersion ?? "", obj.kind ?? "");
      await cluster.admin.patch(ref, obj.metadata.name ?? "", obj, "apply", ref.namespaced ? obj.metadata.namespace : undefined, { dryRun: true, fieldManager: "manifest-test", force: true });
    }
  });

  test("the Deployment runs on the host network, tolerates control-plane nodes, and is locked down", () => {
    const d = renderKustomization(manifests).find((o) => o.kind === "Deployment");
    assert.ok(d, "a Deployment is rendered");
    const pod = (d.spec as { template: { spec: Record<string, unknown> } }).template.spec as {
      hostNetwork: boolean; serviceAccountName: string; tolerations: { key: string }[];
      securityContext: { runAsNonRoot: boolean; seccompProfile: { type: string } };
      containers: { args: string[]; livenessProbe: { httpGet: { path: string } }; readinessProbe: { httpGet: { path: string } }; securityContext: { allowPrivilegeEscalation: boolean; readOnlyRootFilesystem: boolean; capabilities: { drop: string[] } }; resources: { limits: { memory: string } } }[];
    };
    assert.equal(pod.hostNetwork, true);
    assert.equal(pod.serviceAccountName, CONTROLLER_SA);
    assert.ok(pod.tolerations.some((t) => t.key === "node-role.kubernetes.io/control-plane"));
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault");
    const c = pod.containers[0]!;
    assert.ok(c.args.includes("--leader-elect"));
    assert.equal(c.livenessProbe.httpGet.path, "/healthz");
    assert.equal(c.readinessProbe.httpGet.path, "/readyz");
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.deepEqual(c.securityContext.capabilities.drop, ["ALL"]);
    assert.ok(c.resources.limits.memory);
  });

  describe("the controller from the Deployment's command line", () => {
    let child: ChildProcess | undefined;
    after(() => {
      child?.kill("SIGTERM");
    });

    test("migrates the sample cluster to Converged as its ServiceAccount, holding the leader Lease", async () => {
      await resetApiServerMode(cluster.admin);
      await installControllerManifests(cluster.admin);
      await seedSampleCluster(cluster.admin);
      const d = renderKustomization(manifests).find((o) => o.kind === "Deployment")!;
      const args = (d.spec as { template: { spec: { containers: { args: string[] }[] } } }).template.spec.containers[0]!.args
        .map((a) => a.replace(/=:\d+$/, "=127.0.0.1:0"));
      const kubeconfig = await cluster.serviceAccountKubeconfig(CONTROLLER_NAMESPACE, CONTROLLER_SA);
      let output = "";
      child = spawn(process.execPath, ["--import", "tsx", path.join(repoRoot, "src/cli/main.ts"), ...args, "--kubeconfig", kubeconfig, "--drain-period", "1s", "--poll-interval", "1s"], { cwd: repoRoot });
      child.stdout?.on("data", (b: Buffer) => (output += b.toString()));
      child.stderr?.on("data", (b: Buffer) => (output += b.toString()));
      // The shipped core role alone (kustomization without manifests/optional): the CR opts out of
      // the foreign owner-reference scan, as a cluster without the optional role must.
      await cluster.admin.create(migrationResource("v1"), { apiVersion: "migration.projectcalico.org/v1", kind: "DatastoreMigration", metadata: { name: "v1-to-v3", annotations: CORE_ROLE_OPT_OUT }, spec: { type: "APIServerToCRDs" } });
      const dm = await eventually(async (): Promise<DatastoreMigration> => {
        const cr = (await cluster.admin.get(migrationResource("v1"), "v1-to-v3")) as unknown as DatastoreMigration;
        if (cr.status?.phase !== "Converged") throw new Error(`phase ${cr.status?.phase}: ${cr.status?.message}`);
        return cr;
      }, { timeoutMs: 180_000, message: "Converged" }).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}\ncontroller output:\n${output.slice(-3000)}`);
      });
      assert.equal(dm.status?.progress?.migrated, 34);
      const lease = await cluster.admin.get({ group: "coordination.k8s.io", version: "v1", plural: "leases", namespaced: true, kind: "Lease" }, "calico-datastore-migration", CONTROLLER_NAMESPACE);
      assert.match(String((lease.spec as { holderIdentity?: string }).holderIdentity), /_\d+$/);
      assert.match(output, /"msg":"controller starting"/, "structured JSON logs");
    });
  });
});
