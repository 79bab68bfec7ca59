/**
 * KubeClient's retries of transient failures against a local HTTP server: 429/5xx and resets are
 * retried (writes too), other errors and our own timeouts are not, and retries can be disabled.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { KubeClient } from "./client.js";
import { ApiError, TransportError } from "./errors.js";

/** Answers each request with the next planned outcome, then 200. */
let plan: (number | "reset" | "hang")[] = [];
let seen = 0;
const server = http.createServer((req, res) => {
  seen++;
  req.resume();
  req.on("end", () => {
    const next = plan.shift() ?? 200;
    if (next === "reset") return req.socket.destroy();
    if (next === "hang") return;
    const body = next === 200 ? JSON.stringify({ ok: true }) : JSON.stringify({ kind: "Status", code: next, reason: next === 429 ? "TooManyRequests" : "InternalError", message: `planned ${next}` });
    res.writeHead(next, { "Content-Type": "application/json" }).end(body);
  });
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

function run(outcomes: typeof plan, config: Partial<ConstructorParameters<typeof KubeClient>[0]> = {}, method = "GET") {
  plan = [...outcomes];
  seen = 0;
  const client = new KubeClient({ server: url, ...config });
  return client.request(method, "/api/v1/namespaces", method === "GET" ? {} : { body: {} }).finally(() => client.close());
}

test("transient failures are retried until the request succeeds, writes included", async () => {
  assert.deepEqual(await run([503, 500, "reset", 504]), { ok: true });
  assert.equal(seen, 5);
  assert.deepEqual(await run([429, 500], {}, "POST"), { ok: true });
  assert.equal(seen, 3);
});

test("the last error comes out once the retries are used up", async () => {
  const err = await run([503, 503, 503], { retries: 2 }).catch((e: unknown) => e);
  assert.ok(err instanceof ApiError && err.code === 503, String(err));
  assert.equal(seen, 3);
});

test("errors that are not transient, our own timeout, and retries: 0 are not retried", async () => {
  const notFound = await run([404]).catch((e: unknown) => e);
  assert.ok(notFound instanceof ApiError && notFound.code === 404);
  assert.equal(seen, 1);
  const timedOut = await run(["hang"], { timeoutMs: 200 }).catch((e: unknown) => e);
  assert.ok(timedOut instanceof TransportError && /timed out/.test(timedOut.message), String(timedOut));
  assert.equal(seen, 1);
  const disabled = await run([500], { retries: 0 }).catch((e: unknown) => e);
  assert.ok(disabled instanceof ApiError && disabled.code === 500);
  assert.equal(seen, 1);
});
