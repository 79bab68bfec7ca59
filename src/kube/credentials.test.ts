/**
 * Credential sources with a fake clock (token file re-read on schedule and after a 401, exec
 * plugin cached until its expiry, clear errors) and KubeClient's one refresh-and-resend on a 401,
 * against a local HTTP server that accepts only the token of the moment.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { KubeClient } from "./client.js";
import { CredentialsError, execSource, tokenFileSource } from "./credentials.js";
import { ApiError } from "./errors.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "credentials-test-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

test("a token file is re-read once the refresh period has passed, or at once after a 401", async () => {
  const file = path.join(dir, "token");
  fs.writeFileSync(file, "a\n");
  const c = clock();
  const source = tokenFileSource(file, { user: "u", refreshMs: 60_000, now: c.now });
  const first = await source.current();
  assert.deepEqual(first, { token: "a" });
  fs.writeFileSync(file, "b");
  c.t += 59_000;
  assert.equal((await source.current()).token, "a", "cached within the period");
  source.invalidate({ token: "a" }); // another object: someone else's stale answer, not the cached one
  assert.equal((await source.current()).token, "a");
  source.invalidate(first);
  assert.equal((await source.current()).token, "b", "refused: read again");
  fs.writeFileSync(file, "c");
  c.t += 60_001;
  assert.equal((await source.current()).token, "c", "period over: read again");
  fs.writeFileSync(file, "");
  c.t += 60_001;
  assert.equal((await source.current()).token, "c", "caught mid-rewrite (empty): the last good token stays");
});

test("a token file that cannot be read is an error naming the file and the kubeconfig user", async () => {
  const source = tokenFileSource(path.join(dir, "missing"), { user: "controller" });
  await assert.rejects(source.current(), (err: Error) => {
    assert.ok(err instanceof CredentialsError);
    assert.match(err.message, /cannot read the bearer token file .*missing of kubeconfig user "controller": ENOENT/);
    return true;
  });
});

function plugin(name: string, body: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `#!/bin/sh\necho run >> "${file}.runs"\n${body}\n`, { mode: 0o755 });
  return file;
}
const runs = (file: string) => fs.readFileSync(`${file}.runs`, "utf8").split("\n").filter(Boolean).length;

test("an exec plugin's credential is kept until its expirationTimestamp", async () => {
  const expiry = new Date(2_000_000).toISOString();
  const cmd = plugin("expiring.sh", `printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"t","expirationTimestamp":"${expiry}"}}'`);
  const c = clock();
  const source = execSource({ command: cmd, apiVersion: "client.authentication.k8s.io/v1" }, { user: "u", dir, now: c.now });
  assert.equal((await source.current()).token, "t");
  c.t = 1_999_999;
  await source.current();
  assert.equal(runs(cmd), 1);
  c.t = 2_000_000;
  await source.current();
  assert.equal(runs(cmd), 2, "expired: run again");
});

test("exec plugin failures are errors naming the plugin, the user and what went wrong", async () => {
  const cases: [string, string, RegExp][] = [
    ["garbage.sh", "echo not json", /its output is not an ExecCredential \(JSON\): not json/],
    ["wrong-kind.sh", `printf '{"kind":"Status"}'`, /its output has kind Status, want ExecCredential/],
    ["empty.sh", `printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{}}'`, /neither status.token nor status.clientCertificateData/],
    ["fails.sh", "echo 'login first' >&2; exit 2", /exited with 2: login first/],
  ];
  for (const [name, body, why] of cases) {
    const source = execSource({ command: plugin(name, body), apiVersion: "client.authentication.k8s.io/v1" }, { user: "me", dir });
    await assert.rejects(source.current(), (err: Error) => {
      assert.ok(err instanceof CredentialsError, name);
      assert.match(err.message, new RegExp(`exec credential plugin ".*${name}" of kubeconfig user "me": `));
      assert.match(err.message, why);
      return true;
    });
  }
  const interactive = execSource({ command: "true", interactiveMode: "Always" }, { user: "me", dir });
  await assert.rejects(interactive.current(), /interactiveMode is Always/);
});

// The server accepts only `accepted`; each request's token is recorded.
let accepted = "new";
const seen: string[] = [];
const server = http.createServer((req, res) => {
  seen.push(req.headers.authorization ?? "");
  if (req.headers.authorization !== `Bearer ${accepted}`) {
    res.writeHead(401, { "Content-Type": "application/json" }).end(JSON.stringify({ kind: "Status", code: 401, reason: "Unauthorized", message: "Unauthorized" }));
    return;
  }
  if (req.url?.includes("watch=true")) {
    res.writeHead(200, { "Content-Type": "application/json" }).end(`${JSON.stringify({ type: "ADDED", object: { metadata: { name: "x" } } })}\n`);
    return;
  }
  res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ kind: "List", metadata: {}, items: [] }));
});
let url = "";
before(async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const PODS = { group: "", version: "v1", plural: "pods", namespaced: true, kind: "Pod" } as const;

test("on a 401 the client refreshes its credentials once and resends; requests and watches alike", async () => {
  const file = path.join(dir, "client-token");
  fs.writeFileSync(file, "old");
  const client = new KubeClient({ server: url, credentials: tokenFileSource(file, { user: "u" }), retries: 0 });
  try {
    accepted = "old";
    await client.list(PODS, { namespace: "a" });
    fs.writeFileSync(file, "new");
    accepted = "new";
    seen.length = 0;
    await client.list(PODS, { namespace: "a" });
    assert.deepEqual(seen, ["Bearer old", "Bearer new"], "refused once, resent with the fresh token");

    fs.writeFileSync(file, "newer");
    accepted = "newer";
    seen.length = 0;
    const events = [];
    for await (const e of client.watch(PODS, { namespace: "a" })) events.push(e.type);
    assert.deepEqual(events, ["ADDED"]);
    assert.deepEqual(seen, ["Bearer new", "Bearer newer"], "a watch reconnects with the fresh token");

    accepted = "nobody";
    seen.length = 0;
    await assert.rejects(client.list(PODS, { namespace: "a" }), (err: Error) => err instanceof ApiError && err.code === 401);
    assert.equal(seen.length, 2, "a second 401 is the answer: no loop");
  } finally {
    client.close();
  }
});
