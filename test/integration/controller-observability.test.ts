/**
 * What an operator sees of one migration, from a controller process with a tiny --locked-warning
 * behind a proxy that lets another writer touch the CR during the copy: the copy runs once (the
 * LockedTooLong status write and a failed progress write do not leave a stale CR behind), the
 * LockedTooLong Event, condition and metric, the Verified condition with the verification counts,
 * and the documented calico_migration_* metrics with values that fit the migration.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { ConditionReason, ConditionType, MIGRATION_NAME, migrationResource } from "../../src/api/datastore-migration.js";
import { CALICO_KINDS } from "../../src/calico/kinds.js";
import { resetApiServerMode } from "../harness/api-server-mode.js";
import { repoRoot } from "../harness/binaries.js";
import { proxyForCluster, type ClusterProxy } from "../harness/cluster-proxy.js";
import { CORE_ROLE_OPT_OUT, installControllerManifests } from "../harness/controller.js";
import { ControllerProcess } from "../harness/controller-process.js";
import { eventually } from "../harness/eventually.js";
import { createMigration, deleteMigration, eventsFor, waitGone, waitPhase } from "../harness/migration-cr.js";
import { sharedCluster, type TestCluster } from "../harness/shared-cluster.js";
import { writeV1 } from "../harness/v1-writer.js";

/** One sample of the Prometheus text format. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseMetrics(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split("\n")) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1] ?? "", type[2] ?? "");
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    samples.push({ name: m[1] ?? "", labels, value: Number(m[3]) });
  }
  return { samples, types };
}

describe("what the controller shows of a migration", () => {
  let cluster: TestCluster;
  let cp: ClusterProxy | undefined;
  let controller: ControllerProcess | undefined;

  before(async () => {
    cluster = await sharedCluster();
    await resetApiServerMode(cluster.admin);
    await installControllerManifests(cluster.admin);
    await writeV1(cluster.admin, { kind: "Tier", metadata: { name: "observed" }, spec: { order: 300 } });
    await writeV1(cluster.admin, { kind: "GlobalNetworkSet", metadata: { name: "observed-set" }, spec: { nets: ["198.51.100.0/24"] } });
    await writeV1(cluster.admin, { kind: "NetworkSet", metadata: { name: "observed-ns", namespace: "default" }, spec: { nets: ["203.0.113.0/24"] } });
    const admin = cluster.admin;
    cp = await proxyForCluster(cluster, {
      seed: 1,
      rules: [{
        // Another writer touches the CR just before the first progress write of the copy: that
        // write fails with 409, and every later one would too from the CR it had.
        name: "another writer",
        method: "PUT",
        path: new RegExp(`/datastoremigrations/${MIGRATION_NAME}/status$`),
        when: (req) => {
          const status = (req.body as { status?: { phase?: string; progress?: unknown } } | undefined)?.status;
          return status?.phase === "Migrating" && status.progress !== undefined;
        },
        times: 1,
        action: { type: "hook", run: async () => void (await admin.patch(migrationResource("v1"), MIGRATION_NAME, { metadata: { annotations: { "test.migration.projectcalico.org/touched": "true" } } }, "merge")) },
      }],
    });
    controller = new ControllerProcess(cp.kubeconfig, { name: "observed", extraArgs: ["--locked-warning", "1ms", "--no-precopy"] });
  });

  after(async () => {
    await deleteMigration(cluster.admin).catch(() => undefined);
    await waitGone(cluster.admin).catch(() => undefined);
    await controller?.kill("SIGTERM");
    await cp?.proxy.stop();
  });

  test("copies once past --locked-warning and a stale progress write; LockedTooLong and Verified in status; the documented metrics", async () => {
    await createMigration(cluster.admin, { annotations: CORE_ROLE_OPT_OUT });
    const dm = await waitPhase(cluster.admin, "Converged", { timeoutMs: 90_000 });
    assert.equal(cp?.proxy.ruleHits["another writer"], 1, "the other writer touched the CR during the copy");
    assert.ok((controller?.lines("progress status write failed").length ?? 0) >= 1, "a progress write failed with 409");

    // The copy ran exactly once: one "kind copied" line per kind, and no failed reconcile.
    const copied = (controller?.lines("kind copied") ?? []).map((l) => String(l.kind)).sort();
    assert.deepEqual(copied, CALICO_KINDS.map((k) => k.kind).sort(), "each kind copied once");
    assert.deepEqual(controller?.lines("reconcile failed").map((l) => String(l.err)), [], "no status write failed with 409");

    // LockedTooLong: condition, Event, metric.
    const locked = dm.status?.conditions?.filter((c) => c.type === ConditionType.LockedTooLong) ?? [];
    assert.equal(locked.length, 1);
    assert.match(locked[0]?.message ?? "", /^the datastore has been locked for \S+, longer than --locked-warning=1ms; new pods cannot get IPs while it is locked$/);
    assert.equal((await eventsFor(cluster.admin, dm, "LockedTooLong")).length, 1);

    // Verified: the verification's counts in status.
    const total = dm.status?.progress?.total ?? 0;
    assert.ok(total >= 3, `progress.total ${total}`);
    const verified = dm.status?.conditions?.filter((c) => c.type === ConditionType.Verified) ?? [];
    assert.equal(verified.length, 1);
    assert.deepEqual([verified[0]?.status, verified[0]?.reason], ["True", ConditionReason.AllEqual]);
    assert.equal(verified[0]?.message, `verification: ${total} v1 objects, ${total} equal in v3, 0 re-created, 0 conflicts, 0 v3 objects without a v1 source`);

    // Metrics, scraped from the controller's /metrics.
    const port = controller?.lines("controller starting")[0]?.metricsPort;
    assert.equal(typeof port, "number", "the controller logged its metrics port");
    const { samples, types } = await eventually(async () => {
      const res = await fetch(`http://127.0.0.1:${String(port)}/metrics`);
      assert.equal(res.status, 200);
      return parseMetrics(await res.text());
    }, { message: "GET /metrics" });
    const value = (name: string, labels: Record<string, string> = {}) =>
      samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);

    assert.equal(value("calico_migration_phase", { phase: "converged" }), 1);
    assert.equal(value("calico_migration_phase"), 1, "only the current phase is 1");
    const migrated = value("calico_migration_resources_total", { outcome: "migrated" });
    assert.equal(migrated, dm.status?.progress?.migrated, "migrated resources, as in status");
    // The copy once (each object migrated or skipped) and the verification once (each equal).
    assert.equal(value("calico_migration_resources_total"), 2 * total, "every object counted by one copy and one verification");
    assert.equal(value("calico_migration_resource_errors_total"), 0);
    assert.equal(value("calico_migration_duration_seconds_count"), 1);
    assert.ok(value("calico_migration_duration_seconds_sum") > 0);
    for (const k of CALICO_KINDS) assert.equal(value("calico_migration_type_duration_seconds_count", { kind: k.kind }), 1, `type duration of ${k.kind}`);
    assert.ok(value("calico_migration_datastore_locked_seconds") > 0);
    assert.equal(value("calico_migration_locked_too_long"), 1);
    assert.ok(value("calico_migration_reconciles_total", { result: "requeue" }) >= 3, "Pending, Migrating and Converged requeue");
    assert.equal(value("calico_migration_reconciles_total", { result: "error" }), 0);
    assert.ok(value("calico_migration_api_requests_total") > 100);

    // The README documents exactly the calico_migration_* metrics the controller serves.
    const readme = fs.readFileSync(path.join(repoRoot, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Metrics"), readme.indexOf("\n## ", readme.indexOf("## Metrics") + 1));
    const documented = [...new Set([...section.matchAll(/calico_migration_\w+/g)].map((m) => m[0]))].sort();
    const served = [...types.keys()].filter((n) => n.startsWith("calico_migration_")).sort();
    assert.deepEqual(documented, served);
    assert.equal(types.get("calico_migration_resources_total"), "counter");
    assert.equal(types.get("calico_migration_duration_seconds"), "histogram");
    assert.equal(types.get("calico_migration_phase"), "gauge");
  });
});
