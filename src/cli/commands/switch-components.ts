/**
 * `calico-migrate switch-components`: for manifest installs at Converged, sets
 * CALICO_API_GROUP=projectcalico.org/v3 on calico-node (containers and init containers),
 * calico-typha and calico-kube-controllers, follows their rollouts like `kubectl rollout status`,
 * then waits for the controller to mark the migration Complete. `--dry-run` only prints.
 */
import { Option, type Command } from "commander";
import { MIGRATION_NAME, Phase, phaseOf } from "../../api/datastore-migration.js";
import { COMPONENTS, componentsNamespace } from "../../migration/components.js";
import type { KubeClient } from "../../kube/client.js";
import { formatDuration } from "../../kube/duration.js";
import { isNotFound } from "../../kube/errors.js";
import type { KubeObject } from "../../kube/object.js";
import type { ResourceRef } from "../../kube/resource.js";
import { MigrationFailedError, RefusedError, TimeoutError } from "../errors.js";
import { examples, globalsOf, timeoutOption } from "../flags.js";
import { follow } from "../lib/follow.js";
import { sleeperOf, type CliIo } from "../io.js";
import { nextSteps } from "../lib/next-steps.js";
import { renderNext } from "../render/output.js";
import { clockTime } from "../render/progress.js";
import { API_GROUP_ENV, envPatch, rolloutState, V3_API_GROUP } from "../../migration/rollout.js";
import { getMigration } from "../../api/read-migration.js";
import { isOperatorManaged } from "../../migration/operator.js";
import { requireServedVersion, withSession, type GlobalOptions } from "../session.js";

/** Options of `switch-components`. */
export interface SwitchComponentsOptions extends GlobalOptions {
  componentsNamespace?: string;
  dryRun: boolean;
  force: boolean;
  /** For the rollouts and the controller's completion together; 0 = no limit. */
  timeoutMs: number;
  intervalMs?: number;
}

interface Present {
  name: string;
  resource: ResourceRef;
  obj: KubeObject;
}

const kubectlName = (r: ResourceRef, name: string) => `${r.kind.toLowerCase()}.${r.group}/${name}`;

