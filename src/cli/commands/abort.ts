/**
 * `calico-migrate abort`: explains what will be undone, asks for confirmation, deletes the CR and
 * follows the controller's rollback until the CR is gone. Refuses at Complete (use finalize) and
 * at Converged when a rollback is no longer safe — a deletion then would drive on to Complete and
 * delete the v1 CRDs — without deleting anything. What it reports at the end is the controller's
 * recorded decision (the two checks can disagree if something changes in between).
 */
import { Option, type Command } from "commander";
import { DeletionDecision, deletionDecisionOf, MIGRATION_NAME, Names, Phase, phaseOf, type DatastoreMigration } from "../../api/datastore-migration.js";
import { V1_GROUP } from "../../calico/kinds.js";
import { crdNames } from "../../migration/prerequisites.js";
import { rollbackSafety } from "../../migration/rollback-safety.js";
import type { KubeClient } from "../../kube/client.js";
import { RefusedError } from "../errors.js";
import { examples, globalsOf, timeoutOption, yesOption } from "../flags.js";
import type { CliIo } from "../io.js";
import { nextSteps, remapDisabled } from "../lib/next-steps.js";
import { renderNext } from "../render/output.js";
import { getMigration } from "../../api/read-migration.js";
import { isOperatorManaged } from "../../migration/operator.js";
import { CR_DISPLAY_NAME, requireServedVersion, withSession, type GlobalOptions } from "../session.js";
import { confirmOrRefuse, deleteIfUnchanged, followUntilGone } from "../teardown.js";

/** Options of `abort`. */
export interface AbortOptions extends GlobalOptions {
  yes: boolean;
  timeoutMs: number;
  componentsNamespace?: string;
  intervalMs?: number;
}

/** What deleting the CR undoes in its current state (pure). */
export function rollbackSteps(dm: DatastoreMigration): string[] {
  const phase = phaseOf(dm);
  const locked = Boolean(dm.status?.datastoreLockedAt);
  const unregistered = Boolean(dm.metadata.annotations?.[Names.savedApiService]);
  if (!locked && !unregistered) {
    return [phase === Phase.Failed
      ? "The migration Failed before it locked anything: deleting it only removes it; nothing is rolled back."
      : "Nothing has been changed yet (the datastore is not locked): deleting the migration only removes it."];
  }
  const out: string[] = [];
  if (unregistered) {
    out.push("delete the v3 objects this migration created (objects that were already in v3 are kept)");
    out.push("register the aggregated APIService v3.projectcalico.org again (projectcalico.org/v3 is served by the Calico API server)");
  }
  if (!remapDisabled(dm)) out.push("give non-Calico objects back their original Calico owner references");
  if (locked) out.push("unlock the v1 datastore (datastoreReady=true): calico-node, Typha and kube-controllers carry on from v1 as before");
  return ["The controller will roll back:", ...out.map((s, i) => `  ${i + 1}. ${s}`), "The v1 data was never modified, so it stays authoritative."];
}

/** Refusals that depend on the CR's state; undefined when an abort may go ahead. */
async function refusal(client: KubeClient, dm: DatastoreMigration, opts: AbortOptions, operatorManaged: boolean): Promise<RefusedError | undefined> {
  const phase = phaseOf(dm);
  if (phase === Phase.Complete) {
    return new RefusedError("the migration is Complete: every component runs on v3 and there is nothing to roll back; deleting it deletes the v1 CRDs (that is finalize)", ["calico-migrate finalize"]);
  }
  if (phase !== Phase.Converged) return undefined;
  const safety = await rollbackSafety(client, dm, opts.componentsNamespace);
  if (safety.safe) return undefined;
  return new RefusedError(
    `refusing to abort: the migration is Converged and can no longer be rolled back safely (${safety.reason}). ` +
      "Deleting the DatastoreMigration now would not roll anything back: the controller would drive on to Complete and then delete the v1 CRDs. Nothing was deleted; finish the migration instead.",
    nextSteps(dm, { operatorManaged }),
  );
}

