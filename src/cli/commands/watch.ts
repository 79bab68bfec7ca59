/**
 * `calico-migrate watch`: follows the migration until Complete (or `--until` an earlier phase),
 * like `kubectl rollout status`: a live frame on a terminal, one line per change otherwise.
 * Exit 1 when it reaches Failed or disappears, 3 on --timeout.
 */
import type { Command } from "commander";
import { MIGRATION_NAME, phaseOf, type MigrationVersion, type Phase } from "../../api/datastore-migration.js";
import { formatDuration } from "../../kube/duration.js";
import { MigrationFailedError, RefusedError, TimeoutError } from "../errors.js";
import { examples, globalsOf, outputOption, timeoutOption, untilOption } from "../flags.js";
import { follow } from "../lib/follow.js";
import { sleeperOf, type CliIo } from "../io.js";
import { nextSteps, reached, type NextContext } from "../lib/next-steps.js";
import { colorEnabled, palette } from "../render/color.js";
import type { OutputFormat } from "../render/output.js";
import { getMigration } from "../../api/read-migration.js";
import { isOperatorManaged } from "../../migration/operator.js";
import { countV1, requireServedVersion, withSession, type GlobalOptions, type Session } from "../session.js";
import { WatchPrinter } from "../watch-printer.js";

/** Options of `watch`. */
export interface WatchOptions extends GlobalOptions {
  output: OutputFormat;
  until: Phase;
  /** 0 = no limit. */
  timeoutMs: number;
  /** Between GETs (default 1 s). */
  intervalMs?: number;
}

/** Follows the CR on an open session and prints it; shared by `watch` and `start --watch`. */
export async function followMigration(session: Session, version: MigrationVersion, opts: WatchOptions, io: CliIo): Promise<void> {
  const ctx: NextContext = { operatorManaged: await isOperatorManaged(session.client) };
  const printer = new WatchPrinter(io, {
    output: opts.output,
    palette: palette(colorEnabled(opts.color, io.isTTY, io.env)),
    next: (dm) => nextSteps(dm, ctx),
  });
  let counted = false;
  const sleep = sleeperOf(io);
  const result = await follow(
    { fetch: () => getMigration(session.client, version), now: io.now, sleep: (ms) => sleep(ms) },
    {
      timeoutMs: opts.timeoutMs,
      intervalMs: opts.intervalMs,
      done: (dm) => dm !== undefined && !dm.metadata.deletionTimestamp && reached(phaseOf(dm), opts.until),
      observe: async (dm) => {
        // Totals for the bars, once the copy is near (v1 is locked then, so they hold).
        if (!counted && dm?.status?.datastoreLockedAt) {
          counted = true;
          printer.setV1Counts(await countV1(session.client).catch(() => new Map<string, number>()));
        }
        printer.observe(dm);
      },
      onRetry: (err) => io.stderr.write(`warning: reading the DatastoreMigration failed, retrying: ${(err as Error).message}\n`),
    },
  );
  const next = nextSteps(result.last, ctx);
  const phase = result.last ? phaseOf(result.last) : undefined;
  switch (result.end) {
    case "reached":
      printer.finish(next);
      return;
    case "failed":
      printer.finish(next, false);
      throw new MigrationFailedError(`the migration reached phase Failed: ${result.last?.status?.message ?? ""}`, next);
    case "gone":
      printer.finish(next, false);
      throw new MigrationFailedError(`DatastoreMigration ${MIGRATION_NAME} was deleted while being watched (aborted or finalized)`, next);
    case "timeout":
      printer.finish(next, false);
      throw new TimeoutError(
        `timed out after ${formatDuration(opts.timeoutMs)} waiting for phase ${opts.until}: the migration is in phase ${phase ?? "?"}: ${result.last?.status?.message ?? ""}`,
        next,
      );
    default: {
      const never: never = result.end;
      throw new Error(`unknown end ${String(never)}`);
    }
  }
}

/** Runs `watch`. */
export async function runWatch(opts: WatchOptions, io: CliIo): Promise<void> {
  await withSession(opts, async (session) => {
    const version = await requireServedVersion(session.discovery);
    const dm = await getMigration(session.client, version);
    if (!dm) throw new RefusedError(`no DatastoreMigration ${MIGRATION_NAME}: nothing to watch`, nextSteps(undefined, { operatorManaged: false }));
    await followMigration(session, version, opts, io);
  });
}

/** Registers `watch` (options → typed options → run). */
export function registerWatch(program: Command, io: CliIo): void {
  program
    .command("watch")
    .description("follow the migration until it is Complete (or --until an earlier phase); exit 1 on Failed, 3 on --timeout")
    .addOption(outputOption())
    .addOption(untilOption())
    .addOption(timeoutOption("0s", "the phase"))
    .addHelpText("after", examples(
      "# Follow the migration until the components must be switched (manifest installs)",
      "calico-migrate watch --until Converged",
      "",
      "# In CI: one line per change, give up after 15 minutes (exit code 3)",
      "calico-migrate watch --timeout 15m | tee migration.log",
      "",
      "# Machine-readable: one JSON document per change",
      "calico-migrate watch -o json",
    ))
    .action(async (raw: { output: OutputFormat; until: Phase; timeout: number }, cmd: Command) => {
      await runWatch({ ...globalsOf(cmd), output: raw.output, until: raw.until, timeoutMs: raw.timeout }, io);
    });
}
