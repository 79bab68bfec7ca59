/**
 * Flag definitions shared by commands (kubectl's names and value syntax) and the step that turns
 * commander's raw values into typed options.
 */
import { InvalidArgumentError, Option, type Command } from "commander";
import { PHASES, Phase } from "../api/datastore-migration.js";
import { InvalidDurationError, parseDuration } from "../kube/duration.js";
import { OUTPUT_FORMATS } from "./render/output.js";
import type { GlobalOptions } from "./session.js";

/** Parses a Kubernetes duration flag into milliseconds, or throws commander's usage error. */
export function parseDurationFlag(value: string): number {
  try {
    const ms = parseDuration(value);
    if (ms < 0) throw new InvalidArgumentError(`expected a non-negative duration such as 30s or 5m, got "${value}"`);
    return ms;
  } catch (err) {
    if (err instanceof InvalidDurationError) throw new InvalidArgumentError(`expected a duration such as 30s, 5m or 1h30m (0 = no limit): ${err.message}`);
    throw err;
  }
}

/** `-o, --output table|json|yaml` (or other formats). */
export function outputOption(formats: readonly string[] = OUTPUT_FORMATS): Option {
  return new Option("-o, --output <format>", "output format").choices([...formats]).default("table");
}

/** `--timeout <duration>` parsed to milliseconds. */
export function timeoutOption(defaultValue: string, what: string): Option {
  return new Option("--timeout <duration>", `how long to wait for ${what} (e.g. 30s, 5m; 0 = no limit); exit code 3 when it passes`)
    .argParser(parseDurationFlag)
    .default(parseDurationFlag(defaultValue), defaultValue);
}

/** Phases `watch --until` accepts. */
export const UNTIL_PHASES: readonly Phase[] = PHASES.filter((p) => p !== Phase.Failed && p !== Phase.Pending);

/** `--until <phase>`. */
export function untilOption(): Option {
  return new Option("--until <phase>", "stop once the migration reaches this phase (or a later one)").choices([...UNTIL_PHASES]).default(Phase.Complete);
}

/** `-y, --yes`. */
export function yesOption(): Option {
  return new Option("-y, --yes", "do not ask for confirmation (required when stdin is not a terminal)").default(false);
}

/** The global flags of the invoked command. */
export function globalsOf(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals<{ kubeconfig?: string; context?: string; color?: boolean }>();
  return { kubeconfig: o.kubeconfig, context: o.context, color: o.color !== false };
}

/** The "Examples:" help section (comment lines start with #, blank strings separate examples). */
export function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => (l === "" ? "" : `  ${l}`)).join("\n")}\n`;
}
