/**
 * What every command that talks to the cluster starts with: a client from --kubeconfig /
 * --context, discovery, the served DatastoreMigration version, and reads of the CR.
 */
import { MIGRATION_GROUP, MIGRATION_NAME, MIGRATION_VERSIONS, type MigrationVersion } from "../api/datastore-migration.js";
import { CALICO_KINDS, v1Resource } from "../calico/kinds.js";
import type { KubeClient } from "../kube/client.js";
import { Discovery } from "../kube/discovery.js";
import { isForbidden, isNotFound } from "../kube/errors.js";
import { clientFromKubeconfig, KubeconfigError } from "../kube/kubeconfig.js";
import { RefusedError } from "./errors.js";

/** Flags every command accepts. */
export interface GlobalOptions {
  kubeconfig?: string;
  context?: string;
  /** False with --no-color. */
  color: boolean;
}

/** A connection to one cluster. */
export interface Session {
  client: KubeClient;
  discovery: Discovery;
}

/** Connects with the kubeconfig flags, runs `fn`, and closes the connection whatever happens. */
export async function withSession<T>(opts: Pick<GlobalOptions, "kubeconfig" | "context">, fn: (s: Session) => Promise<T>): Promise<T> {
  let client: KubeClient;
  try {
    client = await clientFromKubeconfig({ kubeconfig: opts.kubeconfig, context: opts.context }, { userAgent: "calico-migrate" });
  } catch (err) {
    if (err instanceof KubeconfigError) throw err;
    const where = opts.kubeconfig ?? "the default kubeconfig ($KUBECONFIG or ~/.kube/config)";
    throw new KubeconfigError(`cannot use ${where}${opts.context ? ` (context ${opts.context})` : ""}: ${(err as Error).message}; pass --kubeconfig and --context`, { cause: err });
  }
  try {
    return await fn({ client, discovery: new Discovery(client) });
  } finally {
    client.close();
  }
}

/** The DatastoreMigration version the cluster serves (v1 preferred), or undefined when the CRD is not installed. */
export async function servedVersion(discovery: Discovery): Promise<MigrationVersion | undefined> {
  for (const v of MIGRATION_VERSIONS) if (await discovery.serves(`${MIGRATION_GROUP}/${v}`, "datastoremigrations")) return v;
  return undefined;
}

/** The message and fix for a cluster without the DatastoreMigration CRD. */
export function crdMissing(): RefusedError {
  return new RefusedError(
    `the DatastoreMigration API (${MIGRATION_GROUP}/v1 or v1beta1) is not served: the CRD and the controller are not installed`,
    ["kubectl apply -k manifests/   # the CRD, the controller and its RBAC"],
  );
}

/** The served version, or a RefusedError naming the fix. */
export async function requireServedVersion(discovery: Discovery): Promise<MigrationVersion> {
  const v = await servedVersion(discovery);
  if (!v) throw crdMissing();
  return v;
}

/** `kubectl`'s name for the CR, as printed after create and delete. */
export const CR_DISPLAY_NAME = `datastoremigration.${MIGRATION_GROUP}/${MIGRATION_NAME}`;

/** v1 objects per kind (one `limit=1` list each, using remainingItemCount); kinds that cannot be listed are left out. */
export async function countV1(client: KubeClient): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  await Promise.all(
    CALICO_KINDS.map(async (kind) => {
      try {
        const page = await client.list(v1Resource(kind), { limit: 1 });
        out.set(kind.kind, page.items.length + (page.metadata.remainingItemCount ?? 0));
      } catch (err) {
        if (!isNotFound(err) && !isForbidden(err)) throw err;
      }
    }),
  );
  return out;
}
