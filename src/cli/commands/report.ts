/**
 * `calico-migrate report`: what was migrated, renamed, skipped, conflicting and remapped, with
 * timings, from the report the controller persists (ConfigMaps in its namespace).
 */
import { Option, type Command } from "commander";
import { ReportStore } from "../../migration/report-store.js";
import { silentLogger } from "../../kube/logger.js";
import { RefusedError } from "../errors.js";
import { examples, globalsOf, outputOption } from "../flags.js";
import type { CliIo } from "../io.js";
import { colorEnabled, palette } from "../render/color.js";
import { writeStructured } from "../render/output.js";
import { renderReportMarkdown, renderReportText, reportSections } from "../render/report.js";
import { withSession, type GlobalOptions } from "../session.js";

/** Formats of `report`. */
export const REPORT_FORMATS = ["table", "markdown", "json", "yaml"] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** Options of `report`. */
export interface ReportOptions extends GlobalOptions {
  output: ReportFormat;
  /** The controller's namespace. */
  namespace: string;
}

/** The controller's default namespace. */
export const DEFAULT_CONTROLLER_NAMESPACE = "calico-datastore-migration";

/** Runs `report`. */
export async function runReport(opts: ReportOptions, io: CliIo): Promise<void> {
  await withSession(opts, async ({ client }) => {
    const report = await new ReportStore(client, opts.namespace, silentLogger).load();
    if (!report) {
      throw new RefusedError(
        `no migration report in namespace ${opts.namespace}: the controller saves it at the end of the copy (phase Converged or WaitingForConflictResolution)`,
        ["calico-migrate status", `calico-migrate report --namespace <the controller's namespace>   # if it does not run in ${opts.namespace}`],
      );
    }
    switch (opts.output) {
      case "json":
      case "yaml":
        writeStructured(io.stdout, report, opts.output);
        return;
      case "markdown":
        io.stdout.write(`${renderReportMarkdown(reportSections(report))}\n`);
        return;
      case "table":
        io.stdout.write(`${renderReportText(reportSections(report), palette(colorEnabled(opts.color, io.isTTY, io.env)).bold)}\n`);
        return;
      default: {
        const never: never = opts.output;
        throw new Error(`unknown output ${String(never)}`);
      }
    }
  });
}

/** Registers `report`. */
export function registerReport(program: Command, io: CliIo): void {
  program
    .command("report")
    .description("what was migrated, renamed, skipped, conflicting and remapped, with timings (from the controller's saved report)")
    .addOption(outputOption(REPORT_FORMATS))
    .addOption(new Option("-n, --namespace <namespace>", "the controller's namespace, where it saves the report").default(DEFAULT_CONTROLLER_NAMESPACE))
    .addHelpText("after", examples("calico-migrate report", "calico-migrate report -o markdown > migration-report.md", "calico-migrate report -o json | jq '.kinds'"))
    .action(async (raw: { output: ReportFormat; namespace: string }, cmd: Command) => {
      await runReport({ ...globalsOf(cmd), output: raw.output, namespace: raw.namespace }, io);
    });
}
