/**
 * The controller as a process whose kubeconfig names a `tokenFile` (as the in-cluster
 * ServiceAccount token is a file the kubelet rewrites): in the middle of the copy the file is
 * rewritten with a new token and the old one is revoked, and the migration still reaches Converged.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { resetApiServerMode } from "../harness/api-server-mode.js";
import { boundServiceAccountToken, type BoundToken } from "../harness/bound-token.js";
import { proxyForCluster, type ClusterProxy } from "../harness/cluster-proxy.js";
import { CONTROLLER_NAMESPACE, CONTROLLER_SA, CORE_ROLE_OPT_OUT, installControllerManifests } from "../harness/controller.js";
import { ControllerProcess } from "../harness/controller-process.js";
import { writeKubeconfig } from "../harness/kubeconfig-file.js";
import { createMigration, waitPhase } from "../harness/migration-cr.js";
import { sharedCluster, type TestCluster } from "../harness/shared-cluster.js";
import { writeV1 } from "../harness/v1-writer.js";

describe("controller: ServiceAccount token rotated mid-migration", () => {
  let cluster: TestCluster;
  let cp: ClusterProxy | undefined;
  let controller: ControllerProcess | undefined;
  let dir: string;
  let rotatedAt = 0;

  before(async () => {
    cluster = await sharedCluster();
    await resetApiServerMode(cluster.admin);
    await installControllerManifests(cluster.admin);
    await writeV1(cluster.admin, { kind: "Tier", metadata: { name: "rotation" }, spec: { order: 300 } });
    const suffix = Date.now().toString(36);
    const a: BoundToken = await boundServiceAccountToken(cluster.admin, CONTROLLER_NAMESPACE, CONTROLLER_SA, `token-a-${suffix}`);
    const b: BoundToken = await boundServiceAccountToken(cluster.admin, CONTROLLER_NAMESPACE, CONTROLLER_SA, `token-b-${suffix}`);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "token-rotation-"));
    const tokenFile = path.join(dir, "token");
    fs.writeFileSync(tokenFile, a.token);
    fs.writeFileSync(path.join(dir, "ca.crt"), cluster.admin.config.ca ?? "");
    // Just before the copy's first Tier create reaches the API server (through the pre-copy's
    // door, or v3 when copying inside the lock): the kubelet's rewrite (a
    // new file renamed over the old), and token A refused from then on.
    cp = await proxyForCluster(cluster, {
      seed: 1,
      rules: [{
        name: "rotate-during-copy", method: "POST", path: /\/apis\/projectcalico\.org\/v3(migration)?\/tiers$/, times: 1,
        action: {
          type: "hook",
          run: async () => {
            fs.writeFileSync(`${tokenFile}.new`, b.token);
            fs.renameSync(`${tokenFile}.new`, tokenFile);
            await a.revoke();
            rotatedAt = Date.now();
          },
        },
      }],
    });
    const kubeconfig = writeKubeconfig(path.join(dir, "kubeconfig"), cp.proxy.url, path.join(dir, "ca.crt"), { tokenFile: "token" });
    controller = new ControllerProcess(kubeconfig, { drainPeriod: "1s", name: "token-rotation", extraArgs: ["--no-validate"] });
  });

  after(async () => {
    await controller?.kill();
    await cp?.proxy.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("the token file is rewritten and the old token revoked during the copy; the migration reaches Converged", { timeout: 240_000 }, async () => {
    await createMigration(cluster.admin, { annotations: CORE_ROLE_OPT_OUT });
    await waitPhase(cluster.admin, "Converged", { timeoutMs: 180_000 });
    assert.ok(rotatedAt > 0, "the token was rotated during the copy");
    const refused = (controller?.logs ?? []).filter((l) => /Unauthorized|\b401\b/.test(JSON.stringify(l)));
    assert.deepEqual(refused.map((l) => l.msg), [], "no request of the controller was refused");
  });
});
