import { test } from "node:test";
import assert from "node:assert/strict";
import { Counter, Registry } from "prom-client";
import { InvalidBindAddressError, parseBindAddress, startHttpServer } from "./http-server.js";

test("parseBindAddress understands controller-runtime style addresses", () => {
  assert.deepEqual(parseBindAddress(":8080"), { host: "", port: 8080 });
  assert.deepEqual(parseBindAddress("127.0.0.1:0"), { host: "127.0.0.1", port: 0 });
  assert.deepEqual(parseBindAddress("0.0.0.0:9443"), { host: "0.0.0.0", port: 9443 });
  assert.deepEqual(parseBindAddress("localhost:8081"), { host: "localhost", port: 8081 });
  assert.deepEqual(parseBindAddress("[::1]:9090"), { host: "::1", port: 9090 });
  assert.equal(parseBindAddress("0"), undefined);
  assert.equal(parseBindAddress(""), undefined);
  for (const bad of ["8080", "host:", ":99999", "::1:80", "a b:80", ":http"]) {
    assert.throws(() => parseBindAddress(bad), InvalidBindAddressError, bad);
  }
  assert.throws(() => parseBindAddress("8080"), /invalid bind address "8080": want ":8080"/);
});

test("a disabled server is not started", async () => {
  assert.equal(await startHttpServer({ bindAddress: "0" }), undefined);
});

test("serves /healthz, /readyz from the callback, /metrics from the registry", async (t) => {
  let ready = false;
  let healthy: boolean | Error = true;
  const registry = new Registry();
  const counter = new Counter({ name: "test_reconciles_total", help: "reconciles", registers: [registry] });
  counter.inc(3);
  const server = await startHttpServer({
    bindAddress: "127.0.0.1:0",
    ready: () => ready,
    healthy: () => {
      if (healthy instanceof Error) throw healthy;
      return Promise.resolve(healthy);
    },
    registry,
  });
  assert.ok(server);
  t.after(() => server.close());
  assert.ok(server.port > 0);
  const base = `http://127.0.0.1:${server.port}`;
  const get = async (path: string, init?: RequestInit) => {
    const res = await fetch(base + path, init);
    return { status: res.status, body: await res.text(), type: res.headers.get("content-type") ?? "" };
  };

  assert.deepEqual(await get("/healthz"), { status: 200, body: "ok\n", type: "text/plain; charset=utf-8" });
  assert.equal((await get("/readyz")).status, 503);
  ready = true;
  assert.equal((await get("/readyz")).status, 200);
  assert.equal((await get("/readyz?verbose")).status, 200);
  healthy = false;
  assert.equal((await get("/healthz")).status, 503);
  healthy = new Error("informer not synced");
  assert.deepEqual(await get("/healthz"), { status: 503, body: "healthz check failed: informer not synced\n", type: "text/plain; charset=utf-8" });

  const metrics = await get("/metrics");
  assert.equal(metrics.status, 200);
  assert.match(metrics.body, /^test_reconciles_total 3$/m);
  assert.equal(metrics.type, registry.contentType);

  assert.equal((await get("/nope")).status, 404);
  assert.equal((await get("/healthz", { method: "POST" })).status, 405);
  const head = await get("/metrics", { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.body, "");
});

test("/metrics is 404 without a registry, and close() stops listening", async () => {
  const server = await startHttpServer({ bindAddress: "127.0.0.1:0" });
  assert.ok(server);
  const base = `http://127.0.0.1:${server.port}`;
  assert.equal((await fetch(`${base}/metrics`)).status, 404);
  assert.equal((await fetch(`${base}/readyz`)).status, 200);
  await server.close();
  await assert.rejects(fetch(`${base}/healthz`));
});

test("a port in use is reported", async (t) => {
  const first = await startHttpServer({ bindAddress: "127.0.0.1:0" });
  assert.ok(first);
  t.after(() => first.close());
  await assert.rejects(startHttpServer({ bindAddress: `127.0.0.1:${first.port}` }), /EADDRINUSE/);
});