async function presentComponents(client: KubeClient, namespace: string): Promise<Present[]> {
  const out: Present[] = [];
  for (const c of COMPONENTS) {
    try {
      const obj = await client.get(c.resource, c.name, namespace);
      obj.kind ??= c.resource.kind;
      out.push({ name: c.name, resource: c.resource, obj });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  return out;
}

/** Runs `switch-components`. */
export async function runSwitchComponents(opts: SwitchComponentsOptions, io: CliIo): Promise<void> {
  await withSession(opts, async ({ client, discovery }) => {
    const version = await requireServedVersion(discovery);
    if (await isOperatorManaged(client)) {
      throw new RefusedError(
        "this install is managed by the Tigera operator (an operator.tigera.io Installation exists): the operator sets CALICO_API_GROUP on the components itself once the migration is Converged",
        ["calico-migrate watch   # until Complete", "calico-migrate finalize"],
      );
    }
    const dm = await getMigration(client, version);
    if (!dm) throw new RefusedError(`no DatastoreMigration ${MIGRATION_NAME}: the components can only be switched once a migration is Converged`, nextSteps(undefined, { operatorManaged: false }));
    const phase = phaseOf(dm);
    if (phase !== Phase.Converged && !opts.force) {
      const why = phase === Phase.Complete ? "it is already Complete: the components run with the v3 API group" : `the migration is in phase ${phase}; the components may only switch at Converged (v3 holds every object and is unlocked)`;
      throw new RefusedError(`refusing to switch the components: ${why}`, nextSteps(dm, { operatorManaged: false }));
    }
    const namespace = await componentsNamespace(client, opts.componentsNamespace);
    const present = await presentComponents(client, namespace);
    if (!present.length) {
      throw new RefusedError(`no Calico components (${COMPONENTS.map((c) => c.name).join(", ")}) found in namespace ${namespace}`, ["calico-migrate switch-components --components-namespace <namespace>"]);
    }

    for (const c of present) {
      const e = envPatch(c.obj);
      const id = `${kubectlName(c.resource, c.name)} (namespace ${namespace})`;
      if (!e.patch) {
        io.stdout.write(`${id}: ${API_GROUP_ENV}=${V3_API_GROUP} already set on every container\n`);
        continue;
      }
      const where = [...e.containers.map((n) => `container ${n}`), ...e.initContainers.map((n) => `init container ${n}`)].join(", ");
      if (opts.dryRun) {
        io.stdout.write(`${id}: would set ${API_GROUP_ENV}=${V3_API_GROUP} on ${where}:\n`);
        io.stdout.write(`  kubectl -n ${namespace} patch ${c.resource.kind.toLowerCase()} ${c.name} --type strategic -p '${JSON.stringify(e.patch)}'\n`);
        continue;
      }
      await client.patch(c.resource, c.name, e.patch, "strategic", namespace, { fieldManager: "calico-migrate" });
      io.stdout.write(`${kubectlName(c.resource, c.name)} patched: ${API_GROUP_ENV}=${V3_API_GROUP} on ${where}\n`);
    }
    if (opts.dryRun) {
      io.stdout.write(`${["(dry run: nothing was changed)", ...renderNext(["calico-migrate switch-components"])].join("\n")}\n`);
      return;
    }

    const started = io.now();
    const sleep = sleeperOf(io);
    const remaining = () => (opts.timeoutMs > 0 ? Math.max(1, opts.timeoutMs - (io.now() - started)) : 0);
    await followRollouts(client, namespace, present, io, { timeoutMs: opts.timeoutMs, intervalMs: opts.intervalMs ?? 1000, sleep });

    io.stdout.write("Waiting for the controller to complete the migration …\n");
    let lastMessage = "";
    const result = await follow(
      { fetch: () => getMigration(client, version), now: io.now, sleep: (ms) => sleep(ms) },
      {
        timeoutMs: remaining(),
        intervalMs: opts.intervalMs,
        done: (d) => d !== undefined && phaseOf(d) === Phase.Complete,
        observe: (d) => {
          const m = d?.status?.message ?? "";
          if (d && m !== lastMessage) io.stdout.write(`${clockTime(io.now())} ${phaseOf(d)}: ${m}\n`);
          lastMessage = m;
        },
      },
    );
    const next = nextSteps(result.last, { operatorManaged: false });
    if (result.end === "timeout") throw new TimeoutError(`timed out after ${formatDuration(opts.timeoutMs)}: the rollouts finished but the migration is not Complete yet: ${result.last?.status?.message ?? ""}`, ["calico-migrate watch", "calico-migrate finalize"]);
    if (result.end !== "reached") throw new MigrationFailedError(`the migration ended ${result.end === "gone" ? "(deleted)" : "in phase Failed"} instead of Complete: ${result.last?.status?.message ?? ""}`, next);
    io.stdout.write(`${["Migration complete: every component runs with the v3 API group.", ...renderNext(next)].join("\n")}\n`);
  });
}

async function followRollouts(
  client: KubeClient,
  namespace: string,
  present: readonly Present[],
  io: CliIo,
  o: { timeoutMs: number; intervalMs: number; sleep: (ms: number) => Promise<void> },
): Promise<void> {
  const started = io.now();
  const last = new Map<string, string>();
  for (;;) {
    let allDone = true;
    for (const c of present) {
      const obj = await client.get(c.resource, c.name, namespace);
      obj.kind ??= c.resource.kind;
      const state = rolloutState(obj);
      if (state.error) throw new Error(state.error);
      if (last.get(c.name) !== state.message) io.stdout.write(`${state.message}\n`);
      last.set(c.name, state.message);
      allDone &&= state.done;
    }
    if (allDone) return;
    const elapsed = io.now() - started;
    if (o.timeoutMs > 0 && elapsed >= o.timeoutMs) {
      const waiting = present.filter((c) => !last.get(c.name)?.includes("successfully")).map((c) => `kubectl -n ${namespace} rollout status ${c.resource.kind.toLowerCase()}/${c.name}`);
      throw new TimeoutError(`timed out after ${formatDuration(o.timeoutMs)} waiting for the rollouts`, [...waiting, "calico-migrate switch-components   # resumes following"]);
    }
    await o.sleep(o.timeoutMs > 0 ? Math.min(o.intervalMs, o.timeoutMs - elapsed) : o.intervalMs);
  }
}

/** Registers `switch-components`. */
export function registerSwitchComponents(program: Command, io: CliIo): void {
  program
    .command("switch-components")
    .description(`at Converged (manifest installs): set ${API_GROUP_ENV}=${V3_API_GROUP} on the Calico components and follow their rollouts until the migration is Complete`)
    .option("--components-namespace <namespace>", "where calico-node, calico-typha and calico-kube-controllers run (default: calico-system if calico-node is there, else kube-system)")
    .addOption(new Option("--dry-run", "print the patches and change nothing").default(false))
    .addOption(new Option("--force", "switch even though the migration is not Converged (unsafe: components would read a v3 datastore that is incomplete or locked)").default(false))
    .addOption(timeoutOption("10m", "the rollouts and the migration's completion"))
    .addHelpText("after", examples(
      "calico-migrate switch-components --dry-run",
      "calico-migrate switch-components --timeout 20m",
      "calico-migrate switch-components --components-namespace kube-system",
    ))
    .action(async (raw: { componentsNamespace?: string; dryRun: boolean; force: boolean; timeout: number }, cmd: Command) => {
      await runSwitchComponents({ ...globalsOf(cmd), componentsNamespace: raw.componentsNamespace, dryRun: raw.dryRun, force: raw.force, timeoutMs: raw.timeout }, io);
    });
}
