/**
 * The fault proxy against a small fake API server: pass-through with credentials and bodies,
 * streamed watches, each fault type with its Kubernetes Status body and counter, reproducible
 * decisions for a seed, targeted rules, and TLS termination with a given certificate.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { KubeClient } from "../../src/kube/client.js";
import { ApiError, TransportError } from "../../src/kube/errors.js";
import type { KubeObject } from "../../src/kube/object.js";
import { ensureCerts } from "../harness/certs.js";
import { FaultProxy, type FaultProxyOptions } from "../harness/fault-proxy.js";
import { prng } from "../harness/prng.js";

const CONFIGMAPS = { group: "", version: "v1", plural: "configmaps", namespaced: true, kind: "ConfigMap" } as const;

/** A fake API server: echoes requests, counts them, and streams a watch whose rest waits for `release`. */
class FakeApi {
  received: { method: string; path: string; auth?: string; body: string }[] = [];
  private releaseWatch: (() => void)[] = [];
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      this.received.push({ method: req.method ?? "", path: req.url ?? "", auth: req.headers.authorization, body });
      if (req.url?.includes("watch=true")) {
        res.writeHead(200, { "Content-Type": "application/json" });
        const event = (n: number) => `${JSON.stringify({ type: "ADDED", object: { metadata: { name: `cm-${n}`, namespace: "default", resourceVersion: String(n) } } })}\n`;
        res.write(event(1));
        this.releaseWatch.push(() => res.end(event(2)));
        return;
      }
      const json = JSON.stringify({ metadata: { name: "x", namespace: "default" }, data: { method: req.method ?? "", body, auth: req.headers.authorization ?? "" } });
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(json) }).end(json);
    });
  });
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  release(): void {
    for (const r of this.releaseWatch.splice(0)) r();
  }
}

