/**
 * Reading a DatastoreMigration: the one read the controller and `calico-migrate` share, so both
 * treat an absent CR the same way.
 */
import type { KubeClient } from "../kube/client.js";
import { isNotFound } from "../kube/errors.js";
import { MIGRATION_NAME, migrationResource, type DatastoreMigration, type MigrationVersion } from "./datastore-migration.js";

/** The CR `name` (default `v1-to-v3`) at the served `version`, or undefined when it does not exist. */
export async function getMigration(client: KubeClient, version: MigrationVersion, name: string = MIGRATION_NAME): Promise<DatastoreMigration | undefined> {
  try {
    return (await client.get(migrationResource(version), name)) as unknown as DatastoreMigration;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