/** Runs `abort`. */
export async function runAbort(opts: AbortOptions, io: CliIo): Promise<void> {
  await withSession(opts, async ({ client, discovery }) => {
    const version = await requireServedVersion(discovery);
    const operatorManaged = await isOperatorManaged(client);
    let confirmed = false;
    for (let attempt = 0; ; attempt++) {
      const dm = await getMigration(client, version);
      if (!dm) {
        if (confirmed) break;
        throw new RefusedError(`no DatastoreMigration ${MIGRATION_NAME}: there is nothing to abort`, ["calico-migrate status"]);
      }
      if (dm.metadata.deletionTimestamp) {
        io.stdout.write(`${CR_DISPLAY_NAME} is already being deleted (phase ${phaseOf(dm)}); following it\n`);
        break;
      }
      const refused = await refusal(client, dm, opts, operatorManaged);
      if (refused) throw refused;
      if (!confirmed) {
        io.stdout.write(`Migration ${MIGRATION_NAME} is in phase ${phaseOf(dm)}: ${dm.status?.message ?? ""}\n`);
        io.stdout.write(`${rollbackSteps(dm).join("\n")}\n`);
        await confirmOrRefuse(io, opts.yes, `Abort the migration ${MIGRATION_NAME}?`, "calico-migrate abort");
        confirmed = true;
      }
      // Delete only the object judged above; a status write in between means: judge it again.
      const r = await deleteIfUnchanged(client, version, dm);
      if (r === "deleted") {
        io.stdout.write(`${CR_DISPLAY_NAME} deleted\n`);
        break;
      }
      if (r === "gone") break;
      if (attempt >= 20) throw new Error(`DatastoreMigration ${MIGRATION_NAME} kept changing while deleting it; try again`);
    }
    // The controller decides (and records) at Converged whether a deletion rolls back: report
    // its decision, never this command's own earlier judgement.
    const followed = await followUntilGone(client, version, io, {
      timeoutMs: opts.timeoutMs, intervalMs: opts.intervalMs, what: "the rollback", retry: "calico-migrate abort --yes   # resumes following",
      stopWhen: (d) => deletionDecisionOf(d) === DeletionDecision.Complete,
    });
    // Gone before its decision was seen: a Converged migration that drove on to Complete took
    // the v1 CRDs with it; a rollback leaves them.
    const decision = deletionDecisionOf(followed.lastSeen) ??
      (followed.end === "gone" && followed.lastSeen && (phaseOf(followed.lastSeen) === Phase.Converged || phaseOf(followed.lastSeen) === Phase.Complete) && (await crdNames(client, V1_GROUP)).length === 0 ? DeletionDecision.Complete : DeletionDecision.Rollback);
    if (decision === DeletionDecision.Complete) {
      const reason = followed.lastSeen?.metadata.annotations?.[Names.deletionDecisionReason];
      throw new RefusedError(
        `the controller did not roll back${reason ? `: ${reason}` : ""}. ` +
          (followed.end === "gone"
            ? "It drove the migration on to Complete and deleted the v1 CRDs; the cluster runs on the v3 CRDs."
            : "The deletion drives the migration on to Complete once every component runs with the v3 API group; then the controller deletes the v1 CRDs."),
        followed.end === "gone" ? ["calico-migrate status"] : nextSteps(followed.lastSeen, { operatorManaged }),
      );
    }
    io.stdout.write(`${["API server mode restored.", ...renderNext(["calico-migrate plan   # when you want to try again"])].join("\n")}\n`);
  });
}

/** Registers `abort`. */
export function registerAbort(program: Command, io: CliIo): void {
  program
    .command("abort")
    .description("roll the migration back: delete the DatastoreMigration and follow the rollback (refused at Complete, and at Converged once a rollback is unsafe)")
    .addOption(yesOption())
    .addOption(timeoutOption("10m", "the rollback"))
    .addOption(new Option("--components-namespace <namespace>", "where the Calico components run, for the rollback-safety check at Converged"))
    .addHelpText("after", examples("calico-migrate abort", "", "# Non-interactive (CI)", "calico-migrate abort --yes --timeout 5m"))
    .action(async (raw: { yes: boolean; timeout: number; componentsNamespace?: string }, cmd: Command) => {
      await runAbort({ ...globalsOf(cmd), yes: raw.yes, timeoutMs: raw.timeout, componentsNamespace: raw.componentsNamespace }, io);
    });
}
