// Informer against the real API server: handlers, selectors, resync, outage and 410 recovery (by a
// client decorator), and a CRD deleted and re-created under a running informer.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { sharedCluster } from "../harness/shared-cluster.js";
import { eventually } from "../harness/eventually.js";
import { CRD_RESOURCE, waitEstablished } from "../harness/apply.js";
import { KubeClient } from "../../src/kube/client.js";
import { ApiError, isNotFound, TransportError } from "../../src/kube/errors.js";
import { FakeClock } from "../../src/kube/clock.js";
import { Informer } from "../../src/kube/informer.js";
import type { Logger } from "../../src/kube/logger.js";
import type { KubeObject } from "../../src/kube/object.js";
import type { ResourceRef } from "../../src/kube/resource.js";

const CONFIGMAPS: ResourceRef = { group: "", version: "v1", plural: "configmaps", namespaced: true, kind: "ConfigMap" };
const GROUP = "test.migration.projectcalico.org";
const WIDGETS: ResourceRef = { group: GROUP, version: "v1", plural: "widgets", namespaced: false, kind: "Widget" };
const WIDGET_CRD = `widgets.${GROUP}`;
const FAST = { baseMs: 50, maxMs: 300 };

type ConfigMap = KubeObject & { data?: Record<string, string> };

const cluster = await sharedCluster();
const ns = `kube-informer-${randomBytes(3).toString("hex")}`;
await cluster.admin.create({ group: "", version: "v1", plural: "namespaces", namespaced: false, kind: "Namespace" }, { metadata: { name: ns } });

after(async () => {
  await cluster.admin.request("DELETE", `/api/v1/namespaces/${ns}`).catch(() => undefined);
});

/** Records handler calls as `kind:name[:data.v]` strings. */
function recorder<T extends ConfigMap>() {
  const events: string[] = [];
  const label = (o: T) => `${o.metadata.name}${o.data?.v !== undefined ? `:${o.data.v}` : ""}`;
  return {
    events,
    handlers: {
      onAdd: (o: T) => void events.push(`add:${label(o)}`),
      onUpdate: (a: T, b: T) => void events.push(a === b ? `resync:${label(b)}` : `update:${label(a)}->${label(b)}`),
      onDelete: (o: T) => void events.push(`delete:${label(o)}`),
    },
  };
}

function recordingLogger(): { logger: Logger; lines: { level: string; message: string; fields: Record<string, unknown> }[] } {
  const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  const at = (level: string) => (fields: Record<string, unknown>, message: string) => void lines.push({ level, message, fields });
  return { lines, logger: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") } };
}

const cm = (name: string, v: string, labels?: Record<string, string>): ConfigMap => ({
  apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: ns, labels }, data: { v },
});

async function updateCm(name: string, v: string): Promise<void> {
  await cluster.admin.patch(CONFIGMAPS, name, { data: { v } }, "merge", ns);
}

/** Waits until a handler call was recorded. */
const saw = (events: string[], event: string) => eventually(() => events.includes(event), { timeoutMs: 10_000, message: `handler call ${event}` });

const names = (inf: Informer<ConfigMap>) => inf.list().map((o) => o.metadata.name).sort();

/** Fault injection around a real client: a simulated outage, cut watches, a forced 410. */
class FaultyClient extends KubeClient {
  outage = false;
  goneOnNextWatch = false;
  lists = 0;
  watches = 0;
  private readonly live = new Set<(err: Error) => void>();

  override request<T>(method: string, path: string, options: Parameters<KubeClient["request"]>[2] = {}): Promise<T> {
    if (this.outage) return Promise.reject(new TransportError(`${method} ${path}: injected outage`, method, path));
    if (method === "GET" && !options.query?.watch) this.lists++;
    return super.request<T>(method, path, options);
  }

