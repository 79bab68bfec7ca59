/**
 * Prometheus metrics with Calico's names (namespace calico, subsystem migration), plus locked
 * seconds and reconcile counters. A registry is passed in; nothing is global.
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { PHASES, type Phase } from "../api/datastore-migration.js";

/** Phase label values, as Calico writes them. */
const PHASE_LABEL: Record<Phase, string> = {
  Pending: "pending",
  Migrating: "migrating",
  WaitingForConflictResolution: "waiting_for_conflict_resolution",
  Converged: "converged",
  Complete: "complete",
  Failed: "failed",
};

/** The controller's metrics. */
export class MigrationMetrics {
  readonly resources: Counter<"kind" | "outcome">;
  readonly resourceErrors: Counter<"kind">;
  readonly retries: Counter<"kind" | "operation">;
  readonly phase: Gauge<"phase">;
  readonly duration: Histogram;
  readonly typeDuration: Histogram<"kind">;
  readonly lockedSeconds: Gauge;
  readonly lockedTooLong: Gauge;
  readonly reconciles: Counter<"result">;

  constructor(registry: Registry) {
    const registers = [registry];
    this.resources = new Counter({ name: "calico_migration_resources_total", help: "Resources processed, by kind and outcome (migrated, skipped, conflict).", labelNames: ["kind", "outcome"], registers });
    this.resourceErrors = new Counter({ name: "calico_migration_resource_errors_total", help: "Resources that failed to migrate, by kind.", labelNames: ["kind"], registers });
    this.retries = new Counter({ name: "calico_migration_retries_total", help: "Retried API operations, by kind and operation.", labelNames: ["kind", "operation"], registers });
    this.phase = new Gauge({ name: "calico_migration_phase", help: "1 for the current phase of the migration, 0 for the others.", labelNames: ["phase"], registers });
    this.duration = new Histogram({ name: "calico_migration_duration_seconds", help: "Seconds from Migrating to Converged.", buckets: exponential(1, 2, 15), registers });
    this.typeDuration = new Histogram({ name: "calico_migration_type_duration_seconds", help: "Seconds spent copying one kind.", labelNames: ["kind"], buckets: exponential(0.1, 2, 12), registers });
    this.lockedSeconds = new Gauge({ name: "calico_migration_datastore_locked_seconds", help: "Seconds the datastore has been locked by this migration, as of the last check (end of the copy, each poll while waiting on conflicts); after Converged, the locked window's length.", registers });
    this.lockedTooLong = new Gauge({ name: "calico_migration_locked_too_long", help: "1 when the locked window exceeded --locked-warning.", registers });
    this.reconciles = new Counter({ name: "calico_migration_reconciles_total", help: "Reconciles, by result (success, requeue, error, terminal).", labelNames: ["result"], registers });
  }

  /** Sets the phase gauge: 1 for `phase`, 0 for every other. */
  setPhase(phase: Phase): void {
    for (const p of PHASES) this.phase.set({ phase: PHASE_LABEL[p] }, p === phase ? 1 : 0);
  }
}

function exponential(start: number, factor: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start * Math.pow(factor, i));
}
