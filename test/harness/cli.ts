/**
 * Helpers for the calico-migrate tests: an in-memory CliIo that captures output, the real binary
 * spawned through tsx, and v1 objects that today's v1 CRD rules would reject (written by older
 * releases, before the rules existed).
 */
import { spawn } from "node:child_process";
import path from "node:path";
import type { CliIo } from "../../src/cli/io.js";
import { kindByName, V1_GROUP } from "../../src/calico/kinds.js";
import type { KubeClient } from "../../src/kube/client.js";
import type { KubeObject } from "../../src/kube/object.js";
import { CRDS } from "../../src/migration/prerequisites.js";
import { repoRoot } from "./binaries.js";
import { eventually } from "./eventually.js";
import assert from "node:assert/strict";
import { COMPONENTS_NAMESPACE, DAEMONSETS, DEPLOYMENTS } from "./api-server-mode.js";
import type { ResourceRef } from "../../src/kube/resource.js";
import type { TestCluster } from "./shared-cluster.js";

/** A CliIo writing into strings. */
export interface CapturedIo extends CliIo {
  out(): string;
  err(): string;
}

/** Captures stdout and stderr; not a TTY unless asked, and answers confirmations with `answer`. */
export function captureIo(options: { isTTY?: boolean; answer?: boolean; env?: Record<string, string> } = {}): CapturedIo {
  let out = "";
  let err = "";
  return {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    isTTY: options.isTTY ?? false,
    now: () => Date.now(),
    env: options.env ?? {},
    confirm: () => Promise.resolve(options.answer ?? false),
    out: () => out,
    err: () => err,
  };
}

/** The outcome of running the real binary. */
export interface SpawnResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node --import tsx src/cli/main.ts ...args` with the given kubeconfig. */
export function spawnCli(args: readonly string[], env: Record<string, string> = {}): Promise<SpawnResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(repoRoot, "src/cli/main.ts"), ...args], {
      cwd: repoRoot,
      env: { ...process.env, NO_COLOR: "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

function stripValidations(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripValidations);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).filter(([k]) => k !== "x-kubernetes-validations").map(([k, v]) => [k, stripValidations(v)]));
  }
  return value;
}

/**
 * Writes a v1 object the v1 CRD's CEL rules reject today, as an older Calico release could: the
 * rules are lifted from the CRD for the create and put back afterwards.
 */
export async function writeLegacyV1(admin: KubeClient, v3Kind: string, write: () => Promise<KubeObject>): Promise<KubeObject> {
  const kind = kindByName(v3Kind);
  if (!kind) throw new Error(`unknown kind ${v3Kind}`);
  const name = `${kind.v1Plural}.${V1_GROUP}`;
  const original = await admin.get(CRDS, name);
  await admin.update(CRDS, { ...original, spec: stripValidations(original.spec) });
  try {
    // The API server picks up the new schema asynchronously.
    return await eventually(write, { timeoutMs: 30_000, message: `creating a legacy ${v3Kind}` });
  } finally {
    const current = await admin.get(CRDS, name);
    await admin.update(CRDS, { ...current, spec: original.spec });
  }
}

/** Plays the DaemonSet/Deployment controllers and kubelet: once the env var is set everywhere, the rollout is done. */
export async function completeRollouts(cluster: Pick<TestCluster, "admin">): Promise<void> {
  const all: [ResourceRef, string][] = [[DAEMONSETS, "calico-node"], [DEPLOYMENTS, "calico-typha"], [DEPLOYMENTS, "calico-kube-controllers"]];
  for (const [ref, name] of all) {
    const obj = await eventually(async () => {
      const o = await cluster.admin.get(ref, name, COMPONENTS_NAMESPACE);
      const spec = (o.spec as { template: { spec: { containers: { env?: { name: string; value?: string }[] }[]; initContainers?: { env?: { name: string; value?: string }[] }[] } } }).template.spec;
      const all = [...spec.containers, ...(spec.initContainers ?? [])];
      assert.ok(all.every((c) => c.env?.some((e) => e.name === "CALICO_API_GROUP" && e.value === "projectcalico.org/v3")), `${name} switched`);
      return o;
    }, { timeoutMs: 60_000, message: `${name} patched` });
    const generation = obj.metadata.generation;
    const status = ref === DAEMONSETS
      ? { observedGeneration: generation, desiredNumberScheduled: 1, currentNumberScheduled: 1, updatedNumberScheduled: 1, numberAvailable: 1, numberReady: 1, numberMisscheduled: 0 }
      : { observedGeneration: generation, replicas: 1, updatedReplicas: 1, availableReplicas: 1, readyReplicas: 1 };
    await cluster.admin.update(ref, { ...obj, status }, { subresource: "status" });
  }
}

