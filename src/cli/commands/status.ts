/**
 * `calico-migrate status`: the migration now — phase, message, timeline, per-kind progress,
 * conflicts, and the next command; `-o json|yaml` for scripts.
 */
import type { Command } from "commander";
import type { CliIo } from "../io.js";
import { examples, globalsOf, outputOption } from "../flags.js";
import { nextSteps } from "../lib/next-steps.js";
import { colorEnabled, palette } from "../render/color.js";
import { migrationView, renderStatus } from "../render/migration.js";
import { renderNext, writeStructured, type OutputFormat } from "../render/output.js";
import { getMigration } from "../../api/read-migration.js";
import { isOperatorManaged } from "../../migration/operator.js";
import { countV1, crdMissing, servedVersion, withSession, type GlobalOptions } from "../session.js";

/** Options of `status`. */
export interface StatusOptions extends GlobalOptions {
  output: OutputFormat;
}

/** Runs `status`. */
export async function runStatus(opts: StatusOptions, io: CliIo): Promise<void> {
  await withSession(opts, async ({ client, discovery }) => {
    const version = await servedVersion(discovery);
    if (!version) {
      const missing = crdMissing();
      const view = migrationView(undefined, [...missing.next]);
      if (opts.output === "table") io.stdout.write(`${[missing.message, ...renderNext(missing.next)].join("\n")}\n`);
      else writeStructured(io.stdout, { ...view, note: missing.message }, opts.output);
      return;
    }
    const dm = await getMigration(client, version);
    const next = nextSteps(dm, { operatorManaged: await isOperatorManaged(client) });
    // v1 totals per kind for the progress table (v1 is locked, or gone after finalize, by then).
    const counts = dm?.status?.progress?.typeDetails?.length ? await countV1(client).catch(() => undefined) : undefined;
    const view = migrationView(dm, next, counts?.size ? counts : undefined);
    if (opts.output !== "table") {
      writeStructured(io.stdout, view, opts.output);
      return;
    }
    const p = palette(colorEnabled(opts.color, io.isTTY, io.env));
    io.stdout.write(`${renderStatus(view, p, { bars: io.isTTY, now: io.now() }).join("\n")}\n`);
  });
}

/** Registers `status`. */
export function registerStatus(program: Command, io: CliIo): void {
  program
    .command("status")
    .description("show the migration: phase, message, timeline, per-kind progress, conflicts and what to do next")
    .addOption(outputOption())
    .addHelpText("after", examples("calico-migrate status", "calico-migrate status -o json | jq -r .phase"))
    .action(async (raw: { output: OutputFormat }, cmd: Command) => {
      await runStatus({ ...globalsOf(cmd), output: raw.output }, io);
    });
}
