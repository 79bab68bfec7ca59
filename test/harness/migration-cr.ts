/**
 * The DatastoreMigration CR and the cluster state around it, as the controller scenario tests
 * observe them: create/read/wait for the CR, its Events, the phases it went through, the datastore
 * lock and the APIService, and simulated component rollouts.
 */
import assert from "node:assert/strict";
import { MIGRATION_NAME, migrationResource, Names, type DatastoreMigration, type MigrationVersion } from "../../src/api/datastore-migration.js";
import { CLUSTER_INFORMATION_V1 } from "../../src/calico/kinds.js";
import type { KubeClient } from "../../src/kube/client.js";
import { isNotFound } from "../../src/kube/errors.js";
import type { KubeObject } from "../../src/kube/object.js";
import { Discovery } from "../../src/kube/discovery.js";
import { APISERVICE, APISERVICE_NAME, COMPONENTS_NAMESPACE, DAEMONSETS, DEPLOYMENTS } from "./api-server-mode.js";
import { applyAll, waitEstablished } from "./apply.js";
import { loadManifests } from "./controller.js";
import { eventually } from "./eventually.js";
import { completeRollouts } from "./rollout-simulator.js";

/** Events (core/v1); the controller records them in namespace default. */
export const EVENTS = { group: "", version: "v1", plural: "events", namespaced: true, kind: "Event" } as const;
export const CONFIGMAPS = { group: "", version: "v1", plural: "configmaps", namespaced: true, kind: "ConfigMap" } as const;

type TypeSchema = { enum?: unknown; "x-kubernetes-validations"?: unknown };
type CrdVersions = { spec: { versions: { schema: { openAPIV3Schema: { properties: { spec: { properties: { type: TypeSchema } } } } } }[] } };

/**
 * Installs our DatastoreMigration CRD without the enum and the immutability rule of spec.type, so
 * that a test can make the type invalid on a running migration (a terminal error at any phase);
 * installControllerManifests puts the real one back.
 */
export async function installRelaxedTypeCrd(admin: KubeClient): Promise<void> {
  const relaxed = structuredClone(loadManifests("crd")[0]!) as KubeObject & CrdVersions;
  for (const v of relaxed.spec.versions) {
    const type = v.schema.openAPIV3Schema.properties.spec.properties.type;
    delete type.enum;
    delete type["x-kubernetes-validations"];
  }
  await applyAll(admin, new Discovery(admin), [relaxed]);
  await waitEstablished(admin, [relaxed.metadata.name ?? ""]);
}

/** Makes spec.type invalid (needs installRelaxedTypeCrd): the controller's next reconcile fails terminally. */
export async function makeTypeInvalid(admin: KubeClient): Promise<void> {
  await admin.patch(migrationResource("v1"), MIGRATION_NAME, { spec: { type: "Bogus" } }, "merge");
}

/** How to create a CR. */
export interface CreateOptions {
  name?: string;
  version?: MigrationVersion;
  type?: string;
  annotations?: Record<string, string>;
}

/** Creates a DatastoreMigration (default: v1-to-v3, APIServerToCRDs, through v1). */
export async function createMigration(admin: KubeClient, options: CreateOptions = {}): Promise<DatastoreMigration> {
  const version = options.version ?? "v1";
  const metadata: KubeObject["metadata"] = { name: options.name ?? MIGRATION_NAME };
  if (options.annotations) metadata.annotations = options.annotations;
  const created = await admin.create(migrationResource(version), {
    apiVersion: `migration.projectcalico.org/${version}`, kind: "DatastoreMigration", metadata, spec: { type: options.type ?? "APIServerToCRDs" },
  });
  return created as unknown as DatastoreMigration;
}

