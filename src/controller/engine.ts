/**
 * Glue from the controller to the migration engine: engine options for a CR, and the CR's opt-out
 * of foreign owner-reference remapping.
 */
import { Names, type DatastoreMigration } from "../api/datastore-migration.js";
import type { SchemaSet } from "../convert/schema.js";
import type { EngineOptions } from "../migration/engine-options.js";
import type { ControllerContext } from "./context.js";

/** Engine options for this CR, wired to the controller's metrics. */
export function engineOptions(ctx: ControllerContext, dm: DatastoreMigration, schemas: SchemaSet): EngineOptions {
  return {
    client: ctx.client,
    schemas,
    migrationUid: dm.metadata.uid ?? "",
    concurrency: ctx.config.copyConcurrency,
    clock: ctx.clock,
    log: ctx.log,
    onOutcome: (kind, outcome) => {
      if (outcome === "error") ctx.metrics.resourceErrors.inc({ kind });
      else ctx.metrics.resources.inc({ kind, outcome });
    },
    onRetry: (kind) => ctx.metrics.retries.inc({ kind, operation: "create" }),
  };
}

/** False when the user opted out with the remap-foreign-owner-references: "false" annotation. */
export function remapForeignEnabled(dm: DatastoreMigration): boolean {
  return dm.metadata.annotations?.[Names.remapForeignOwnerReferences] !== "false";
}