  override async *watch<T extends KubeObject = KubeObject>(ref: ResourceRef, options: Parameters<KubeClient["watch"]>[1]) {
    this.watches++;
    if (this.outage) throw new TransportError("watch: injected outage", "GET", "");
    if (this.goneOnNextWatch) {
      this.goneOnNextWatch = false;
      throw new ApiError(410, "Expired", "injected: too old resource version", "GET", "", undefined);
    }
    const inner = new AbortController();
    let injected: Error | undefined;
    const cut = (err: Error) => {
      injected = err;
      inner.abort();
    };
    const onAbort = () => inner.abort();
    options.signal?.addEventListener("abort", onAbort);
    this.live.add(cut);
    try {
      yield* super.watch<T>(ref, { ...options, signal: inner.signal });
    } catch (err) {
      if (!injected) throw err;
    } finally {
      this.live.delete(cut);
      options.signal?.removeEventListener("abort", onAbort);
    }
    if (injected) throw injected;
  }

  /** Ends every open watch with `err`, as a reset connection would. */
  cutWatches(err: Error): void {
    for (const cut of [...this.live]) cut(err);
  }

  openWatches(): number {
    return this.live.size;
  }
}

test("informer lists, then calls handlers for ConfigMap adds, updates and deletes", async () => {
  const basic = { t: "basic" };
  await cluster.admin.create(CONFIGMAPS, cm("pre", "0", basic));
  const rec = recorder<ConfigMap>();
  const log = recordingLogger();
  const inf = new Informer<ConfigMap>(cluster.admin, CONFIGMAPS, {
    namespace: ns, labelSelector: "t=basic", handlers: rec.handlers, logger: log.logger, pageSize: 1,
  });
  inf.addHandlers({ onAdd: () => { throw new Error("handler bug"); } });
  assert.equal(inf.hasSynced(), false);
  inf.start();
  assert.equal(await inf.waitForSync(), true);
  assert.equal(inf.hasSynced(), true);
  assert.deepEqual(names(inf), ["pre"]);
  assert.equal(inf.get("pre", ns)?.kind, "ConfigMap", "list items get apiVersion/kind");
  assert.ok(inf.resourceVersion);

  await cluster.admin.create(CONFIGMAPS, cm("a", "1", basic));
  await saw(rec.events, "add:a:1");
  await updateCm("a", "2");
  await saw(rec.events, "update:a:1->a:2");
  await cluster.admin.delete(CONFIGMAPS, "a", ns);
  await saw(rec.events, "delete:a:2");
  assert.deepEqual(rec.events, ["add:pre:0", "add:a:1", "update:a:1->a:2", "delete:a:2"]);
  assert.deepEqual(names(inf), ["pre"]);
  assert.ok(log.lines.some((l) => l.level === "error" && l.fields.err === "handler bug"), "a throwing handler is logged, not fatal");

  await inf.stop();
  await cluster.admin.create(CONFIGMAPS, cm("after-stop", "x", basic));
  const countAfterStop = rec.events.length;
  await updateCm("pre", "1");
  await eventually(async () => (await cluster.admin.get<ConfigMap>(CONFIGMAPS, "pre", ns)).data?.v === "1");
  assert.equal(rec.events.length, countAfterStop, "no handler calls after stop");
});

test("informer honours label and field selectors", async () => {
  await cluster.admin.create(CONFIGMAPS, cm("sel-yes", "1", { app: "picked" }));
  await cluster.admin.create(CONFIGMAPS, cm("sel-no", "1", { app: "other" }));
  const byLabel = new Informer<ConfigMap>(cluster.admin, CONFIGMAPS, { namespace: ns, labelSelector: "app=picked" });
  const byField = new Informer<ConfigMap>(cluster.admin, CONFIGMAPS, { namespace: ns, fieldSelector: "metadata.name=sel-no" });
  const rec = recorder<ConfigMap>();
  byLabel.addHandlers(rec.handlers);
  byLabel.start();
  byField.start();
  try {
    assert.equal(await byLabel.waitForSync(), true);
    assert.equal(await byField.waitForSync(), true);
    assert.deepEqual(names(byLabel), ["sel-yes"]);
    assert.deepEqual(names(byField), ["sel-no"]);
    await cluster.admin.create(CONFIGMAPS, cm("sel-late", "1", { app: "picked" }));
    await cluster.admin.create(CONFIGMAPS, cm("sel-late-other", "1"));
    await eventually(() => assert.deepEqual(names(byLabel), ["sel-late", "sel-yes"]), { timeoutMs: 10_000 });
    // Relabelling out of the selector arrives as a delete.
    await cluster.admin.patch(CONFIGMAPS, "sel-yes", { metadata: { labels: { app: "gone" } } }, "merge", ns);
    await eventually(() => assert.deepEqual(names(byLabel), ["sel-late"]), { timeoutMs: 10_000 });
    assert.ok(rec.events.includes("delete:sel-yes:1"));
    assert.deepEqual(names(byField), ["sel-no"]);
  } finally {
    await Promise.all([byLabel.stop(), byField.stop()]);
  }
});

