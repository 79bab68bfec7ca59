/**
 * Credentials that change under a running client, against the real kube-apiserver: a kubeconfig
 * `tokenFile` rewritten mid-run while the old ServiceAccount token is revoked (tokens are bound to
 * a Secret; deleting it invalidates them), an exec credential plugin whose token is rotated the
 * same way, `tls-server-name` (SNI and the certificate check) and `proxy-url` (HTTP CONNECT).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { KubeClient } from "../../src/kube/client.js";
import { isAlreadyExists } from "../../src/kube/errors.js";
import { Informer } from "../../src/kube/informer.js";
import { loadClientConfig } from "../../src/kube/kubeconfig.js";
import type { KubeObject } from "../../src/kube/object.js";
import { boundServiceAccountToken } from "../harness/bound-token.js";
import { ensureCerts } from "../harness/certs.js";
import { eventually } from "../harness/eventually.js";
import { writeKubeconfig, type KubeconfigClusterExtras, type KubeconfigUser } from "../harness/kubeconfig-file.js";
import { sharedCluster, type TestCluster } from "../harness/shared-cluster.js";

const NS = "kube-credentials";
const SA = "rotating";
const CONFIGMAPS = { group: "", version: "v1", plural: "configmaps", namespaced: true, kind: "ConfigMap" } as const;

describe("kube client credentials", () => {
  let cluster: TestCluster;
  let dir: string;
  let caFile: string;
  const clients: KubeClient[] = [];

  before(async () => {
    cluster = await sharedCluster();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "kube-credentials-"));
    caFile = path.join(dir, "ca.crt");
    fs.writeFileSync(caFile, cluster.admin.config.ca ?? "");
    const rbac = "/apis/rbac.authorization.k8s.io/v1";
    for (const [p, body] of [
      ["/api/v1/namespaces", { metadata: { name: NS } }],
      [`/api/v1/namespaces/${NS}/serviceaccounts`, { metadata: { name: SA } }],
      [`${rbac}/namespaces/${NS}/roles`, { metadata: { name: SA }, rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch", "create"] }] }],
      [`${rbac}/namespaces/${NS}/rolebindings`, {
        metadata: { name: SA },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: SA },
        subjects: [{ kind: "ServiceAccount", name: SA, namespace: NS }],
      }],
    ] as const) {
      try {
        await cluster.admin.request("POST", p, { body });
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
    }
  });
  after(async () => {
    for (const c of clients) c.close();
    await cluster.admin.delete({ group: "", version: "v1", plural: "namespaces", namespaced: false, kind: "Namespace" }, NS).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A token of the test ServiceAccount bound to a fresh Secret: deleting the Secret revokes it. */
  const boundToken = (secret: string) => boundServiceAccountToken(cluster.admin, NS, SA, secret);

  function track(client: KubeClient): KubeClient {
    clients.push(client);
    return client;
  }

  function kubeconfig(name: string, user: KubeconfigUser, extras: KubeconfigClusterExtras = {}, server = cluster.admin.config.server): string {
    return writeKubeconfig(path.join(dir, name), server, caFile, user, "local", extras);
  }

  /** Rewrites a file the way the kubelet does: a new file renamed over the old one. */
  function replaceFile(file: string, content: string): void {
    fs.writeFileSync(`${file}.new`, content);
    fs.renameSync(`${file}.new`, file);
  }

  /** Requests back to back until stopped; counts successes, keeps every failure. */
  function requestLoop(client: KubeClient) {
    const state = { ok: 0, errors: [] as unknown[], stopped: false };
    const done = (async () => {
      while (!state.stopped) {
        try {
          await client.list(CONFIGMAPS, { namespace: NS, limit: 1 });
          state.ok++;
        } catch (err) {
          state.errors.push(err);
        }
        await delay(25); // pacing only: the loop is a steady workload, not a wait for a condition
      }
    })();
    return { state, stop: async () => { state.stopped = true; await done; } };
  }

  test("a kubeconfig tokenFile rewritten mid-run while the old token is revoked: requests, writes and watches keep working", { timeout: 180_000 }, async () => {
    const a = await boundToken("token-a");
    const b = await boundToken("token-b");
    fs.writeFileSync(path.join(dir, "token"), a.token);
    // A relative tokenFile is relative to the kubeconfig's directory, as in client-go.
    const client = track(new KubeClient(await loadClientConfig({ kubeconfig: kubeconfig("kubeconfig-token-file", { tokenFile: "token" }) })));
    const informer = new Informer(client, CONFIGMAPS, { namespace: NS, watchTimeoutSeconds: 2, resyncMs: 0 });
    informer.start();
    const loop = requestLoop(client);
    try {
      assert.equal(await informer.waitForSync(AbortSignal.timeout(30_000)), true, "the informer lists with the token file's token");
      await eventually(() => loop.state.ok >= 10, { message: "requests with token A" });
      replaceFile(path.join(dir, "token"), `${b.token}\n`);
      await a.revoke();
      const okAtRevocation = loop.state.ok;
      await eventually(() => loop.state.ok >= okAtRevocation + 20 || loop.state.errors.length > 0, { timeoutMs: 60_000, message: "requests go on after token A is revoked" });
      await loop.stop();
      assert.deepEqual(loop.state.errors.map((e) => (e as Error).message), [], "no request failed");
      await client.create(CONFIGMAPS, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "after-rotation", namespace: NS } });
      // The informer's watch ends every 2 s and must come back with token B to see this object.
      await eventually(() => informer.get("after-rotation", NS) !== undefined, { timeoutMs: 60_000, message: "the informer re-watches with the new token" });
    } finally {
      await loop.stop();
      await informer.stop();
    }
  });

  test("an exec credential plugin is run once, cached, and run again when its token is refused", { timeout: 180_000 }, async () => {
    const c = await boundToken("token-c");
    const d = await boundToken("token-d");
    const pluginDir = path.join(dir, "plugin");
    fs.mkdirSync(pluginDir);
    fs.writeFileSync(path.join(pluginDir, "exec-token"), c.token);
    fs.writeFileSync(path.join(pluginDir, "plugin.sh"), [
      "#!/bin/sh",
      'here="$(dirname "$0")"',
      'echo run >> "$here/runs"',
      'printf \'{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}\' "$(cat "$here/exec-token")"',
      "",
    ].join("\n"), { mode: 0o755 });
    const runs = () => fs.readFileSync(path.join(pluginDir, "runs"), "utf8").split("\n").filter(Boolean).length;
    const exec = { apiVersion: "client.authentication.k8s.io/v1", command: path.join(pluginDir, "plugin.sh") };
    const client = track(new KubeClient(await loadClientConfig({ kubeconfig: kubeconfig("kubeconfig-exec", { exec }) })));
    for (let i = 0; i < 5; i++) await client.list(CONFIGMAPS, { namespace: NS, limit: 1 });
    assert.equal(runs(), 1, "a credential without an expiry is kept until it is refused");
    replaceFile(path.join(pluginDir, "exec-token"), d.token);
    await c.revoke();
    for (let i = 0; i < 5; i++) await client.list(CONFIGMAPS, { namespace: NS, limit: 1 });
    assert.equal(runs(), 2, "refused once, run once more");

    fs.writeFileSync(path.join(pluginDir, "fail.sh"), "#!/bin/sh\necho 'no credentials for you' >&2\nexit 3\n", { mode: 0o755 });
    // A relative command is relative to the kubeconfig's directory; its failure names the plugin, the user and its stderr.
    await assert.rejects(async () => {
      const failing = track(new KubeClient(await loadClientConfig({ kubeconfig: kubeconfig("kubeconfig-exec-fail", { exec: { ...exec, command: "./plugin/fail.sh" } }) })));
      await failing.list(CONFIGMAPS, { namespace: NS, limit: 1 });
    }, /exec credential plugin "\.\/plugin\/fail\.sh" of kubeconfig user "local": exited with 3: no credentials for you/);
  });

  test("an exec plugin's client certificate is used, and a new one after the credential expires", { timeout: 120_000 }, async () => {
    const certs = ensureCerts(path.join(cluster.dir, "pki"));
    const certDir = path.join(dir, "exec-cert");
    fs.mkdirSync(certDir);
    const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: certDir, stdio: ["ignore", "ignore", "pipe"] });
    fs.writeFileSync(path.join(certDir, "client.ext"), "extendedKeyUsage=clientAuth\n");
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "rotated.key", "-out", "rotated.csr", "-subj", "/O=system:masters/CN=exec-rotated");
    openssl("x509", "-req", "-in", "rotated.csr", "-CA", certs.caCert, "-CAkey", certs.caKey, "-CAserial", "ca.srl", "-CAcreateserial",
      "-out", "rotated.crt", "-days", "1", "-extfile", "client.ext");
    const credential = (cert: string, key: string, expires?: Date) => JSON.stringify({
      apiVersion: "client.authentication.k8s.io/v1", kind: "ExecCredential",
      status: { clientCertificateData: fs.readFileSync(cert, "utf8"), clientKeyData: fs.readFileSync(key, "utf8"), expirationTimestamp: expires?.toISOString() },
    });
    const credFile = path.join(certDir, "credential.json");
    fs.writeFileSync(credFile, credential(certs.adminCert, certs.adminKey, new Date(Date.now() + 3_000)));
    const client = track(new KubeClient(await loadClientConfig({
      kubeconfig: kubeconfig("kubeconfig-exec-cert", { exec: { apiVersion: "client.authentication.k8s.io/v1", command: "cat", args: [credFile] } }),
    })));
    const whoami = async () => (await client.request<{ status: { userInfo: { username: string } } }>("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {
      body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
    })).status.userInfo.username;
    assert.equal(await whoami(), "admin");
    replaceFile(credFile, credential(path.join(certDir, "rotated.crt"), path.join(certDir, "rotated.key")));
    await eventually(async () => (await whoami()) === "exec-rotated", { message: "the expired credential is replaced by the plugin's new certificate" });
  });

  test("tls-server-name: the certificate is checked against it, and a name the certificate lacks is refused clearly", async () => {
    const { token } = await boundToken("token-tls");
    const good = track(new KubeClient(await loadClientConfig({ kubeconfig: kubeconfig("kubeconfig-tls-good", { token }, { "tls-server-name": "kubernetes.default.svc" }) })));
    assert.equal((await good.list(CONFIGMAPS, { namespace: NS, limit: 1 })).kind, "ConfigMapList");
    const wrong = track(new KubeClient(await loadClientConfig({ kubeconfig: kubeconfig("kubeconfig-tls-wrong", { token }, { "tls-server-name": "wrong.example.invalid" }) })));
    await assert.rejects(wrong.list(CONFIGMAPS, { namespace: NS, limit: 1 }), (err: Error) => {
      assert.match(err.message, /wrong\.example\.invalid/);
      assert.match(err.message, /tls-server-name/);
      assert.match(err.message, /altnames/);
      return true;
    });
  });

  test("proxy-url: requests go through an HTTP CONNECT proxy; other schemes are refused naming the field", async () => {
    const { token } = await boundToken("token-proxy");
    const targets: string[] = [];
    const proxy = http.createServer((_req, res) => res.writeHead(405).end());
    proxy.on("connect", (req: http.IncomingMessage, downstream: net.Socket, head: Buffer) => {
      targets.push(req.url ?? "");
      const [host, port] = (req.url ?? "").split(":");
      const upstream = net.connect(Number(port), host, () => {
        downstream.write("HTTP/1.1 200 Connection established\r\n\r\n");
        upstream.write(head);
        upstream.pipe(downstream).pipe(upstream);
      });
      upstream.on("error", () => downstream.destroy());
      downstream.on("error", () => upstream.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    try {
      const proxyUrl = `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
      const client = track(new KubeClient(await loadClientConfig({ kubeconfig: kubeconfig("kubeconfig-proxy", { token }, { "proxy-url": proxyUrl }) })));
      const list = await client.list<KubeObject>(CONFIGMAPS, { namespace: NS, limit: 1 });
      assert.equal(list.kind, "ConfigMapList");
      assert.deepEqual(targets, [new URL(cluster.admin.config.server).host], "one tunnel to the API server, kept alive");
      client.close();
    } finally {
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
    }
    await assert.rejects(
      loadClientConfig({ kubeconfig: kubeconfig("kubeconfig-socks", { token }, { "proxy-url": "socks5://127.0.0.1:1080" }) }),
      /kubeconfig cluster "local": proxy-url "socks5:\/\/127\.0\.0\.1:1080": socks5 proxies are not supported; use an http:\/\/ proxy/,
    );
  });
});
