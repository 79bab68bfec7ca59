import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { KubeClient } from "./client.js";
import { WatchLines } from "./watch-lines.js";

test("a multi-byte character split across chunks is decoded whole", () => {
  const text = `${JSON.stringify({ type: "ADDED", object: { metadata: { name: "café-ünïcødé-🙂" } } })}\n`;
  const bytes = Buffer.from(text, "utf8");
  // Split inside every multi-byte sequence in turn (and byte by byte).
  for (let cut = 1; cut < bytes.length; cut++) {
    const frames = new WatchLines();
    const lines = [...frames.push(bytes.subarray(0, cut)), ...frames.push(bytes.subarray(cut))];
    assert.deepEqual(lines, [text.trim()], `cut at byte ${cut}`);
  }
  const oneByOne = new WatchLines();
  const lines = [...bytes].flatMap((b) => oneByOne.push(Buffer.from([b])));
  assert.deepEqual(lines, [text.trim()]);
});

test("several lines in one chunk, a line across chunks, blank lines dropped", () => {
  const frames = new WatchLines();
  assert.deepEqual(frames.push(Buffer.from('{"a":1}\n\n{"b":')), ['{"a":1}']);
  assert.deepEqual(frames.push(Buffer.from('2}\n{"c":3}\n')), ['{"b":2}', '{"c":3}']);
  assert.deepEqual(frames.push(Buffer.from("  \n")), []);
});

test("KubeClient.watch decodes an event whose multi-byte character is split across two writes", async () => {
  const name = "tier-naïve-🙂";
  const line = Buffer.from(`${JSON.stringify({ type: "ADDED", object: { metadata: { name } } })}\n`, "utf8");
  const cut = line.indexOf(Buffer.from("🙂", "utf8")) + 2;
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { "Content-Type": "application/json" });
    res.flushHeaders();
    res.write(line.subarray(0, cut));
    setTimeout(() => res.end(line.subarray(cut)), 50);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const client = new KubeClient({ server: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
  try {
    const names: string[] = [];
    for await (const ev of client.watch({ group: "", version: "v1", plural: "configmaps", namespaced: false, kind: "ConfigMap" }, {})) names.push(ev.object.metadata.name ?? "");
    assert.deepEqual(names, [name]);
  } finally {
    client.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