test("informer resyncs every cached object on the injected clock", async () => {
  await cluster.admin.create(CONFIGMAPS, cm("resync-1", "1", { resync: "yes" }));
  await cluster.admin.create(CONFIGMAPS, cm("resync-2", "1", { resync: "yes" }));
  const clock = new FakeClock(Date.now());
  const rec = recorder<ConfigMap>();
  const inf = new Informer<ConfigMap>(cluster.admin, CONFIGMAPS, { namespace: ns, labelSelector: "resync=yes", clock, handlers: rec.handlers });
  inf.start();
  try {
    assert.equal(await inf.waitForSync(), true);
    await clock.waitForSleepers(1);
    await clock.advance(59_999);
    assert.deepEqual(rec.events.filter((e) => e.startsWith("resync")), []);
    await clock.advance(1);
    assert.deepEqual(rec.events.filter((e) => e.startsWith("resync")).sort(), ["resync:resync-1:1", "resync:resync-2:1"]);
    await clock.advance(60_000);
    assert.equal(rec.events.filter((e) => e.startsWith("resync")).length, 4);
  } finally {
    await inf.stop();
  }
  const disabled = new Informer<ConfigMap>(cluster.admin, CONFIGMAPS, { namespace: ns, resyncMs: 0, clock });
  disabled.start();
  assert.equal(await disabled.waitForSync(), true);
  assert.equal(clock.pending(), 0, "no resync timer when resync is disabled");
  await disabled.stop();
});

test("informer resumes the watch after a transport error and re-lists after 410 Gone", async (t) => {
  const client = new FaultyClient(cluster.admin.config);
  t.after(() => client.close());
  for (const n of ["f-a", "f-b", "f-c"]) await cluster.admin.create(CONFIGMAPS, cm(n, "1", { fault: "yes" }));
  const rec = recorder<ConfigMap>();
  const log = recordingLogger();
  const inf = new Informer<ConfigMap>(client, CONFIGMAPS, { namespace: ns, labelSelector: "fault=yes", handlers: rec.handlers, backoff: FAST, logger: log.logger });
  inf.start();
  try {
    assert.equal(await inf.waitForSync(), true);
    await eventually(() => client.openWatches() === 1, { timeoutMs: 10_000 });
    assert.equal(client.lists, 1);

    // A reset connection during an outage: retries with backoff, then resumes the watch from the
    // last resourceVersion and so sees what changed meanwhile, without listing again.
    client.outage = true;
    client.cutWatches(new TransportError("watch: injected connection reset", "GET", ""));
    await cluster.admin.create(CONFIGMAPS, cm("f-d", "1", { fault: "yes" }));
    await updateCm("f-a", "2");
    await eventually(() => log.lines.filter((l) => l.level === "warn").length >= 3, { timeoutMs: 10_000, message: "retries during the outage" });
    client.outage = false;
    await eventually(() => assert.deepEqual(names(inf), ["f-a", "f-b", "f-c", "f-d"]), { timeoutMs: 10_000 });
    await saw(rec.events, "update:f-a:1->f-a:2");
    assert.equal(client.lists, 1, "a transport error resumes the watch, no re-list");

    // Changes the informer cannot see, then 410 Gone on the next watch: the re-list must turn
    // them into a delete, an add and updates.
    client.outage = true;
    client.cutWatches(new TransportError("watch: injected connection reset", "GET", ""));
    await cluster.admin.delete(CONFIGMAPS, "f-b", ns);
    await cluster.admin.create(CONFIGMAPS, cm("f-e", "1", { fault: "yes" }));
    await updateCm("f-c", "3");
    client.goneOnNextWatch = true;
    client.outage = false;
    await eventually(() => assert.deepEqual(names(inf), ["f-a", "f-c", "f-d", "f-e"]), { timeoutMs: 10_000 });
    assert.equal(client.lists, 2, "410 Gone re-lists once");
    assert.ok(rec.events.includes("delete:f-b:1"), "deleted while unseen → onDelete from the re-list");
    assert.ok(rec.events.includes("add:f-e:1"));
    assert.ok(rec.events.includes("update:f-c:1->f-c:3"));
    assert.ok(log.lines.some((l) => l.fields.relist === true && /too old resource version/.test(String(l.fields.err))));

    // And the new watch is live.
    await updateCm("f-e", "2");
    await saw(rec.events, "update:f-e:1->f-e:2");
  } finally {
    await inf.stop();
  }
});

