/**
 * The machinery of table-driven bad-input tests: a row breaks the cluster or the data (and says
 * how to undo it), then asserts what the user sees; the runner then deletes every
 * DatastoreMigration (the controller runs their finalizers), undoes the damage, and checks the
 * cluster against the snapshot taken before — nothing lost, nothing left behind.
 */
import assert from "node:assert/strict";
import { MIGRATION_NAME, migrationResource, type DatastoreMigration } from "../../src/api/datastore-migration.js";
import { kindByName, v1Resource } from "../../src/calico/kinds.js";
import type { KubeClient } from "../../src/kube/client.js";
import { isNotFound } from "../../src/kube/errors.js";
import { withoutV1Validation } from "./api-server-mode.js";
import { snapshotDifferences, takeSnapshot, type ClusterSnapshot } from "./cluster-snapshot.js";
import { waitGone, waitMigration } from "./migration-cr.js";
import { writeV1 } from "./v1-writer.js";

const DM = migrationResource("v1");

/** One row of the table. */
export interface BadInputRow {
  name: string;
  /** Breaks something; returns how to undo it. */
  setup?: () => Promise<(() => Promise<void>) | void>;
  /** Creates the CR(s) and asserts the exact outcome. */
  run: () => Promise<void>;
}

/** The exact message of a blocker found by the plan: its text, then its fix. */
export function blocked(message: string, fix: string): string {
  return `${message}. Fix: ${fix}`;
}

/** Waits until the CR named `name` has exactly `message` in status. */
export function expectMessage(admin: KubeClient, message: string, name = MIGRATION_NAME): Promise<DatastoreMigration> {
  return waitMigration(admin, (dm) => assert.equal(dm.status?.message, message), { name, message: `status.message of ${name}`, timeoutMs: 90_000 });
}

/** Deletes every DatastoreMigration and waits until the controller has let them go. */
export async function deleteAllMigrations(admin: KubeClient): Promise<void> {
  let names: string[] = [];
  try {
    names = (await admin.listAll(DM)).map((d) => d.metadata.name ?? "");
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  for (const n of names) await admin.delete(DM, n).catch(() => undefined);
  for (const n of names) await waitGone(admin, n, 120_000);
}

/** Stores a v1 object today's v1 CEL rules refuse (older releases accepted it); returns its undo. */
export async function legacyV1(admin: KubeClient, kind: string, name: string, spec: unknown): Promise<() => Promise<void>> {
  const k = kindByName(kind);
  if (!k) throw new Error(`unknown kind ${kind}`);
  await withoutV1Validation(admin, k.v1Plural, () => writeV1(admin, { kind, metadata: { name }, spec }));
  return async () => void (await admin.delete(v1Resource(k), name));
}

/** Runs one row: setup, run, then (whatever happened) delete the CRs and undo; finally compare with `snapshot`. */
export async function runRow(admin: KubeClient, row: BadInputRow, snapshot: ClusterSnapshot, namespaces: readonly string[]): Promise<void> {
  let undo: (() => Promise<void>) | void = undefined;
  try {
    undo = await row.setup?.();
    await row.run();
  } finally {
    await deleteAllMigrations(admin);
    await undo?.();
  }
  assert.deepEqual(snapshotDifferences(snapshot, await takeSnapshot(admin, namespaces)), [], "the cluster is as before");
}
