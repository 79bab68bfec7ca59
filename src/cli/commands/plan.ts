/**
 * `calico-migrate plan`: the controller's own planner as a report. It changes no Calico object;
 * its server-side validation writes scratch objects and removes them again, and says so (help and
 * report). Exit 1 when something blocks the migration.
 * `--emit-rbac` prints the optional foreign-owner RBAC scoped to what the plan found.
 */
import type { Command } from "commander";
import { Option } from "commander";
import YAML from "yaml";
import { plan, type PlanReport, type Validator } from "../../migration/planner.js";
import { validateWithServer } from "../../migration/validation.js";
import { validationWritesHelp } from "../../migration/validation-writes.js";
import type { KubeClient } from "../../kube/client.js";
import type { Discovery } from "../../kube/discovery.js";
import { RefusedError } from "../errors.js";
import { examples, globalsOf, outputOption } from "../flags.js";
import type { CliIo } from "../io.js";
import { foreignOwnerRbac, resourcesByGroup } from "../lib/rbac.js";
import { colorEnabled, palette } from "../render/color.js";
import { renderNext, writeStructured, type OutputFormat } from "../render/output.js";
import { renderPlan } from "../render/plan.js";
import { withSession, type GlobalOptions } from "../session.js";

/** Options of `plan`. */
export interface PlanCommandOptions extends GlobalOptions {
  output: OutputFormat;
  /** Dry-run every converted object against the v3 CRDs (default true). */
  validate: boolean;
  /** Print only the scoped foreign-owner RBAC. */
  emitRbac: boolean;
}

/** Holder of the validation Lease while `plan` validates. */
export const PLAN_VALIDATION_HOLDER = "calico-migrate-plan";

/** The server-side validator `plan` and `start` use. */
export function planValidator(client: KubeClient): Validator {
  return (objects) => validateWithServer({ client, objects, holder: PLAN_VALIDATION_HOLDER });
}

/** Runs the engine's planner for the CLI (validation unless disabled). */
export async function runPlanner(client: KubeClient, discovery: Discovery, validate: boolean): Promise<PlanReport> {
  return plan({ client, discovery, validator: validate ? planValidator(client) : undefined });
}

/** The next commands after a plan. */
export function planNext(report: PlanReport): string[] {
  return report.blockers.length ? ["fix each blocker above (its fix: line), then: calico-migrate plan"] : ["calico-migrate start"];
}

/** Runs `plan`. */
export async function runPlan(opts: PlanCommandOptions, io: CliIo): Promise<void> {
  await withSession(opts, async ({ client, discovery }) => {
    if (opts.emitRbac) {
      const report = await plan({ client, discovery, detectConflicts: false });
      emitRbac(report, io);
      return;
    }
    const report = await runPlanner(client, discovery, opts.validate);
    const next = planNext(report);
    if (opts.output === "table") {
      const lines = renderPlan(report, palette(colorEnabled(opts.color, io.isTTY, io.env)));
      io.stdout.write(`${[...lines, ...(report.blockers.length ? [] : renderNext(next))].join("\n")}\n`);
    } else writeStructured(io.stdout, { ...report, next }, opts.output);
    if (report.blockers.length) {
      throw new RefusedError(`${report.blockers.length} blocker(s) must be fixed before the migration can start: ${report.blockers.map((b) => b.code).join(", ")}`, next);
    }
  });
}

function emitRbac(report: PlanReport, io: CliIo): void {
  if ("skipped" in report.foreign) throw new Error("the foreign owner-reference scan did not run");
  const { dependents, notScanned } = report.foreign;
  if (notScanned.length) io.stderr.write(`warning: ${notScanned.length} resource(s) could not be scanned (${notScanned.map((n) => n.resource).join(", ")}); run plan with more rights to include them\n`);
  if (!dependents.length) {
    io.stdout.write("# No non-Calico object has a Calico owner: the controller needs no extra RBAC.\n");
    io.stderr.write("no foreign owner references found: nothing to apply\n");
    return;
  }
  const scope = [...resourcesByGroup(dependents)].map(([g, r]) => r.map((x) => (g ? `${x}.${g}` : x)).join(", ")).join(", ");
  io.stdout.write(`# Lets the migration controller protect ${dependents.length} non-Calico object(s) with Calico owners: ${scope}\n`);
  io.stdout.write(foreignOwnerRbac(dependents).map((o) => YAML.stringify(o)).join("---\n"));
  io.stderr.write(`apply with: calico-migrate plan --emit-rbac | kubectl apply -f -\n`);
}

/** Registers `plan`. */
export function registerPlan(program: Command, io: CliIo): void {
  program
    .command("plan")
    .description("report what the migration would do and what blocks it (exit 1 when blocked); changes no Calico object, but its validation writes scratch objects and removes them (see below)")
    .addOption(outputOption())
    .option("--no-validate", "skip the server-side dry-run of every converted object against the v3 CRDs")
    .addOption(new Option("--emit-rbac", "print only a ClusterRole and binding that let the controller protect the non-Calico objects with Calico owners this plan found").default(false))
    .addHelpText("after", `\nWhat plan writes:\n${validationWritesHelp().map((l) => `  ${l}`).join("\n")}`)
    .addHelpText("after", examples(
      "# Everything the migration would do, and every blocker with its fix",
      "calico-migrate plan",
      "",
      "# Faster, without the server-side validation",
      "calico-migrate plan --no-validate -o json",
      "",
      "# Least-privilege RBAC for non-Calico objects owned by Calico objects",
      "calico-migrate plan --emit-rbac | kubectl apply -f -",
    ))
    .action(async (raw: { output: OutputFormat; validate: boolean; emitRbac: boolean }, cmd: Command) => {
      await runPlan({ ...globalsOf(cmd), output: raw.output, validate: raw.validate, emitRbac: raw.emitRbac }, io);
    });
}
