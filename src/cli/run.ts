/**
 * The one catch site: runs a command and turns whatever it throws into a message on stderr
 * (with the next commands, when the error carries them) and an exit code. Stack traces only for
 * unexpected errors (bugs).
 */
import { CommanderError } from "commander";
import { ExitCode, exitCodeOf, isExpected, nextOf, userMessage } from "./errors.js";
import type { CliIo } from "./io.js";
import { renderNext } from "./render/output.js";

/** Runs `fn`; returns its exit code. */
export async function run(io: CliIo, fn: () => Promise<void>): Promise<ExitCode> {
  try {
    await fn();
    return ExitCode.Ok;
  } catch (err) {
    const code = exitCodeOf(err);
    // commander has already printed its usage message (and help).
    if (err instanceof CommanderError) return code;
    const lines = [`error: ${userMessage(err)}`, ...renderNext(nextOf(err))];
    if (!isExpected(err) && err instanceof Error && err.stack) lines.push("", err.stack);
    io.stderr.write(`${lines.join("\n")}\n`);
    return code;
  }
}
