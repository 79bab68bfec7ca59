/**
 * The migration report (counts per kind, renames, remapped references, conflicts, timings),
 * persisted as JSON in size-bounded ConfigMaps in the controller's namespace, for
 * `calico-migrate report`. Large reports are split over numbered ConfigMaps.
 */
import type { KubeClient } from "../kube/client.js";
import { isAlreadyExists, isForbidden, isNotFound } from "../kube/errors.js";
import type { Logger } from "../kube/logger.js";
import type { Conflict, DroppedOwnerReference, Rename } from "../migration/types.js";

export const REPORT_PREFIX = "calico-datastore-migration-report";
const CONFIGMAPS = { group: "", version: "v1", plural: "configmaps", namespaced: true, kind: "ConfigMap" } as const;
/** Bytes of JSON per ConfigMap (the API limit is 1 MiB for the whole object). */
const CHUNK = 900 * 1024;

/** What the report holds. */
export interface MigrationReport {
  migration: { name: string; uid: string };
  phase: string;
  updatedAt: string;
  kinds: { kind: string; total: number; migrated: number; skipped: number; conflicts: number; durationMs: number }[];
  renames: Rename[];
  conflicts: Conflict[];
  extras: { kind: string; namespace?: string; name: string }[];
  droppedOwnerReferences: DroppedOwnerReference[];
  foreignOwnerReferences: { resource: string; namespace?: string; name: string; remapped: number; dropped: number }[];
  notScanned: { resource: string; reason: string }[];
  protectedTiersLeft: string[];
  timings: Record<string, string | number | undefined>;
}

/** Reads and writes the report. */
export class ReportStore {
  constructor(
    private readonly client: KubeClient,
    private readonly namespace: string | undefined,
    private readonly log: Logger,
  ) {}

  /** Saves the report, replacing an earlier one; a missing namespace or RBAC only logs. */
  async save(report: MigrationReport): Promise<void> {
    if (!this.namespace) return;
    const json = JSON.stringify(report);
    const chunks = Math.max(1, Math.ceil(json.length / CHUNK));
    try {
      for (let i = 0; i < chunks; i++) {
        await this.put(`${REPORT_PREFIX}-${i}`, { "report.json": json.slice(i * CHUNK, (i + 1) * CHUNK), chunks: String(chunks) });
      }
      for (let i = chunks; ; i++) {
        try {
          await this.client.delete(CONFIGMAPS, `${REPORT_PREFIX}-${i}`, this.namespace);
        } catch (err) {
          if (isNotFound(err)) break;
          throw err;
        }
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message, namespace: this.namespace }, "saving the migration report failed");
    }
  }

  /** Loads the report, or undefined when there is none. */
  async load(): Promise<MigrationReport | undefined> {
    if (!this.namespace) return undefined;
    try {
      const first = await this.client.get(CONFIGMAPS, `${REPORT_PREFIX}-0`, this.namespace);
      const data = first.data as Record<string, string>;
      let json = data["report.json"] ?? "";
      const chunks = Number(data.chunks ?? "1");
      for (let i = 1; i < chunks; i++) {
        const cm = await this.client.get(CONFIGMAPS, `${REPORT_PREFIX}-${i}`, this.namespace);
        json += (cm.data as Record<string, string>)["report.json"] ?? "";
      }
      return JSON.parse(json) as MigrationReport;
    } catch (err) {
      if (isNotFound(err) || isForbidden(err)) return undefined;
      throw err;
    }
  }

  private async put(name: string, data: Record<string, string>): Promise<void> {
    const body = { apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: this.namespace, labels: { "app.kubernetes.io/name": "calico-datastore-migration" } }, data };
    try {
      await this.client.create(CONFIGMAPS, body);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      await this.client.request("PUT", `/api/v1/namespaces/${this.namespace}/configmaps/${name}`, { body });
    }
  }
}
