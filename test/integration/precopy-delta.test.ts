/**
 * Metadata-first passes (issue 11): after a pre-copy through the door, a pass lists both sides as
 * metadata only and reads in full just the objects whose v1 resourceVersion moved since their copy
 * (or whose copy someone else changed). Proven by counting requests: an unchanged cluster costs
 * two list requests a kind and nothing else; a changed one a handful more. Renamed objects (legacy
 * `default.` policy names) are matched through the source name their copy records; a copy a user
 * edited is never overwritten (a conflict), one whose source is gone is removed.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Names } from "../../src/api/datastore-migration.js";
import { CALICO_KINDS, kindByName, v1Resource, v3Resource } from "../../src/calico/kinds.js";
import { isNotFound } from "../../src/kube/errors.js";
import type { KubeClient } from "../../src/kube/client.js";
import { fullPassThreshold } from "../../src/migration/delta-kind.js";
import { loadSchemas } from "../../src/migration/planner.js";
import { closeDoor, doorResource, doorServed, openDoor } from "../../src/migration/precopy-door.js";
import { replayKept, type KeptMetadata } from "../../src/migration/metadata-replay.js";
import { runPass, type PassResult } from "../../src/migration/run-kinds.js";
import { changedSinceFence, takeFence, type VerificationFence } from "../../src/migration/verification-fence.js";
import type { EngineOptions } from "../../src/migration/engine-options.js";
import { resetApiServerMode } from "../harness/api-server-mode.js";
import { eventually } from "../harness/eventually.js";
import { createThroughApi, seedSampleCluster } from "../harness/sample-cluster.js";
import { ownerRefTo } from "../harness/v1-writer.js";
import { sharedCluster, type TestCluster } from "../harness/shared-cluster.js";

const UID = "00000000-0000-4000-8000-00000000de17";
const GNS = kindByName("GlobalNetworkSet")!;
const sum = (p: PassResult, f: (r: PassResult["kinds"][number]) => number) => p.kinds.reduce((n, r) => n + f(r), 0);

describe("metadata-first passes after a pre-copy", () => {
  let cluster: TestCluster;
  let client: KubeClient;
  let opts: EngineOptions;
  let seeded = 0;

  before(async () => {
    cluster = await sharedCluster();
    await resetApiServerMode(cluster.admin);
    seeded = await seedSampleCluster(cluster.admin);
    for (const name of ["delta-changed", "delta-deleted", "delta-edited"]) {
      await createThroughApi(cluster.admin, { kind: "GlobalNetworkSet", metadata: { name }, spec: { nets: ["10.0.0.0/8"] } });
      seeded++;
    }
    assert.deepEqual(await openDoor(cluster.admin, UID), { open: true });
    await eventually(async () => assert.ok(await doorServed(cluster.admin)), { timeoutMs: 30_000, message: "door served" });
    // A client of its own, so that its request count is this test's alone.
    client = cluster.admin.with({});
    opts = { client, schemas: await loadSchemas(cluster.admin), migrationUid: UID, v3Storage: doorResource };
  });

  after(async () => {
    await closeDoor(cluster.admin);
    await resetApiServerMode(cluster.admin);
  });

  test("an unchanged cluster costs two list requests a kind; renamed copies are matched by their source name", async () => {
    const first = await runPass(opts, "copy");
    assert.equal(first.total, seeded);
    assert.equal(sum(first, (r) => r.migrated), seeded, "the pre-copy created every object");
    const renamed = first.kinds.flatMap((r) => r.renames);
    assert.ok(renamed.length > 0, "the sample cluster has renamed objects");

    const before = client.requestCount;
    const again = await runPass({ ...opts, metadataFirst: true }, "verify");
    assert.equal(client.requestCount - before, 2 * CALICO_KINDS.length, "one metadata list of each side per kind, no object read in full");
    assert.equal(again.total, seeded);
    assert.equal(sum(again, (r) => r.alreadyCopied), seeded, "every object in step with its copy");
    assert.equal(sum(again, (r) => r.migrated + r.refreshed + r.removed), 0);
    assert.deepEqual(again.kinds.flatMap((r) => r.extras), []);
    assert.deepEqual(again.kinds.flatMap((r) => r.renames).map((r) => `${r.kind}/${r.from}->${r.to}`).sort(), renamed.map((r) => `${r.kind}/${r.from}->${r.to}`).sort(), "renames are reported from the copies' source names");
    for (const r of renamed) {
      const copy = await cluster.admin.get(doorResource(kindByName(r.kind)!), r.to, r.namespace);
      assert.equal(copy.metadata.annotations?.[Names.sourceName], r.from);
    }
  });

  test("only what changed is read and written; a copy a user edited is a conflict, never overwritten", async () => {
    const gns = v3Resource(GNS);
    // Through the Calico API server, as users write while nothing is locked.
    await cluster.admin.patch(gns, "delta-changed", { spec: { nets: ["10.1.0.0/16"] } }, "merge");
    await cluster.admin.delete(gns, "delta-deleted");
    await createThroughApi(cluster.admin, { kind: "GlobalNetworkSet", metadata: { name: "delta-added" }, spec: { nets: ["172.16.0.0/12"] } });
    // A user edits our copy (as kubectl would, once v3 is served by the CRDs).
    await cluster.admin.patch(doorResource(GNS), "delta-edited", { spec: { nets: ["192.168.0.0/16"] } }, "merge", undefined, { fieldManager: "kubectl-edit" });

    const before = client.requestCount;
    const delta = await runPass({ ...opts, metadataFirst: true }, "copy");
    const requests = client.requestCount - before;
    const gnsResult = delta.kinds.find((r) => r.kind === "GlobalNetworkSet")!;
    assert.deepEqual({ migrated: gnsResult.migrated, refreshed: gnsResult.refreshed, removed: gnsResult.removed, conflicts: gnsResult.conflicts.map((c) => c.name) },
      { migrated: 1, refreshed: 1, removed: 1, conflicts: ["delta-edited"] });
    assert.equal(sum(delta, (r) => r.migrated + r.refreshed + r.removed), 3, "nothing else written");
    // Lists, plus a few reads and writes for each of the four objects: not a read per object.
    assert.ok(requests <= 2 * CALICO_KINDS.length + 16, `${requests} requests`);

    assert.deepEqual((await cluster.admin.get(doorResource(GNS), "delta-changed")).spec, { nets: ["10.1.0.0/16"] });
    assert.deepEqual((await cluster.admin.get(doorResource(GNS), "delta-edited")).spec, { nets: ["192.168.0.0/16"] }, "the user's edit stays");
    assert.ok(await cluster.admin.get(doorResource(GNS), "delta-added"));
    await assert.rejects(cluster.admin.get(doorResource(GNS), "delta-deleted"), (err) => isNotFound(err));
    await assert.rejects(cluster.admin.get(v1Resource(GNS), "delta-deleted"), (err) => isNotFound(err));
  });

  test("the verification fence: the final delta's own writes pass, anything else is found", async () => {
    const fence: VerificationFence = { uid: UID, resourceVersion: await takeFence(cluster.admin), removed: new Set() };
    const delta = await runPass({ ...opts, metadataFirst: true, onRemoved: (kind, key) => fence.removed.add(`${kind.kind}/${key}`) }, "verify");
    assert.equal(sum(delta, (r) => r.migrated + r.refreshed + r.removed), 0, "in step after the last test");
    assert.equal(await changedSinceFence(cluster.admin, fence, doorResource), undefined, "nothing since the fence");

    // Our own writes after the fence (a create and a removal, as a final delta makes) pass.
    await createThroughApi(cluster.admin, { kind: "GlobalNetworkSet", metadata: { name: "delta-fenced" }, spec: { nets: ["10.2.0.0/16"] } });
    await cluster.admin.delete(v3Resource(GNS), "delta-added");
    const own = await runPass({ ...opts, metadataFirst: true, onRemoved: (kind, key) => fence.removed.add(`${kind.kind}/${key}`) }, "verify");
    assert.equal(sum(own, (r) => r.migrated + r.removed), 2);
    // The v1 writes above are changes since the fence: found.
    assert.match(await changedSinceFence(cluster.admin, fence, doorResource) ?? "", /^v1 GlobalNetworkSet delta-(fenced|added) was written since the final delta$/);

    // With a fence taken after them, only the copies' side is left to judge: a user's edit is found.
    const later: VerificationFence = { uid: UID, resourceVersion: await takeFence(cluster.admin), removed: new Set() };
    assert.equal(await changedSinceFence(cluster.admin, later, doorResource), undefined);
    await cluster.admin.patch(doorResource(GNS), "delta-fenced", { spec: { nets: ["10.3.0.0/16"] } }, "merge", undefined, { fieldManager: "kubectl-edit" });
    assert.equal(await changedSinceFence(cluster.admin, later, doorResource), "v3 GlobalNetworkSet delta-fenced was written since the final delta");
  });

  test("the final delta replays what changed since the last catch-up pass instead of listing, and its verification accounts for the replay", async () => {
    const gns = v3Resource(GNS);
    for (const name of ["replay-changed", "replay-deleted", "replay-edited"]) await createThroughApi(cluster.admin, { kind: "GlobalNetworkSet", metadata: { name }, spec: { nets: ["10.0.0.0/8"] } });
    // The last catch-up pass: copies the three, and keeps what it listed.
    const kept: KeptMetadata = { uid: UID, kinds: new Map() };
    await runPass({ ...opts, metadataFirst: true, keepMetadata: (kind, metadata) => kept.kinds.set(kind.kind, { kind, metadata }) }, "copy");
    assert.equal(kept.kinds.size, CALICO_KINDS.length);

    // Changes after its lists: through the Calico API server, and a user's edit of a copy.
    await cluster.admin.patch(gns, "replay-changed", { spec: { nets: ["10.4.0.0/16"] } }, "merge");
    await cluster.admin.delete(gns, "replay-deleted");
    await createThroughApi(cluster.admin, { kind: "GlobalNetworkSet", metadata: { name: "replay-added" }, spec: { nets: ["10.5.0.0/16"] } });
    await cluster.admin.patch(doorResource(GNS), "replay-edited", { spec: { nets: ["10.6.0.0/16"] } }, "merge", undefined, { fieldManager: "kubectl-edit" });

    // The final delta: fence, replay every kind at once, then a pass that lists nothing.
    const fence: VerificationFence = { uid: UID, resourceVersion: await takeFence(cluster.admin), removed: new Set() };
    const replay = await replayKept(cluster.admin, kept, doorResource);
    assert.deepEqual(replay.dropped, []);
    assert.equal(replay.current.size, CALICO_KINDS.length);
    fence.replayed = replay.logs;
    const before = client.requestCount;
    const delta = await runPass({ ...opts, metadataFirst: true, knownMetadata: (kind) => replay.current.get(kind.kind), onRemoved: (kind, key) => fence.removed.add(`${kind.kind}/${key}`) }, "verify");
    const requests = client.requestCount - before;
    const r = delta.kinds.find((k) => k.kind === "GlobalNetworkSet")!;
    assert.deepEqual({ migrated: r.migrated, refreshed: r.refreshed, removed: r.removed, conflicts: r.conflicts.map((c) => c.name).sort() },
      { migrated: 1, refreshed: 1, removed: 1, conflicts: ["delta-edited", "delta-fenced", "replay-edited"] }, "the earlier tests' edited copies stay conflicts");
    assert.ok(requests <= 20, `no list, only the changed objects read and written: ${requests} requests`);
    assert.deepEqual((await cluster.admin.get(doorResource(GNS), "replay-changed")).spec, { nets: ["10.4.0.0/16"] });
    assert.deepEqual((await cluster.admin.get(doorResource(GNS), "replay-edited")).spec, { nets: ["10.6.0.0/16"] }, "the user's edit stays");
    await assert.rejects(cluster.admin.get(doorResource(GNS), "replay-deleted"), (err) => isNotFound(err));

    // The same answer as lists would give.
    const listed = await runPass({ ...opts, metadataFirst: true }, "verify");
    assert.equal(listed.total, delta.total);
    assert.equal(sum(listed, (k) => k.migrated + k.refreshed + k.removed), 0, "the replayed delta left nothing for the lists to do");
    assert.deepEqual(listed.conflicts.map((c) => c.name).sort(), delta.conflicts.map((c) => c.name).sort());

    // The verification starts where the replay did: every change the replay applied is accounted for...
    assert.equal(await changedSinceFence(cluster.admin, fence, doorResource), undefined);
    // ...and one the replay missed (it reached the watch too late) is found, although it came before the fence.
    const v1Log = fence.replayed.get("v1/GlobalNetworkSet")!;
    const missed = [...v1Log.events].find((e) => e.startsWith("replay-changed@"))!;
    v1Log.events.delete(missed);
    assert.equal(await changedSinceFence(cluster.admin, fence, doorResource), "v1 GlobalNetworkSet replay-changed was written since the final delta");
  });

  test("a kind whose changes cannot be replayed is dropped and listed again", async () => {
    const kept: KeptMetadata = { uid: UID, kinds: new Map() };
    await runPass({ ...opts, metadataFirst: true, keepMetadata: (kind, metadata) => kept.kinds.set(kind.kind, { kind, metadata }) }, "copy", {}, [GNS]);
    // A resourceVersion long compacted away: the API server answers 410 Gone.
    kept.kinds.get("GlobalNetworkSet")!.metadata.v1Rv = "1";
    const replay = await replayKept(cluster.admin, kept, doorResource);
    assert.equal(replay.current.size, 0);
    assert.match(replay.dropped.join("; "), /^v1 GlobalNetworkSet: the changes since the last catch-up pass are no longer available$/);
  });

  test("a changed object whose Calico owner is in step keeps its owner reference, pointed at the owner's copy", async () => {
    const owner = await createThroughApi(cluster.admin, { kind: "GlobalNetworkSet", metadata: { name: "owner-in-step" }, spec: { nets: ["10.7.0.0/16"] } });
    await createThroughApi(cluster.admin, { kind: "GlobalNetworkSet", metadata: { name: "dependent-changed", ownerReferences: [ownerRefTo(owner, "GlobalNetworkSet")] }, spec: { nets: ["10.8.0.0/16"] } });
    await runPass({ ...opts, metadataFirst: true }, "copy");
    const ownerCopy = await cluster.admin.get(doorResource(GNS), "owner-in-step");
    // Only the dependent changes: the owner is in step and read by nobody.
    await cluster.admin.patch(v3Resource(GNS), "dependent-changed", { spec: { nets: ["10.9.0.0/16"] } }, "merge");
    const delta = await runPass({ ...opts, metadataFirst: true }, "copy");
    assert.equal(delta.kinds.find((k) => k.kind === "GlobalNetworkSet")?.refreshed, 1);
    assert.deepEqual(delta.kinds.flatMap((k) => k.droppedOwnerReferences), [], "no owner reference dropped");
    const copy = await cluster.admin.get(doorResource(GNS), "dependent-changed");
    assert.deepEqual(copy.spec, { nets: ["10.9.0.0/16"] });
    assert.deepEqual(copy.metadata.ownerReferences?.map((r) => `${r.kind}/${r.name}/${r.uid}`), [`GlobalNetworkSet/owner-in-step/${ownerCopy.metadata.uid}`]);
  });

  test("a kind where most objects changed is read by the full pass instead", () => {
    assert.equal(fullPassThreshold(500), 1000);
    assert.equal(fullPassThreshold(40_000), 4000);
  });
});
