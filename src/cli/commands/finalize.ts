/**
 * `calico-migrate finalize`: after Complete, deletes the DatastoreMigration (after confirmation),
 * follows the controller's v1 CRD cleanup until the CR is gone, and prints the steps that remain
 * (from Calico's "Migrate from API server to native CRDs"). Before Complete it refuses; so it does
 * while a crd.projectcalico.org CRD the migration does not copy holds objects, unless
 * --delete-uncopied-crds (the cleanup deletes every CRD of the group).
 */
import { Option, type Command } from "commander";
import { MIGRATION_NAME, Phase, phaseOf } from "../../api/datastore-migration.js";
import { V1_GROUP } from "../../calico/kinds.js";
import type { KubeClient } from "../../kube/client.js";
import { crdNames } from "../../migration/prerequisites.js";
import { backupCommand, describeUncopied, holdingObjects, uncopiedV1Crds } from "../../migration/uncopied-crds.js";
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
  /** Go ahead although CRDs the migration did not copy hold objects (finalize deletes them). */
  deleteUncopiedCrds?: boolean;
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

/**
 * Lists the crd.projectcalico.org CRDs the migration did not copy (the controller deletes them
 * with the rest) and refuses while any holds objects, unless `--delete-uncopied-crds` says so.
 */
async function checkUncopied(client: KubeClient, io: CliIo, confirmed: boolean): Promise<void> {
  const uncopied = await uncopiedV1Crds(client);
  if (!uncopied.length) return;
  io.stdout.write(`${uncopied.length} crd.projectcalico.org CRD(s) were not migrated (their kinds are not copied to v3); finalize deletes them too: ${describeUncopied(uncopied)}\n`);
  const holding = holdingObjects(uncopied);
  if (!holding.length || confirmed) return;
  throw new RefusedError(
    `refusing to finalize: ${describeUncopied(holding)} ${holding.length === 1 ? "holds" : "hold"} objects that exist nowhere else; finalize would delete ${holding.length === 1 ? "it" : "them"} with every other crd.projectcalico.org CRD. Nothing was deleted. Back the objects up, then finalize with --delete-uncopied-crds`,
    [...holding.map(backupCommand), "calico-migrate finalize --delete-uncopied-crds"],
  );
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
      await checkUncopied(client, io, opts.deleteUncopiedCrds ?? false);
      const v1 = await crdNames(client, V1_GROUP);
      io.stdout.write(`The migration is Complete. Deleting ${CR_DISPLAY_NAME} makes the controller delete every crd.projectcalico.org CRD (${v1.length} now) and with it the v1 copy of every Calico object. There is no way back to API server mode afterwards.\n`);
      await confirmOrRefuse(io, opts.yes, `Finalize the migration ${MIGRATION_NAME} and delete the v1 CRDs?`, `calico-migrate finalize${opts.deleteUncopiedCrds ? " --delete-uncopied-crds" : ""}`);
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
    .addOption(new Option("--delete-uncopied-crds", "go ahead although crd.projectcalico.org CRDs the migration does not copy hold objects (they are deleted with the rest: back them up first)").default(false))
    .addOption(timeoutOption("10m", "the v1 CRD cleanup"))
    .addHelpText("after", examples(
      "calico-migrate finalize",
      "calico-migrate finalize --yes --timeout 10m",
      "",
      "# A CRD the migration does not copy holds objects: back them up, then",
      "kubectl get licensekeys.crd.projectcalico.org -o yaml > licensekeys.crd.projectcalico.org.yaml",
      "calico-migrate finalize --delete-uncopied-crds",
    ))
    .action(async (raw: { yes: boolean; deleteUncopiedCrds: boolean; timeout: number }, cmd: Command) => {
      await runFinalize({ ...globalsOf(cmd), yes: raw.yes, deleteUncopiedCrds: raw.deleteUncopiedCrds, timeoutMs: raw.timeout }, io);
    });
}
