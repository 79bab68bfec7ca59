/**
 * `calico-migrate start`: plans (refusing on blockers), then creates the DatastoreMigration
 * `v1-to-v3` at the served version; the controller does the rest. `--watch` follows it.
 */
import { Option, type Command } from "commander";
import {
  MIGRATION_GROUP,
  MIGRATION_NAME,
  MigrationType,
  migrationResource,
  Names,
  Phase,
  phaseOf,
  type Phase as PhaseT,
} from "../../api/datastore-migration.js";
import { isAlreadyExists } from "../../kube/errors.js";
import type { KubeObject } from "../../kube/object.js";
import { RefusedError } from "../errors.js";
import { examples, globalsOf, timeoutOption, untilOption } from "../flags.js";
import type { CliIo } from "../io.js";
import { nextSteps, watchCommand } from "../lib/next-steps.js";
import { colorEnabled, palette } from "../render/color.js";
import { renderNext } from "../render/output.js";
import { getMigration } from "../../api/read-migration.js";
import { isOperatorManaged } from "../../migration/operator.js";
import { CR_DISPLAY_NAME, requireServedVersion, withSession, type GlobalOptions } from "../session.js";
import { runPlanner } from "./plan.js";
import { followMigration } from "./watch.js";

/** Options of `start`. */
export interface StartOptions extends GlobalOptions {
  validate: boolean;
  /** False with --no-remap-foreign-owner-references. */
  remapForeignOwnerReferences: boolean;
  watch: boolean;
  until: PhaseT;
  timeoutMs: number;
}

/** Runs `start`. */
export async function runStart(opts: StartOptions, io: CliIo): Promise<void> {
  await withSession(opts, async (session) => {
    const { client, discovery } = session;
    const p = palette(colorEnabled(opts.color, io.isTTY, io.env));
    const version = await requireServedVersion(discovery);
    const operatorManaged = await isOperatorManaged(client);
    const existing = await getMigration(client, version);
    if (existing) {
      const state = existing.metadata.deletionTimestamp ? `being deleted in phase ${phaseOf(existing)}` : `in phase ${phaseOf(existing)}`;
      throw new RefusedError(
        `DatastoreMigration ${MIGRATION_NAME} already exists, ${state}: ${existing.status?.message || "(no message yet)"}`,
        nextSteps(existing, { operatorManaged }),
      );
    }

    io.stdout.write(`Planning${opts.validate ? " (with server-side validation)" : ""} …\n`);
    const report = await runPlanner(client, discovery, opts.validate);
    if (report.blockers.length) {
      for (const b of report.blockers) io.stdout.write(`  ${p.red(b.code)}${b.object ? `  ${b.object}` : ""}\n      ${b.message}\n      fix: ${b.fix}\n`);
      throw new RefusedError(`refusing to start: ${report.blockers.length} blocker(s) found`, ["fix each blocker above, then: calico-migrate plan"]);
    }
    const dependents = "skipped" in report.foreign ? 0 : report.foreign.dependents.length;
    io.stdout.write(`Plan: ${report.total} objects in ${report.kinds.filter((k) => k.count > 0).length} kinds, ${report.renames.length} renames, ${dependents} foreign dependents, locked window about ${report.estimate.lockedWindowSeconds}s\n`);
    for (const w of report.warnings) io.stdout.write(`  ${p.yellow("warning")} ${w.code}: ${w.message}\n`);
    if (dependents && !opts.remapForeignOwnerReferences) {
      io.stderr.write(`warning: --no-remap-foreign-owner-references: the garbage collector will delete the ${dependents} non-Calico object(s) owned by Calico objects once the APIService is unregistered\n`);
    }

    const cr: KubeObject = {
      apiVersion: `${MIGRATION_GROUP}/${version}`,
      kind: "DatastoreMigration",
      metadata: { name: MIGRATION_NAME, ...(opts.remapForeignOwnerReferences ? {} : { annotations: { [Names.remapForeignOwnerReferences]: "false" } }) },
      spec: { type: MigrationType.APIServerToCRDs },
    };
    try {
      await client.create(migrationResource(version), cr, { fieldManager: "calico-migrate" });
    } catch (err) {
      if (isAlreadyExists(err)) throw new RefusedError(`DatastoreMigration ${MIGRATION_NAME} was created by someone else meanwhile`, ["calico-migrate status"], { cause: err });
      throw err;
    }
    io.stdout.write(`${CR_DISPLAY_NAME} created (${MIGRATION_GROUP}/${version})\n`);
    if (version !== "v1") io.stderr.write(`warning: only the deprecated ${MIGRATION_GROUP}/v1beta1 is served; apply this project's CRD (manifests/crd) to serve v1\n`);
    if (!opts.watch) {
      io.stdout.write(`${renderNext([watchCommand({ operatorManaged })]).join("\n")}\n`);
      return;
    }
    await followMigration(session, version, { ...opts, output: "table" }, io);
  });
}

/** Registers `start`. */
export function registerStart(program: Command, io: CliIo): void {
  program
    .command("start")
    .description(`plan, refuse on blockers, then create the DatastoreMigration ${MIGRATION_NAME} (the controller migrates)`)
    .option("--no-validate", "skip the server-side dry-run of every converted object")
    .option("--no-remap-foreign-owner-references", `do not protect non-Calico objects owned by Calico objects (sets ${Names.remapForeignOwnerReferences}: "false"; the garbage collector deletes them)`)
    .addOption(new Option("-w, --watch", "follow the migration after creating it (like calico-migrate watch)").default(false))
    .addOption(untilOption().default(Phase.Complete, "Complete; with --watch"))
    .addOption(timeoutOption("0s", "--until's phase with --watch"))
    .addHelpText("after", examples(
      "# Start and follow until the components must be switched",
      "calico-migrate start --watch --until Converged",
      "",
      "# Opt out of owner-reference protection for non-Calico objects",
      "calico-migrate start --no-remap-foreign-owner-references",
    ))
    .action(async (raw: { validate: boolean; remapForeignOwnerReferences: boolean; watch: boolean; until: PhaseT; timeout: number }, cmd: Command) => {
      await runStart({ ...globalsOf(cmd), validate: raw.validate, remapForeignOwnerReferences: raw.remapForeignOwnerReferences, watch: raw.watch, until: raw.until, timeoutMs: raw.timeout }, io);
    });
}