test("informer keeps retrying while its CRD is deleted and recovers when it is re-created", async (t) => {
  const admin = cluster.admin;
  const crd = {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: WIDGET_CRD },
    spec: {
      group: GROUP,
      scope: "Cluster",
      names: { plural: "widgets", singular: "widget", kind: "Widget", listKind: "WidgetList" },
      versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } } }],
    },
  };
  const deleteCrd = async () => {
    await admin.delete(CRD_RESOURCE, WIDGET_CRD).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
    await eventually(async () => {
      try {
        await admin.get(CRD_RESOURCE, WIDGET_CRD);
        return false;
      } catch (err) {
        return isNotFound(err);
      }
    }, { timeoutMs: 60_000, message: "CRD gone" });
  };
  const widget = (name: string): KubeObject => ({ apiVersion: `${GROUP}/v1`, kind: "Widget", metadata: { name }, spec: { size: 1 } });

  await deleteCrd();
  await admin.create(CRD_RESOURCE, crd);
  t.after(deleteCrd);
  await waitEstablished(admin, [WIDGET_CRD]);
  await admin.create(WIDGETS, widget("w1"));

  const rec = recorder<ConfigMap>();
  const log = recordingLogger();
  const inf = new Informer<ConfigMap>(admin, WIDGETS, { handlers: rec.handlers, backoff: FAST, logger: log.logger });
  inf.start();
  try {
    assert.equal(await inf.waitForSync(), true);
    assert.deepEqual(names(inf), ["w1"]);

    await deleteCrd();
    const warnsBefore = log.lines.filter((l) => l.level === "warn").length;
    await eventually(() => log.lines.filter((l) => l.level === "warn").length >= warnsBefore + 3, { timeoutMs: 15_000, message: "informer retrying without its CRD" });
    assert.ok(log.lines.some((l) => l.level === "warn" && l.fields.relist === true), "a refused watch or list re-lists");

    await admin.create(CRD_RESOURCE, crd);
    await waitEstablished(admin, [WIDGET_CRD]);
    await admin.create(WIDGETS, widget("w2"));
    await eventually(() => assert.deepEqual(names(inf), ["w2"]), { timeoutMs: 20_000, message: "informer recovered" });
    assert.ok(rec.events.includes("add:w2"));
    assert.ok(rec.events.includes("delete:w1"), "the instance removed with the CRD is reported deleted");
    assert.ok(inf.hasSynced());
  } finally {
    await inf.stop();
  }
});

test("waitForSync answers false when stopped before the first list succeeds", async () => {
  const missing: ResourceRef = { group: GROUP, version: "v1", plural: "nothings", namespaced: false, kind: "Nothing" };
  const log = recordingLogger();
  const inf = new Informer(cluster.admin, missing, { backoff: FAST, logger: log.logger });
  inf.start();
  const synced = inf.waitForSync();
  await eventually(() => log.lines.filter((l) => l.level === "warn").length >= 2, { timeoutMs: 10_000 });
  assert.equal(inf.hasSynced(), false);
  const aborted = new AbortController();
  const viaSignal = inf.waitForSync(aborted.signal);
  aborted.abort();
  assert.equal(await viaSignal, false);
  await inf.stop();
  assert.equal(await synced, false);
  assert.equal(await inf.waitForSync(), false);
});
