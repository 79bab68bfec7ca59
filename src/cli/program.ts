/**
 * The `calico-migrate` command line: global flags, one subcommand per file, kubectl's
 * conventions (usage errors exit 2 and say what was expected), and `runCli`, the entry that
 * main and the tests call.
 */
import { Command } from "commander";
import { registerAbort } from "./commands/abort.js";
import { registerConflicts } from "./commands/conflicts.js";
import { registerController } from "./commands/controller.js";
import { registerFinalize } from "./commands/finalize.js";
import { registerPlan } from "./commands/plan.js";
import { registerReport } from "./commands/report.js";
import { registerStart } from "./commands/start.js";
import { registerStatus } from "./commands/status.js";
import { registerSwitchComponents } from "./commands/switch-components.js";
import { registerWatch } from "./commands/watch.js";
import type { ExitCode } from "./errors.js";
import type { CliIo } from "./io.js";
import { run } from "./run.js";

/** The CLI's version (package.json's). */
export const VERSION = "0.1.0";

const OVERVIEW = `
Migrates Calico from the aggregated API server (crd.projectcalico.org/v1 storage) to native
projectcalico.org/v3 CRDs through the DatastoreMigration controller.

A migration, step by step:
  calico-migrate plan                        # what would happen; every blocker with its fix
  calico-migrate start --watch --until Converged
  calico-migrate conflicts                   # only if it waits for conflict resolution
  calico-migrate switch-components           # manifest installs (the operator does it otherwise)
  calico-migrate finalize                    # after Complete: delete the v1 CRDs
  calico-migrate abort                       # any time before that: roll back

Exit codes: 0 done, 1 refused or blocked, 2 usage error, 3 timeout, 4 other error.
`;

/** Builds the program with every command bound to `io`. */
export function buildProgram(io: CliIo): Command {
  const program = new Command("calico-migrate");
  program
    .description("Migrate Calico from the aggregated API server to native projectcalico.org/v3 CRDs")
    .version(VERSION, "--version", "print the version")
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError("(run with --help for usage)")
    .showSuggestionAfterError(true)
    .allowExcessArguments(false)
    .option("--kubeconfig <path>", "path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
    .option("--context <name>", "the kubeconfig context to use")
    .option("--no-color", "never colour the output (also: NO_COLOR=1)")
    .addHelpText("after", OVERVIEW);
  registerPlan(program, io);
  registerStart(program, io);
  registerWatch(program, io);
  registerStatus(program, io);
  registerConflicts(program, io);
  registerSwitchComponents(program, io);
  registerAbort(program, io);
  registerFinalize(program, io);
  registerReport(program, io);
  registerController(program);
  return program;
}

/** Parses `argv` (without node and the script) and runs the command; returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const program = buildProgram(io);
  return run(io, async () => {
    await program.parseAsync([...argv], { from: "user" });
  });
}
