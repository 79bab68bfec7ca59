/**
 * What every engine operation needs: the client, the v3 schemas, this migration's uid, and the
 * tuning and observation hooks.
 */
import type { CalicoKind } from "../calico/kinds.js";
import type { ConvertedObject } from "../convert/convert.js";
import type { SchemaSet } from "../convert/schema.js";
import type { KubeClient } from "../kube/client.js";
import type { Clock } from "../kube/clock.js";
import type { Logger } from "../kube/logger.js";
import type { KubeObject } from "../kube/object.js";
import type { ResourceRef } from "../kube/resource.js";
import type { KindMetadata } from "./kind-metadata.js";
import type { Conflict } from "./types.js";

/** Outcome of one object, for metrics. */
export type ObjectOutcome = "migrated" | "skipped" | "conflict" | "error";

/** Engine configuration for one run. */
export interface EngineOptions {
  client: KubeClient;
  /** v3 CRD schemas (from the cluster's CRDs) for normalising specs. */
  schemas: SchemaSet;
  /** uid of the DatastoreMigration: recorded in `migrated-by` on everything created. */
  migrationUid: string;
  /** Writes in flight at once. Default 16. */
  concurrency?: number;
  /** List page size. Default 500. */
  pageSize?: number;
  fieldManager?: string;
  /** Longest time to wait out transitional errors after the APIService is unregistered. Default 90 s. */
  transitionalBoundMs?: number;
  clock?: Clock;
  log?: Logger;
  signal?: AbortSignal;
  onOutcome?: (kind: string, outcome: ObjectOutcome) => void;
  onRetry?: (kind: string) => void;
  /**
   * How v3 CRD storage is reached for a kind: `projectcalico.org/v3` (default) or the pre-copy
   * door, which no aggregated API server answers (not even a lagging HA kube-apiserver).
   */
  v3Storage?: (kind: CalicoKind) => ResourceRef;
  /**
   * Copy and verify passes read metadata first (deltaKind): after a pre-copy, only objects whose v1
   * resourceVersion differs from what their copy records are read in full.
   */
  metadataFirst?: boolean;
  /** Called with the metadata a metadata-first pass listed for a kind (the pre-copy keeps the last catch-up pass's for the final delta). */
  keepMetadata?: (kind: CalicoKind, metadata: KindMetadata) => void;
  /** Metadata already current for a kind (replayed up to now): the metadata-first pass uses it instead of listing. */
  knownMetadata?: (kind: CalicoKind) => KindMetadata | undefined;
  /** Called with every copy of ours this run removed because its v1 source is gone (`namespace/name` or `name`). */
  onRemoved?: (kind: CalicoKind, key: string) => void;
  /** Called with every copy this run created or updated, as the server stored it (the pre-copy relabels its managedFields). */
  afterWrite?: (ref: ResourceRef, stored: KubeObject) => Promise<void>;
  /** A conflict found, with the converted v1 object and the v3 spec it differs from (undefined when its owner is the conflict). */
  onConflict?: (conflict: Conflict, source: ConvertedObject, v3Spec: unknown) => void;
}
