/**
 * `calico-migrate conflicts`: every conflict recomputed from v1 and v3 storage with the engine,
 * each with a unified diff and the commands that resolve it. While the aggregated APIService is
 * registered, v3 storage cannot be read: it says so and exits 0.
 */
import type { Command } from "commander";
import { Phase, phaseOf } from "../../api/datastore-migration.js";
import { computeConflicts } from "../conflicts.js";
import { examples, globalsOf, outputOption } from "../flags.js";
import type { CliIo } from "../io.js";
import { nextSteps, watchCommand } from "../lib/next-steps.js";
import { colorEnabled, palette } from "../render/color.js";
import { renderConflict } from "../render/conflicts.js";
import { renderNext, writeStructured, type OutputFormat } from "../render/output.js";
import { getMigration } from "../../api/read-migration.js";
import { isOperatorManaged } from "../../migration/operator.js";
import { servedVersion, withSession, type GlobalOptions } from "../session.js";

/** Options of `conflicts`. */
export interface ConflictsOptions extends GlobalOptions {
  output: OutputFormat;
}

/** Runs `conflicts`. */
export async function runConflicts(opts: ConflictsOptions, io: CliIo): Promise<void> {
  await withSession(opts, async ({ client, discovery }) => {
    const report = await computeConflicts(client);
    const version = await servedVersion(discovery);
    const dm = version ? await getMigration(client, version) : undefined;
    const ctx = { operatorManaged: await isOperatorManaged(client) };
    let next: string[];
    if (report.conflicts.length) next = ["run one resolution per conflict above, then: calico-migrate conflicts", watchCommand(ctx)];
    else if (dm && phaseOf(dm) === Phase.WaitingForConflictResolution) next = [`${watchCommand(ctx)}   # the controller resumes on its next poll`];
    else next = nextSteps(dm, ctx);
    if (opts.output !== "table") {
      writeStructured(io.stdout, { ...report, next }, opts.output);
      return;
    }
    const p = palette(colorEnabled(opts.color, io.isTTY, io.env));
    const lines: string[] = [];
    if (!report.readable) lines.push(`No conflicts can be computed yet. ${report.note}`);
    else if (!report.conflicts.length) lines.push(`No conflicts: every v1 object either has no v3 counterpart yet or an equal one (${report.note}).`);
    else {
      lines.push(`${report.conflicts.length} conflict(s): v3 objects that exist with a spec different from their v1 source. The migration never overwrites them; resolve each one either way.`, "");
      report.conflicts.forEach((c, i) => lines.push(...renderConflict(c, i, report.conflicts.length, p), ""));
      lines.pop();
    }
    io.stdout.write(`${[...lines, ...renderNext(next)].join("\n")}\n`);
  });
}

/** Registers `conflicts`. */
export function registerConflicts(program: Command, io: CliIo): void {
  program
    .command("conflicts")
    .description("recompute every conflict from v1 and v3 storage, with a diff and the commands to resolve it")
    .addOption(outputOption())
    .addHelpText("after", examples(
      "calico-migrate conflicts",
      "",
      "# The conflicting objects' names, for a script",
      "calico-migrate conflicts -o json | jq -r '.conflicts[] | \"\\(.kind) \\(.name)\"'",
    ))
    .action(async (raw: { output: OutputFormat }, cmd: Command) => {
      await runConflicts({ ...globalsOf(cmd), output: raw.output }, io);
    });
}
