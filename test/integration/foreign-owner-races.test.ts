/**
 * Owner-reference rewrites of foreign dependents racing another writer, on the real API server:
 * a client decorator lets someone add an owner reference to the ConfigMap between our read and
 * our write. Detach, re-attach and restore all keep that reference (they write under the
 * resourceVersion they read and start again from a fresh read after a 409).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { kindByName, v1Resource, V3_GROUP } from "../../src/calico/kinds.js";
import { KubeClient, type WriteOptions } from "../../src/kube/client.js";
import { Discovery } from "../../src/kube/discovery.js";
import type { KubeObject, OwnerReference } from "../../src/kube/object.js";
import type { ResourceRef } from "../../src/kube/resource.js";
import {
  DETACHED_ANNOTATION, DETACHED_LABEL, detachForeignOwners, readAggregatedApi, reattachForeignOwners, restoreForeignOwners, scanForeignDependents,
} from "../../src/migration/foreign-owners.js";
import { apiServerUid, ownerRefTo, writeV1 } from "../harness/v1-writer.js";
import { resetApiServerMode } from "../harness/api-server-mode.js";
import { sharedCluster, type TestCluster } from "../harness/shared-cluster.js";

const CONFIGMAPS = { group: "", version: "v1", plural: "configmaps", namespaced: true, kind: "ConfigMap" } as const;
const NS = "default";
const DEPENDENT = "race-dependent";
const MIGRATION = "00000000-0000-4000-8000-0000000000d2";

/** A client that, once, lets `write` run just before its first PATCH of `name`: another writer between our read and our write. */
class RacingClient extends KubeClient {
  writes = 0;
  constructor(base: KubeClient, private readonly name: string, private write?: () => Promise<void>) {
    super(base.config);
  }

  override async patch<T extends KubeObject = KubeObject>(
    ref: ResourceRef, name: string, body: unknown, type: "merge" | "json" | "strategic" | "apply", namespace?: string, options: WriteOptions & { force?: boolean } = {},
  ): Promise<T> {
    const write = this.write;
    if (write && name === this.name) {
      this.write = undefined;
      await write();
      this.writes++;
    }
    return super.patch<T>(ref, name, body, type, namespace, options);
  }
}

describe("foreign owner rewrites racing another writer", () => {
  let cluster: TestCluster;
  let tier: KubeObject;
  let keeper: OwnerReference;
  let late: OwnerReference;
  const racers: KubeClient[] = [];
  const tiers = v1Resource(kindByName("Tier")!);

  before(async () => {
    cluster = await sharedCluster();
    // A fresh API-server mode: the suite before may have left the cluster migrated.
    await resetApiServerMode(cluster.admin);
    tier = await writeV1(cluster.admin, { kind: "Tier", metadata: { name: "race-tier" }, spec: { order: 500 } });
    const ref = async (name: string): Promise<OwnerReference> => {
      const cm = await cluster.admin.create(CONFIGMAPS, { apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: NS } });
      return { apiVersion: "v1", kind: "ConfigMap", name, uid: cm.metadata.uid ?? "" };
    };
    keeper = await ref("race-keeper");
    late = await ref("race-late-owner");
  });
  after(async () => {
    for (const c of racers) c.close();
    for (const name of [DEPENDENT, "race-keeper", "race-late-owner"]) await cluster.admin.delete(CONFIGMAPS, name, NS).catch(() => undefined);
    await cluster.admin.delete(tiers, "race-tier").catch(() => undefined);
  });

  /** A fresh dependent with these owner references and, when given, recorded originals. */
  async function dependent(ownerReferences: OwnerReference[], originals?: OwnerReference[]): Promise<void> {
    await cluster.admin.delete(CONFIGMAPS, DEPENDENT, NS).catch(() => undefined);
    const recorded = originals ? { annotations: { [DETACHED_ANNOTATION]: JSON.stringify(originals) }, labels: { [DETACHED_LABEL]: MIGRATION } } : {};
    await cluster.admin.create(CONFIGMAPS, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: DEPENDENT, namespace: NS, ownerReferences, ...recorded } });
  }

  /** A client whose first PATCH of the dependent comes after someone else added `late` as an owner. */
  function racing(): RacingClient {
    const client = new RacingClient(cluster.admin, DEPENDENT, async () => {
      const cm = await cluster.admin.get(CONFIGMAPS, DEPENDENT, NS);
      cm.metadata.ownerReferences = [...(cm.metadata.ownerReferences ?? []), late];
      await cluster.admin.update(CONFIGMAPS, cm);
    });
    racers.push(client);
    return client;
  }

  const owners = async () => (await cluster.admin.get(CONFIGMAPS, DEPENDENT, NS)).metadata.ownerReferences;

  test("detach keeps an owner reference added between its read and its write", async () => {
    const tierRef = ownerRefTo(tier, "Tier");
    await dependent([keeper, tierRef]);
    const scan = await scanForeignDependents(cluster.admin, new Discovery(cluster.admin));
    const client = racing();
    assert.equal(await detachForeignOwners(client, scan.dependents.filter((d) => d.name === DEPENDENT), MIGRATION), 1);
    assert.equal(client.writes, 1, "the other writer went first");
    assert.deepEqual(await owners(), [keeper, late]);
  });

  test("re-attach keeps an owner reference added between its read and its write", async () => {
    // Recorded with the uid the owner had before the copy; the v3 owner has another.
    const before = { ...ownerRefTo(tier, "Tier"), uid: "00000000-0000-4000-8000-0000000000aa" };
    await dependent([keeper], [keeper, before]);
    const client = racing();
    const reattached = await reattachForeignOwners(client, new Discovery(cluster.admin), MIGRATION);
    assert.equal(client.writes, 1, "the other writer went first");
    assert.deepEqual(reattached.map((r) => r.remapped.map((m) => m.to)), [[apiServerUid(tier)]]);
    assert.deepEqual(await owners(), [keeper, { ...before, apiVersion: `${V3_GROUP}/v3`, uid: apiServerUid(tier) }, late]);
  });

  test("restore keeps an owner reference added between its read and its write", async () => {
    const tierRef = ownerRefTo(tier, "Tier");
    await dependent([keeper], [keeper, tierRef]);
    const client = racing();
    assert.equal(await restoreForeignOwners(client, new Discovery(cluster.admin), MIGRATION, await readAggregatedApi(client)), 1);
    assert.equal(client.writes, 1, "the other writer went first");
    const cm = await cluster.admin.get(CONFIGMAPS, DEPENDENT, NS);
    assert.deepEqual(cm.metadata.ownerReferences, [keeper, tierRef, late]);
    assert.equal(cm.metadata.annotations?.[DETACHED_ANNOTATION], undefined);
    assert.equal(cm.metadata.labels?.[DETACHED_LABEL], undefined);
  });
});
