/**
 * `calico-migrate finalize`: after Complete, deletes the DatastoreMigration (after confirmation),
 * follows the controller's v1 CRD cleanup until the CR is gone, and prints the steps that remain
 * (from Calico's "Migrate from API server to native CRDs"). Before Complete it refuses.
 */
import type { Command } from "commander";
import { MIGRATION_NAME, Phase, phaseOf } from "../../api/datastore-migration.js";
import { V1_GROUP } from "../../calico/kinds.js";
import { crdNames } from "../../migration/prerequisites.js";
import { RefusedError } from "../errors.js";
import { examples, globalsOf, timeoutOption, yesOption } from "../flags.js";
import type { CliIo } from "../io.js";
import { nextSteps } from "../lib/next-steps.js";
import { renderNext } from "../render/output.js";
import { getMigration } from "../../api/read-migration.js";
import { isOperatorManaged } from "../../migration/operator.js";
import { CR_DISPLAY_NAME, requireServedVersion, withSession, type GlobalOptions } from "../session.js";
import { confirmOrRefuse, deleteIfUnchanged, followUntilGone } from "../teardown.js";

/** Options of `finalize`. */
export interface FinalizeOptions extends GlobalOptions {
  yes: boolean;
  timeoutMs: number;
  intervalMs?: number;
}

/** The steps left after the v1 CRDs are gone (pure). */
export function remainingSteps(operatorManaged: boolean): string[] {
  const apiServer = operatorManaged
    ? "The Calico API server: nothing to do — the operator stops running it once the components use the v3 CRDs."
    : "Remove the Calico API server, which no longer serves anything: kubectl delete namespace calico-apiserver (its Deployment and Service), and take it out of your manifests or Helm values so it is not installed again. Leave the APIService v3.projectcalico.org alone: Kubernetes now manages it for the v3 CRDs.";
  return [
    "Remaining steps (Calico docs: \"Migrate from API server to native CRDs\"):",
    `  1. ${apiServer}`,
    "  2. GitOps (Argo CD, Flux): switch Calico resources in your manifests to apiVersion projectcalico.org/v3 (served by the CRDs now; crd.projectcalico.org/v1 is gone).",
    "  3. Resume the GitOps sync you paused before the migration.",
  ];
}

/** Runs `finalize`. */
export async function runFinalize(opts: FinalizeOptions, io: CliIo): Promise<void> {
  await withSession(opts, async ({ client, discovery }) => {
    const version = await requireServedVersion(discovery);
    const operatorManaged = await isOperatorManaged(client);
    const dm = await getMigration(client, version);
    if (!dm) {
      if ((await crdNames(client, V1_GROUP)).length === 0) {
        io.stdout.write(`${["Nothing to finalize: there is no DatastoreMigration and no v1 CRD left.", ...remainingSteps(operatorManaged)].join("\n")}\n`);
        return;
      }
      throw new RefusedError(`no DatastoreMigration ${MIGRATION_NAME}: there is nothing to finalize`, nextSteps(undefined, { operatorManaged }));
    }
    const phase = phaseOf(dm);
    if (phase !== Phase.Complete) {
      throw new RefusedError(
        `the migration is in phase ${phase}, not Complete: finalize deletes the v1 CRDs and may only run once every component uses the v3 API group (${dm.status?.message ?? ""})`,
        nextSteps(dm, { operatorManaged }),
      );
    }
    if (dm.metadata.deletionTimestamp) io.stdout.write(`${CR_DISPLAY_NAME} is already being deleted; following the v1 CRD cleanup\n`);
    else {
      const v1 = await crdNames(client, V1_GROUP);
      io.stdout.write(`The migration is Complete. Deleting ${CR_DISPLAY_NAME} makes the controller delete every crd.projectcalico.org CRD (${v1.length} now) and with it the v1 copy of every Calico object. There is no way back to API server mode afterwards.\n`);
      await confirmOrRefuse(io, opts.yes, `Finalize the migration ${MIGRATION_NAME} and delete the v1 CRDs?`, "calico-migrate finalize");
      const r = await deleteIfUnchanged(client, version, dm);
      if (r === "changed") throw new RefusedError(`DatastoreMigration ${MIGRATION_NAME} changed while confirming: nothing was deleted; run finalize again`, ["calico-migrate finalize"]);
      if (r === "deleted") io.stdout.write(`${CR_DISPLAY_NAME} deleted\n`);
    }
    await followUntilGone(client, version, io, { timeoutMs: opts.timeoutMs, intervalMs: opts.intervalMs, what: "the v1 CRD cleanup", retry: "calico-migrate finalize --yes   # resumes following" });
    const left = await crdNames(client, V1_GROUP);
    io.stdout.write(`${left.length ? `warning: ${left.length} crd.projectcalico.org CRD(s) still exist: ${left.join(", ")}` : "Every crd.projectcalico.org CRD is deleted."}\n`);
    io.stdout.write(`${[...remainingSteps(operatorManaged), ...renderNext(["calico-migrate report   # what was migrated, renamed and remapped"])].join("\n")}\n`);
  });
}

/** Registers `finalize`. */
export function registerFinalize(program: Command, io: CliIo): void {
  program
    .command("finalize")
    .description("after Complete: delete the DatastoreMigration, follow the v1 CRD cleanup, and print the remaining steps")
    .addOption(yesOption())
    .addOption(timeoutOption("10m", "the v1 CRD cleanup"))
    .addHelpText("after", examples("calico-migrate finalize", "calico-migrate finalize --yes --timeout 10m"))
    .action(async (raw: { yes: boolean; timeout: number }, cmd: Command) => {
      await runFinalize({ ...globalsOf(cmd), yes: raw.yes, timeoutMs: raw.timeout }, io);
    });
}
