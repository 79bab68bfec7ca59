/**
 * What `abort` and `finalize` share: the confirmation rule (ask on a terminal, --yes otherwise),
 * deleting the CR only if it is still the object that was judged, and following the controller's
 * finalizer until the CR is gone.
 */
import { MIGRATION_NAME, migrationResource, phaseOf, type DatastoreMigration, type MigrationVersion } from "../api/datastore-migration.js";
import type { KubeClient } from "../kube/client.js";
import { formatDuration } from "../kube/duration.js";
import { ApiError, isNotFound } from "../kube/errors.js";
import { MigrationFailedError, RefusedError, TimeoutError } from "./errors.js";
import { follow } from "./lib/follow.js";
import { sleeperOf, type CliIo } from "./io.js";
import { palette } from "./render/color.js";
import { getMigration } from "../api/read-migration.js";
import { CR_DISPLAY_NAME } from "./session.js";
import { WatchPrinter } from "./watch-printer.js";

/** Asks for confirmation on a terminal; without one, --yes is required. Declining refuses (exit 1). */
export async function confirmOrRefuse(io: CliIo, yes: boolean, question: string, command: string): Promise<void> {
  if (yes) return;
  if (!io.isTTY || !io.confirm) throw new RefusedError(`not a terminal, so no confirmation can be asked: nothing was changed`, [`${command} --yes`]);
  if (!(await io.confirm(question))) throw new RefusedError("not confirmed: nothing was changed");
}

/** Deletes the CR if its resourceVersion is still `dm`'s: "deleted", "changed" (judge it again) or "gone". */
export async function deleteIfUnchanged(client: KubeClient, version: MigrationVersion, dm: DatastoreMigration): Promise<"deleted" | "changed" | "gone"> {
  try {
    await client.delete(migrationResource(version), MIGRATION_NAME, undefined, { uid: dm.metadata.uid, resourceVersion: dm.metadata.resourceVersion });
    return "deleted";
  } catch (err) {
    if (isNotFound(err)) return "gone";
    if (err instanceof ApiError && err.code === 409) return "changed";
    throw err;
  }
}

/** How following a deleted CR ended: gone, or stopped early by `stopWhen`; with the last CR seen. */
export interface FollowedDeletion {
  end: "gone" | "stopped";
  lastSeen: DatastoreMigration | undefined;
}

/**
 * Follows the CR's finalizer until the CR is gone (or `stopWhen` holds for it), one line per
 * change. Phase Failed does not end it: the finalizer of a Failed migration still restores.
 */
export async function followUntilGone(
  client: KubeClient,
  version: MigrationVersion,
  io: CliIo,
  o: { timeoutMs: number; intervalMs?: number; what: string; retry: string; stopWhen?: (dm: DatastoreMigration) => boolean },
): Promise<FollowedDeletion> {
  const printer = new WatchPrinter(io, { output: "table", palette: palette(false), next: () => [], redraw: false, kinds: false });
  const sleep = sleeperOf(io);
  let lastSeen: DatastoreMigration | undefined;
  const result = await follow(
    { fetch: () => getMigration(client, version), now: io.now, sleep: (ms) => sleep(ms) },
    {
      timeoutMs: o.timeoutMs,
      intervalMs: o.intervalMs,
      endOnFailed: false,
      done: (dm) => dm === undefined || (o.stopWhen?.(dm) ?? false),
      observe: (dm) => {
        if (dm) lastSeen = dm;
        printer.observe(dm);
      },
    },
  );
  switch (result.end) {
    case "reached":
      if (result.last) return { end: "stopped", lastSeen };
      io.stdout.write(`${CR_DISPLAY_NAME} is gone: ${o.what} finished\n`);
      return { end: "gone", lastSeen };
    case "timeout":
      throw new TimeoutError(
        `timed out after ${formatDuration(o.timeoutMs)} waiting for ${o.what}: the CR is still there in phase ${result.last ? phaseOf(result.last) : "?"}: ${result.last?.status?.message ?? ""} (is the controller running? kubectl -n calico-datastore-migration get pods)`,
        [o.retry],
      );
    case "failed":
    case "gone":
      throw new MigrationFailedError(`${o.what} did not finish: ${result.last?.status?.message ?? ""}`, ["calico-migrate status"]);
    default: {
      const never: never = result.end;
      throw new Error(`unknown end ${String(never)}`);
    }
  }
}
