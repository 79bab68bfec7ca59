/**
 * Kubernetes Events on the DatastoreMigration (core/v1, in namespace "default" as for every
 * cluster-scoped object), for every transition, conflict, abort and cleanup.
 */
import type { KubeClient } from "../kube/client.js";
import type { Logger } from "../kube/logger.js";
import type { DatastoreMigration } from "../api/datastore-migration.js";

const EVENTS = { group: "", version: "v1", plural: "events", namespaced: true, kind: "Event" } as const;

/** Records Events; a failure to record is logged, never fatal. */
export class EventRecorder {
  constructor(
    private readonly client: KubeClient,
    private readonly log: Logger,
    private readonly component = "calico-datastore-migration",
  ) {}

  /** Records one Event about the CR. */
  async record(dm: DatastoreMigration, type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
    const now = new Date().toISOString();
    const name = `${dm.metadata.name ?? "datastoremigration"}.${Date.now().toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`;
    try {
      await this.client.create(EVENTS, {
        apiVersion: "v1",
        kind: "Event",
        metadata: { name, namespace: "default" },
        involvedObject: { apiVersion: dm.apiVersion, kind: "DatastoreMigration", name: dm.metadata.name, uid: dm.metadata.uid },
        reason,
        message: message.slice(0, 1024),
        type,
        source: { component: this.component },
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
        reportingComponent: this.component,
      });
    } catch (err) {
      this.log.warn({ err: (err as Error).message, reason }, "recording event failed");
    }
  }
}
