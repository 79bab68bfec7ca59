/**
 * What every phase handler gets: the clients, configuration, clock, logger, metrics, events, and
 * small helpers to write the CR's status and metadata (the controller is their only writer).
 */
import type { KeptMetadata } from "../migration/metadata-replay.js";
import type { PassResult } from "../migration/run-kinds.js";
import type { VerificationFence } from "../migration/verification-fence.js";
import {
  migrationResource,
  truncateMessage,
  type DatastoreMigration,
  type DatastoreMigrationStatus,
  type MigrationVersion,
} from "../api/datastore-migration.js";
import type { KubeClient } from "../kube/client.js";
import type { Clock } from "../kube/clock.js";
import type { Discovery } from "../kube/discovery.js";
import type { Logger } from "../kube/logger.js";
import type { KubeObject } from "../kube/object.js";
import type { ResourceRef } from "../kube/resource.js";
import type { ValidatedSnapshot } from "../migration/validated-snapshot.js";
import type { ControllerConfig } from "./config.js";
import type { EventRecorder } from "./events.js";
import type { MigrationMetrics } from "./metrics.js";
import type { ReportStore } from "../migration/report-store.js";

/** The controller's field manager: how another writer of the CR's status is told apart. */
export const FIELD_MANAGER = "calico-datastore-migration";

/** Per-process state that is safe to lose on restart (caches only). */
export interface ProcessState {
  /** A true result of the operator-managed probe is cached; false never is. */
  operatorManaged: boolean;
  /**
   * When the full plan last ran, for which CR uid and foreign-owner opt-out (`uid/remap`), its
   * blocking message, and what its server-side validation saw (re-validated after the drain).
   */
  lastFullPlan?: { at: number; key: string; message: string | undefined; snapshot?: ValidatedSnapshot };
  /** uid of the CR last warned that only v1beta1 is served (one Event per CR and process). */
  deprecationWarned?: string;
  /** Since when the same create (`uid/Kind/namespace/name`) has been refused as forbidden inside the locked window. */
  refusedSince?: { key: string; at: number };
  /** What the last final delta established, for a verification by watch (lost with a restart: then the full one runs). */
  finalDelta?: { fence: VerificationFence; pass: PassResult };
  /** The metadata the last catch-up pass listed, replayed up to date by the final delta (lost with a restart: then it lists). */
  keptMetadata?: KeptMetadata;
  /** Since when the pre-copy door of migration `key` (its uid) has been opened but not served. */
  doorWaitSince?: { key: string; at: number };
}

/** Dependencies of the reconciler. */
export interface ControllerContext {
  client: KubeClient;
  discovery: Discovery;
  config: ControllerConfig;
  clock: Clock;
  log: Logger;
  metrics: MigrationMetrics;
  events: EventRecorder;
  report: ReportStore;
  state: ProcessState;
  /** The served DatastoreMigration version (v1 unless only v1beta1 is served). */
  version(): MigrationVersion;
}

/** The DatastoreMigration resource at the served version. */
export function dmResource(ctx: ControllerContext): ResourceRef {
  return migrationResource(ctx.version());
}

/** Current time as RFC 3339 (seconds precision, as metav1.Time serialises). */
export function nowIso(ctx: ControllerContext): string {
  return new Date(ctx.clock.now()).toISOString().replace(/\.\d+Z$/, "Z");
}

/**
 * Writes status through the status subresource with the CR's resourceVersion as precondition;
 * returns the updated CR. The message is truncated to the schema's bound.
 */
export async function writeStatus(
  ctx: ControllerContext,
  dm: DatastoreMigration,
  change: (status: DatastoreMigrationStatus) => void,
): Promise<DatastoreMigration> {
  const status: DatastoreMigrationStatus = structuredClone(dm.status ?? {});
  change(status);
  if (status.message !== undefined) status.message = truncateMessage(status.message);
  if (status.phase) ctx.metrics.setPhase(status.phase);
  if (status.phase !== dm.status?.phase) ctx.log.info({ from: dm.status?.phase ?? "", to: status.phase, message: status.message }, "phase transition");
  const body = { ...dm, status } as unknown as KubeObject;
  const updated = await ctx.client.update(dmResource(ctx), body, { subresource: "status", fieldManager: FIELD_MANAGER });
  return updated as unknown as DatastoreMigration;
}

/** Sets status.message only when it changes (avoids a write per poll). */
export async function setMessage(ctx: ControllerContext, dm: DatastoreMigration, message: string): Promise<DatastoreMigration> {
  if (dm.status?.message === truncateMessage(message)) return dm;
  return writeStatus(ctx, dm, (s) => (s.message = message));
}

/** Merge-patches the CR's metadata (finalizers, annotations) with a resourceVersion precondition. */
export async function patchMetadata(ctx: ControllerContext, dm: DatastoreMigration, metadata: Record<string, unknown>): Promise<DatastoreMigration> {
  const updated = await ctx.client.patch(dmResource(ctx), dm.metadata.name ?? "", { metadata: { resourceVersion: dm.metadata.resourceVersion, ...metadata } }, "merge", undefined, {
    fieldManager: FIELD_MANAGER,
  });
  return updated as unknown as DatastoreMigration;
}