describe("fault proxy", () => {
  const api = new FakeApi();
  const proxies: FaultProxy[] = [];
  const clients: KubeClient[] = [];

  before(async () => {
    await new Promise<void>((r) => api.server.listen(0, "127.0.0.1", r));
  });
  after(async () => {
    for (const c of clients) c.close();
    for (const p of proxies) await p.stop();
    api.release();
    api.server.closeAllConnections();
    await new Promise((r) => api.server.close(r));
  });

  async function start(options: Partial<FaultProxyOptions> = {}): Promise<{ proxy: FaultProxy; client: KubeClient }> {
    const proxy = await FaultProxy.start({ target: api.url, seed: 1, ...options });
    // No client retries: each request shows what the proxy did to it.
    const client = new KubeClient({ server: proxy.url, token: "secret-token", timeoutMs: 5_000, retries: 0 });
    proxies.push(proxy);
    clients.push(client);
    return { proxy, client };
  }

  /** The outcome of one GET: "ok", an HTTP code, or "transport". */
  async function outcome(client: KubeClient): Promise<string> {
    try {
      await client.get(CONFIGMAPS, "x", "default");
      return "ok";
    } catch (err) {
      if (err instanceof ApiError) return String(err.code);
      if (err instanceof TransportError) return "transport";
      throw err;
    }
  }

  test("forwards method, path, bearer token and body; streams a watch before the server ends it", async () => {
    const { proxy, client } = await start();
    const cm: KubeObject = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x", namespace: "default" }, data: { a: "1" } };
    const echoed = await client.update(CONFIGMAPS, cm);
    assert.deepEqual(echoed.data, { method: "PUT", body: JSON.stringify(cm), auth: "Bearer secret-token" });
    const events = client.watch(CONFIGMAPS, { namespace: "default" });
    const first = await events.next();
    assert.equal(first.value?.object.metadata.name, "cm-1", "the first event arrives while the server still holds the rest");
    api.release();
    const second = await events.next();
    assert.equal(second.value?.object.metadata.name, "cm-2");
    assert.equal(proxy.injected, 0);
  });

  test("status faults answer with a Kubernetes Status (429 with Retry-After) and are counted", async () => {
    for (const code of [429, 500, 503, 504] as const) {
      const { proxy, client } = await start({ rates: { [`status${code}`]: 1 } });
      const err = await client.get(CONFIGMAPS, "x", "default").catch((e: unknown) => e);
      assert.ok(err instanceof ApiError, `status${code} gives an ApiError`);
      assert.equal(err.code, code);
      assert.equal(err.status?.kind, "Status");
      assert.match(err.message, new RegExp(`fault-proxy injected ${code}`));
      if (code === 429) assert.equal(err.status?.details?.retryAfterSeconds, 1);
      assert.equal(proxy.counts[`status${code}`], 1);
    }
  });

  test("a reset destroys the connection before forwarding; a drop forwards and loses the answer", async () => {
    const before = api.received.length;
    const { proxy: resetting, client: c1 } = await start({ rates: { reset: 1 } });
    assert.equal(await outcome(c1), "transport");
    assert.equal(resetting.counts.reset, 1);
    assert.equal(api.received.length, before, "a reset request never reaches the server");
    const { proxy: dropping, client: c2 } = await start({ rates: { drop: 1 } });
    assert.equal(await outcome(c2), "transport");
    assert.equal(dropping.counts.drop, 1);
    assert.equal(api.received.length, before + 1, "a dropped request reached the server");
  });

  test("the same seed gives the same faults in the same order; the counters match what clients saw", async () => {
    const rates = { reset: 0.1, status429: 0.1, status500: 0.1, status503: 0.1, status504: 0.1, latencyMs: [0, 2] as const };
    const run = async (seed: number) => {
      const { proxy, client } = await start({ seed, rates });
      const seen: string[] = [];
      for (let i = 0; i < 60; i++) seen.push(await outcome(client));
      return { seen, proxy };
    };
    const a = await run(42);
    const b = await run(42);
    const c = await run(43);
    assert.deepEqual(a.seen, b.seen);
    assert.notDeepEqual(a.seen, c.seen);
    const n = (s: string) => a.seen.filter((x) => x === s).length;
    assert.equal(n("transport"), a.proxy.counts.reset);
    for (const code of [429, 500, 503, 504] as const) assert.equal(n(String(code)), a.proxy.counts[`status${code}`], `status${code}`);
    assert.ok(a.proxy.injected > 10, `about half of 60 requests faulted (got ${a.proxy.injected})`);
  });

  test("watches end with 410 Gone: as an answer or as an ERROR event after some events", async () => {
    const { proxy, client } = await start({ seed: 7, rates: { watchGone: 1, watchGoneAfterMs: [20, 60] } });
    let answers = 0;
    let events = 0;
    for (let i = 0; i < 8; i++) {
      let got = 0;
      try {
        for await (const ev of client.watch(CONFIGMAPS, { namespace: "default" })) {
          assert.equal(ev.type, "ADDED");
          got++;
        }
        assert.fail("the watch ends with an error");
      } catch (err) {
        assert.ok(err instanceof ApiError && err.code === 410, `410 Gone, got ${String(err)}`);
        if (got === 0) answers++;
        else events++;
      }
    }
    api.release();
    assert.equal(answers, proxy.counts.watchGoneAnswer);
    assert.equal(events, proxy.counts.watchGoneEvent);
    assert.ok(answers > 0 && events > 0, `both forms seen (answers ${answers}, events ${events})`);
  });

  test("rules target requests by method, path and body, a given number of times", async () => {
    const { proxy, client } = await start({
      rules: [{
        name: "reject-migrating", method: "PUT", path: /\/configmaps\/x$/, times: 1,
        when: (r) => (r.body as { data?: { phase?: string } } | undefined)?.data?.phase === "Migrating",
        action: { type: "status", code: 409 },
      }],
    });
    const cm = (phase: string): KubeObject => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x", namespace: "default" }, data: { phase } });
    await client.update(CONFIGMAPS, cm("Pending"));
    const err = await client.update(CONFIGMAPS, cm("Migrating")).catch((e: unknown) => e);
    assert.ok(err instanceof ApiError && err.code === 409 && err.reason === "Conflict");
    await client.update(CONFIGMAPS, cm("Migrating"));
    assert.equal(proxy.ruleHits["reject-migrating"], 1);
  });

  test("terminates TLS with the given certificate", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fault-proxy-"));
    try {
      const certs = ensureCerts(dir);
      const proxy = await FaultProxy.start({ target: api.url, seed: 1, tls: { cert: fs.readFileSync(certs.servingCert), key: fs.readFileSync(certs.servingKey) } });
      proxies.push(proxy);
      assert.match(proxy.url, /^https:/);
      const client = new KubeClient({ server: proxy.url, ca: fs.readFileSync(certs.caCert), token: "t" });
      clients.push(client);
      assert.equal(((await client.get(CONFIGMAPS, "x", "default")).data as { auth?: string }).auth, "Bearer t");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the PRNG is reproducible", () => {
    const a = prng(5);
    const b = prng(5);
    assert.deepEqual(Array.from({ length: 5 }, () => a.int(1000)), Array.from({ length: 5 }, () => b.int(1000)));
  });
});