/** The CR, or undefined when it does not exist. */
export async function getMigration(admin: KubeClient, name = MIGRATION_NAME, version: MigrationVersion = "v1"): Promise<DatastoreMigration | undefined> {
  try {
    return (await admin.get(migrationResource(version), name)) as unknown as DatastoreMigration;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Waits until `check` passes on the CR and returns it. */
export async function waitMigration(
  admin: KubeClient,
  check: (dm: DatastoreMigration) => void,
  options: { timeoutMs?: number; message?: string; name?: string; version?: MigrationVersion } = {},
): Promise<DatastoreMigration> {
  return eventually(async () => {
    const dm = await getMigration(admin, options.name, options.version);
    assert.ok(dm, "the DatastoreMigration exists");
    check(dm);
    return dm;
  }, { timeoutMs: options.timeoutMs ?? 120_000, message: options.message ?? "DatastoreMigration state" });
}

/** Waits for a phase (the message is shown when it does not come). */
export async function waitPhase(admin: KubeClient, phase: string, options: { timeoutMs?: number; name?: string; version?: MigrationVersion } = {}): Promise<DatastoreMigration> {
  return waitMigration(admin, (dm) => assert.equal(dm.status?.phase, phase, `phase (message: ${dm.status?.message})`), { ...options, message: `phase ${phase}` });
}

/** Waits until the CR is gone. */
export async function waitGone(admin: KubeClient, name = MIGRATION_NAME, timeoutMs = 120_000, version: MigrationVersion = "v1"): Promise<void> {
  await eventually(async () => {
    const dm = await getMigration(admin, name, version);
    assert.equal(dm, undefined, `DatastoreMigration ${name} still exists (phase ${dm?.status?.phase}, message: ${dm?.status?.message})`);
  }, { timeoutMs, message: `DatastoreMigration ${name} gone` });
}

/** Deletes the CR (its finalizer then runs) and waits until it is gone. */
export async function deleteMigration(admin: KubeClient, name = MIGRATION_NAME, version: MigrationVersion = "v1"): Promise<void> {
  try {
    await admin.delete(migrationResource(version), name);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  await waitGone(admin, name, 120_000, version);
}

/** Events about one CR (by uid), optionally of one reason, oldest first. */
export async function eventsFor(admin: KubeClient, dm: DatastoreMigration, reason?: string): Promise<{ type: string; reason: string; message: string }[]> {
  const selector = [`involvedObject.uid=${dm.metadata.uid}`, ...(reason ? [`reason=${reason}`] : [])].join(",");
  const events = await admin.listAll(EVENTS, { namespace: "default", fieldSelector: selector });
  return (events as unknown as { type: string; reason: string; message: string; firstTimestamp?: string }[])
    .sort((a, b) => (a.firstTimestamp ?? "").localeCompare(b.firstTimestamp ?? ""));
}

/** Waits for an Event of `reason` about the CR and returns it. */
export async function waitEvent(admin: KubeClient, dm: DatastoreMigration, reason: string, timeoutMs = 60_000): Promise<{ type: string; reason: string; message: string }> {
  return eventually(async () => {
    const [event] = await eventsFor(admin, dm, reason);
    assert.ok(event, `an Event with reason ${reason}`);
    return event;
  }, { timeoutMs, message: `Event ${reason}` });
}

/** Every phase the CR is seen in from now on (a watch sees each write), de-duplicated in order. */
export interface PhaseRecorder {
  readonly phases: string[];
  /** Waits until the watch has delivered `phase` (a poll may see it first). */
  until(phase: string): Promise<void>;
  stop(): Promise<void>;
}

/** Starts recording the phases of `v1-to-v3`. */
export async function recordPhases(admin: KubeClient, name = MIGRATION_NAME): Promise<PhaseRecorder> {
  const phases: string[] = [];
  const abort = new AbortController();
  const ref = migrationResource("v1");
  const list = await admin.list(ref, { fieldSelector: `metadata.name=${name}` });
  const push = (phase: string | undefined) => {
    if (phase && phases[phases.length - 1] !== phase) phases.push(phase);
  };
  for (const item of list.items) push((item as unknown as DatastoreMigration).status?.phase);
  const run = (async () => {
    let rv = list.metadata.resourceVersion;
    while (!abort.signal.aborted) {
      try {
        for await (const ev of admin.watch(ref, { resourceVersion: rv, fieldSelector: `metadata.name=${name}`, signal: abort.signal, timeoutSeconds: 60 })) {
          rv = ev.object.metadata.resourceVersion ?? rv;
          if (ev.type !== "BOOKMARK") push((ev.object as unknown as DatastoreMigration).status?.phase);
        }
      } catch {
        if (abort.signal.aborted) return;
      }
    }
  })();
  return {
    phases,
    until: async (phase) => {
      await eventually(() => phases.includes(phase), { timeoutMs: 30_000, message: `the phase watch delivering ${phase}` });
    },
    stop: async () => {
      abort.abort();
      await run;
    },
  };
}

/** v1 ClusterInformation `default`: its datastoreReady flag and locked-by annotation. */
export async function v1Lock(admin: KubeClient): Promise<{ ready: boolean | undefined; lockedBy: string | undefined }> {
  const ci = await admin.get(CLUSTER_INFORMATION_V1, "default");
  return { ready: (ci.spec as { datastoreReady?: boolean }).datastoreReady, lockedBy: ci.metadata.annotations?.[Names.lockedBy] };
}

/** The APIService v3.projectcalico.org, or undefined. */
export async function getApiService(admin: KubeClient): Promise<KubeObject | undefined> {
  try {
    return await admin.get(APISERVICE, APISERVICE_NAME);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Asserts that the Calico API server's APIService is registered (user-managed, with its service). */
export async function assertAggregatedApiService(admin: KubeClient): Promise<KubeObject> {
  const svc = await getApiService(admin);
  assert.ok(svc, "APIService v3.projectcalico.org exists");
  assert.equal(svc.metadata.labels?.["kube-aggregator.kubernetes.io/automanaged"], undefined, "the APIService is not automanaged");
  assert.deepEqual((svc.spec as { service?: unknown }).service, { name: "calico-api", namespace: "calico-apiserver", port: 443 });
  return svc;
}

/** Asserts that no aggregated APIService is registered (absent, or the automanaged one for the CRDs). */
export async function assertApiServiceUnregistered(admin: KubeClient): Promise<void> {
  const svc = await getApiService(admin);
  if (svc) assert.equal(svc.metadata.labels?.["kube-aggregator.kubernetes.io/automanaged"], "true", "only the automanaged APIService may exist");
}

type Component = "calico-node" | "calico-typha" | "calico-kube-controllers";
const COMPONENT_REFS = { "calico-node": DAEMONSETS, "calico-typha": DEPLOYMENTS, "calico-kube-controllers": DEPLOYMENTS } as const;

/** Sets CALICO_API_GROUP=projectcalico.org/v3 on a component's containers (its rollout does not finish). */
export async function setV3ApiGroup(admin: KubeClient, name: Component): Promise<KubeObject> {
  const ref = COMPONENT_REFS[name];
  const obj = await admin.get(ref, name, COMPONENTS_NAMESPACE);
  const spec = obj.spec as { template: { spec: { containers: { env?: { name: string; value: string }[] }[] } } };
  for (const c of spec.template.spec.containers) {
    if (!c.env?.some((e) => e.name === "CALICO_API_GROUP")) c.env = [...(c.env ?? []), { name: "CALICO_API_GROUP", value: "projectcalico.org/v3" }];
  }
  return admin.update(ref, obj);
}

/** Switches every component to the v3 API group and finishes its rollout, as kubelets would. */
export async function switchAllComponents(admin: KubeClient): Promise<void> {
  for (const name of Object.keys(COMPONENT_REFS) as Component[]) await setV3ApiGroup(admin, name);
  await completeRollouts(admin, COMPONENTS_NAMESPACE);
}
