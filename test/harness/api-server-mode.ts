/**
 * Puts a bare control plane into Calico "API server mode": real v1 and v3 CRDs and admission
 * policies from ../shared/calico, the aggregated APIService v3.projectcalico.org served by the
 * control plane's Calico API server (its Service `calico-api` and an EndpointSlice, reached through
 * the egress proxy; or, with `calicoApiServer: "unavailable"`, pointing at a Service that does not
 * exist), the calico-system components, and a ready v1 ClusterInformation.
 * Also resets such a cluster between tests without restarting it.
 */
import { closeDoor } from "../../src/migration/precopy-door.js";
import { CALICO_KINDS, CLUSTER_INFORMATION_V1, v1Resource, v3Resource, V1_GROUP, V3_GROUP } from "../../src/calico/kinds.js";
import type { KubeClient } from "../../src/kube/client.js";
import { Discovery } from "../../src/kube/discovery.js";
import { isAlreadyExists, isNotFound } from "../../src/kube/errors.js";
import type { KubeObject } from "../../src/kube/object.js";
import { collectionPath, type ResourceRef } from "../../src/kube/resource.js";
import { applyAll, CRD_RESOURCE, waitEstablished } from "./apply.js";
import { eventually } from "./eventually.js";
import { restoreApiService, savedForm } from "../../src/migration/apiservice.js";
import { loadShared, SHARED_FILES } from "./shared-manifests.js";
import { CALICO_SERVICE_IP, CALICO_SERVICE_PORT } from "./control-plane.js";

export const APISERVICE: ResourceRef = {
  group: "apiregistration.k8s.io", version: "v1", plural: "apiservices", namespaced: false, kind: "APIService",
};
export const APISERVICE_NAME = "v3.projectcalico.org";
export const COMPONENTS_NAMESPACE = "calico-system";
export const DAEMONSETS: ResourceRef = { group: "apps", version: "v1", plural: "daemonsets", namespaced: true, kind: "DaemonSet" };
export const DEPLOYMENTS: ResourceRef = { group: "apps", version: "v1", plural: "deployments", namespaced: true, kind: "Deployment" };
export const NAMESPACES: ResourceRef = { group: "", version: "v1", plural: "namespaces", namespaced: false, kind: "Namespace" };
export const INSTALLATIONS: ResourceRef = {
  group: "operator.tigera.io", version: "v1", plural: "installations", namespaced: false, kind: "Installation",
};
const VAP_BINDING: ResourceRef = {
  group: "admissionregistration.k8s.io", version: "v1", plural: "validatingadmissionpolicybindings", namespaced: false, kind: "ValidatingAdmissionPolicyBinding",
};

/** What to install. */
export interface ApiServerModeOptions {
  /** Install the v3 CRDs (default true). */
  v3Crds?: boolean;
  /** Install Calico's admission policies, at whichever MAP version the server serves (default true). */
  admissionPolicies?: boolean;
  /** Register the aggregated APIService (default true). */
  apiService?: boolean;
  /** Create calico-system with calico-node, calico-typha and calico-kube-controllers (default true). */
  components?: boolean;
  /** Create an operator.tigera.io Installation `default` (default false: a manifest install). */
  operatorManaged?: boolean;
  /** Create v1 ClusterInformation `default` with datastoreReady true (default true). */
  clusterInformation?: boolean;
  /**
   * "live" (default): the APIService is served by the control plane's Calico API server and is
   * Available; "unavailable": it points at a Service that does not exist (every v3 request 503s).
   */
  calicoApiServer?: CalicoApiServerMode;
}

/** Whether the aggregated API answers. */
export type CalicoApiServerMode = "live" | "unavailable";

export const CALICO_API_NAMESPACE = "calico-apiserver";
const SERVICES: ResourceRef = { group: "", version: "v1", plural: "services", namespaced: true, kind: "Service" };
const ENDPOINT_SLICES: ResourceRef = { group: "discovery.k8s.io", version: "v1", plural: "endpointslices", namespaced: true, kind: "EndpointSlice" };

/** Which MAP API version the server serves: "v1", "v1beta1" or null. */
export async function servedMapVersion(discovery: Discovery): Promise<"v1" | "v1beta1" | null> {
  if (await discovery.serves("admissionregistration.k8s.io/v1", "mutatingadmissionpolicies")) return "v1";
  if (await discovery.serves("admissionregistration.k8s.io/v1beta1", "mutatingadmissionpolicies")) return "v1beta1";
  return null;
}

/** The Calico admission policies for this server: the bundle's (v1) or ../shared/calico/admission (v1beta1). */
export async function calicoAdmissionPolicies(discovery: Discovery): Promise<KubeObject[]> {
  const version = await servedMapVersion(discovery);
  const bundle = loadShared(SHARED_FILES.v3Bundle).filter((o) => o.kind !== "CustomResourceDefinition");
  if (version === "v1") return bundle;
  const vaps = bundle.filter((o) => o.kind?.startsWith("ValidatingAdmissionPolicy"));
  if (version === "v1beta1") return [...loadShared(SHARED_FILES.admissionDir).filter((o) => o.kind?.startsWith("Mutating")), ...vaps];
  return vaps;
}

/** The v3 CRDs of the bundle (projectcalico.org only). */
export function v3Crds(): KubeObject[] {
  return loadShared(SHARED_FILES.v3Bundle).filter(
    (o) => o.kind === "CustomResourceDefinition" && (o.spec as { group: string }).group === V3_GROUP,
  );
}

/** The aggregated APIService as Calico's API server manifest defines it. */
export function aggregatedApiService(): KubeObject {
  const svc = loadShared(SHARED_FILES.apiserver).find((o) => o.kind === "APIService");
  if (!svc) throw new Error(`no APIService in ${SHARED_FILES.apiserver}`);
  return svc;
}

/** Installs API-server mode on an empty control plane. */
export async function installApiServerMode(client: KubeClient, options: ApiServerModeOptions = {}): Promise<void> {
  const discovery = new Discovery(client);
  const v1Bundle = loadShared(SHARED_FILES.v1Crds);
  await applyAll(client, discovery, v1Bundle);
  await waitEstablished(client, v1Bundle.map((c) => c.metadata.name ?? ""));
  // The APIService goes in before the v3 CRDs, as on a real cluster: otherwise Kubernetes
  // registers an automanaged APIService for the CRDs first.
  const mode = options.calicoApiServer ?? "live";
  if (mode === "live") await installCalicoApiService(client);
  else await removeCalicoApiService(client);
  if (options.apiService ?? true) await registerApiService(client, mode);
  if (options.v3Crds ?? true) {
    const crds = v3Crds();
    await applyAll(client, discovery, crds);
    // While the aggregated APIService is registered, v3 requests never reach CRD storage.
    await waitEstablished(client, crds.map((c) => c.metadata.name ?? ""), { storage: !(options.apiService ?? true) });
  }
  discovery.reset();
  if (options.admissionPolicies ?? true) await applyAll(client, discovery, await calicoAdmissionPolicies(discovery));
  if (options.components ?? true) await installComponents(client);
  if (options.operatorManaged) await createIgnoringExists(client, INSTALLATIONS, { apiVersion: "operator.tigera.io/v1", kind: "Installation", metadata: { name: "default" }, spec: {} });
  if (options.clusterInformation ?? true) await seedClusterInformation(client);
  if ((options.apiService ?? true) && mode === "live") await waitApiServiceAvailable(client);
}

/**
 * Registers (or restores) the aggregated APIService as a user-managed one. Live: with the cluster
 * CA (which signed the Calico API server's certificate) as its caBundle.
 */
export async function registerApiService(client: KubeClient, mode: CalicoApiServerMode = "live"): Promise<void> {
  const svc = aggregatedApiService();
  if (mode === "live" && client.config.ca) {
    svc.spec = { ...(svc.spec as object), caBundle: Buffer.from(client.config.ca).toString("base64") };
  }
  await restoreApiService(client, savedForm(svc));
}

/** Which mode the cluster is in: live when the Calico API server's Service exists. */
export async function calicoApiServerMode(client: KubeClient): Promise<CalicoApiServerMode> {
  try {
    await client.get(SERVICES, "calico-api", CALICO_API_NAMESPACE);
    return "live";
  } catch (err) {
    if (isNotFound(err)) return "unavailable";
    throw err;
  }
}

/** Waits until the aggregator calls the APIService Available (its backend answers discovery). */
export async function waitApiServiceAvailable(client: KubeClient, timeoutMs = 60_000): Promise<void> {
  await eventually(async () => {
    const svc = await client.get(APISERVICE, APISERVICE_NAME);
    const available = ((svc.status as { conditions?: { type: string; status: string; message?: string }[] } | undefined)?.conditions ?? []).find((c) => c.type === "Available");
    if (available?.status !== "True") throw new Error(`APIService ${APISERVICE_NAME} not Available: ${available?.message ?? "no condition yet"}`);
  }, { timeoutMs, intervalMs: 250, message: `APIService ${APISERVICE_NAME} Available` });
}

/**
 * The Calico API server's Service and EndpointSlice, as its Deployment would have them. The
 * endpoint address is from TEST-NET-1 and never dialled: kube-apiserver dials the Service's
 * cluster IP, and only through the egress proxy, which maps it to the stand-in on 127.0.0.1.
 */
export async function installCalicoApiService(client: KubeClient): Promise<void> {
  await createIgnoringExists(client, NAMESPACES, { apiVersion: "v1", kind: "Namespace", metadata: { name: CALICO_API_NAMESPACE } });
  // Get first: a create of an existing Service fails on its cluster IP (422) before its name (409).
  const existing = await client.get(SERVICES, "calico-api", CALICO_API_NAMESPACE).catch((err: unknown) => {
    if (isNotFound(err)) return undefined;
    throw err;
  });
  if (!existing) await eventually(() => createIgnoringExists(client, SERVICES, {
    apiVersion: "v1", kind: "Service", metadata: { name: "calico-api", namespace: CALICO_API_NAMESPACE },
    spec: { clusterIP: CALICO_SERVICE_IP, ports: [{ name: "apiserver", port: CALICO_SERVICE_PORT, protocol: "TCP", targetPort: 5443 }], selector: { apiserver: "true" }, type: "ClusterIP" },
  }), { timeoutMs: 60_000, message: "create Service calico-api (its cluster IP is released a moment after a deletion)" });
  await createIgnoringExists(client, ENDPOINT_SLICES, {
    apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice",
    metadata: { name: "calico-api-standin", namespace: CALICO_API_NAMESPACE, labels: { "kubernetes.io/service-name": "calico-api" } },
    addressType: "IPv4",
    endpoints: [{ addresses: ["192.0.2.10"], conditions: { ready: true } }],
    ports: [{ name: "apiserver", port: 5443, protocol: "TCP" }],
  });
}

/** Removes the Service so the APIService has no backend (the unavailable mode). */
export async function removeCalicoApiService(client: KubeClient): Promise<void> {
  await deleteIgnoringMissing(client, SERVICES, "calico-api", CALICO_API_NAMESPACE);
  await deleteIgnoringMissing(client, ENDPOINT_SLICES, "calico-api-standin", CALICO_API_NAMESPACE);
}

/** The v1 ClusterInformation `default`, ready, as calico-node creates it. */
export async function seedClusterInformation(client: KubeClient, datastoreReady = true): Promise<KubeObject> {
  // ClusterInformation is not a migrated kind; calico-node writes it through the same CRD backend.
  const obj: KubeObject = {
    apiVersion: `${V1_GROUP}/v1`,
    kind: "ClusterInformation",
    metadata: { name: "default", annotations: { "projectcalico.org/metadata": JSON.stringify({ creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, "Z") }) } },
    spec: { clusterGUID: "5d2fbc3e9c2a4c1f8d2f4c1a6b7e8f90", clusterType: "k8s,bgp,kdd", calicoVersion: "v3.31.2", datastoreReady },
  };
  return createIgnoringExists(client, CLUSTER_INFORMATION_V1, obj);
}

/** Namespace calico-system with calico-node, calico-typha and calico-kube-controllers (no kubelet runs them). */
export async function installComponents(client: KubeClient, namespace = COMPONENTS_NAMESPACE): Promise<void> {
  await createIgnoringExists(client, NAMESPACES, { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
  const podTemplate = (app: string, image: string, init = false) => ({
    metadata: { labels: { "k8s-app": app } },
    spec: {
      ...(init ? { initContainers: [{ name: "install-cni", image: "calico/cni:v3.31.2", env: [{ name: "CNI_NET_DIR", value: "/etc/cni/net.d" }] }] } : {}),
      containers: [{ name: app, image, env: [{ name: "DATASTORE_TYPE", value: "kubernetes" }] }],
    },
  });
  const selector = (app: string) => ({ matchLabels: { "k8s-app": app } });
  await createIgnoringExists(client, DAEMONSETS, {
    apiVersion: "apps/v1", kind: "DaemonSet", metadata: { name: "calico-node", namespace },
    spec: { selector: selector("calico-node"), template: podTemplate("calico-node", "calico/node:v3.31.2", true) },
  });
  for (const [name, image] of [["calico-typha", "calico/typha:v3.31.2"], ["calico-kube-controllers", "calico/kube-controllers:v3.31.2"]] as const) {
    await createIgnoringExists(client, DEPLOYMENTS, {
      apiVersion: "apps/v1", kind: "Deployment", metadata: { name, namespace },
      spec: { replicas: 1, selector: selector(name), template: podTemplate(name, image) },
    });
  }
}

/**
 * Returns a shared cluster to a fresh API-server mode: every DatastoreMigration (finalizers
 * removed), every v1 and v3 Calico object, components and Installation go; then the fixtures are
 * installed again. v3 storage is reached by unregistering the APIService for the moment.
 */
export async function resetApiServerMode(client: KubeClient, options: ApiServerModeOptions = {}): Promise<void> {
  const dm: ResourceRef = { group: "migration.projectcalico.org", version: "v1", plural: "datastoremigrations", namespaced: false, kind: "DatastoreMigration" };
  try {
    for (const cr of await client.listAll(dm)) {
      if (cr.metadata.finalizers?.length) await client.patch(dm, cr.metadata.name ?? "", { metadata: { finalizers: null } }, "merge");
      await deleteIgnoringMissing(client, dm, cr.metadata.name ?? "");
    }
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  await deleteForeignDependents(client);
  await deleteIgnoringMissing(client, APISERVICE, APISERVICE_NAME);
  await deleteIgnoringMissing(client, VAP_BINDING, "protect-builtin-tiers.projectcalico.org");
  // A pre-copy door an earlier test's migration left open (it is removed only on the way to
  // Complete or by a restore): the next suite starts from the v3 CRDs as installed.
  await closeDoor(client);
  const discovery = new Discovery(client);
  await eventually(async () => {
    discovery.reset();
    if (!(await discovery.serves(`${V3_GROUP}/v3`, "tiers"))) throw new Error("v3 CRDs not served yet");
  }, { timeoutMs: 30_000, message: "v3 CRDs served after unregistering the APIService" });
  const refs = [...CALICO_KINDS.flatMap((c) => [v1Resource(c), v3Resource(c)]), CLUSTER_INFORMATION_V1, { ...CLUSTER_INFORMATION_V1, group: V3_GROUP, version: "v3" }];
  // The protect-builtin-tiers binding's removal reaches the admission plugin a moment later.
  await eventually(async () => {
    for (const ref of refs) await deleteCollection(client, ref);
  }, { timeoutMs: 30_000, message: "delete Calico objects" });
  for (const ref of [DAEMONSETS, DEPLOYMENTS]) {
    try {
      await client.request("DELETE", `/apis/apps/v1/namespaces/${COMPONENTS_NAMESPACE}/${ref.plural}`);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  try {
    await client.request("DELETE", "/apis/operator.tigera.io/v1/installations");
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  await eventually(async () => {
    for (const ref of refs) {
      // A kind whose CRD is gone (deleted after Complete) has no objects left either.
      const left = await client.list(ref, { limit: 1 }).then((l) => l.items.length, (err: unknown) => {
        if (isNotFound(err)) return 0;
        throw err;
      });
      if (left) throw new Error(`${ref.group}/${ref.plural} not empty yet`);
    }
  }, { timeoutMs: 60_000, message: "Calico objects deleted" });
  await waitCrdDeletionsFinished(client);
  await installApiServerMode(client, options);
}

/** Tests may delete CRDs (cleanup after Complete); installing again must wait until those are gone. */
async function waitCrdDeletionsFinished(client: KubeClient): Promise<void> {
  await eventually(async () => {
    const terminating = (await client.listAll(CRD_RESOURCE)).filter((c) => c.metadata.deletionTimestamp);
    // A CRD deleted right after it was created (the validation's scratch copies) often fails its
    // first cleanup while its storage initialises, and apiextensions then backs off for minutes;
    // an annotation write requeues the cleanup at once.
    for (const c of terminating) {
      await client.patch(CRD_RESOURCE, c.metadata.name ?? "", { metadata: { annotations: { "migration.projectcalico.org/requeue-cleanup": String(Date.now()) } } }, "merge").catch(() => undefined);
    }
    if (terminating.length) throw new Error(`CRD deletion in progress: ${terminating.map((c) => c.metadata.name).join(", ")}`);
  }, { timeoutMs: 120_000, intervalMs: 1000, message: "CRD deletions finished" });
}

/**
 * Tests make ConfigMaps owned by Calico objects (and the migration marks them); the next suite
 * must not find them. They go with the rest of the Calico data.
 */
async function deleteForeignDependents(client: KubeClient): Promise<void> {
  const configmaps: ResourceRef = { group: "", version: "v1", plural: "configmaps", namespaced: true, kind: "ConfigMap" };
  for await (const cm of client.listItems(configmaps, { metadataOnly: true })) {
    const calicoOwned = (cm.metadata.ownerReferences ?? []).some((r) => r.apiVersion.includes("projectcalico.org"));
    const marked = Object.keys(cm.metadata.annotations ?? {}).some((k) => k.startsWith("migration.projectcalico.org/"));
    if (calicoOwned || marked) await deleteIgnoringMissing(client, configmaps, cm.metadata.name ?? "", cm.metadata.namespace);
  }
}

/** Deletes every object of a resource: one deletecollection per namespace for namespaced kinds. */
async function deleteCollection(client: KubeClient, ref: ResourceRef): Promise<void> {
  try {
    if (!ref.namespaced) {
      await client.request("DELETE", collectionPath(ref));
      return;
    }
    const namespaces = new Set<string>();
    for await (const item of client.listItems(ref, { metadataOnly: true })) namespaces.add(item.metadata.namespace ?? "");
    for (const ns of namespaces) await client.request("DELETE", collectionPath(ref, ns));
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

async function createIgnoringExists(client: KubeClient, ref: ResourceRef, obj: KubeObject): Promise<KubeObject> {
  try {
    return await client.create(ref, obj);
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    return client.get(ref, obj.metadata.name ?? "", obj.metadata.namespace);
  }
}

async function deleteIgnoringMissing(client: KubeClient, ref: ResourceRef, name: string, namespace?: string): Promise<void> {
  try {
    await client.delete(ref, name, namespace);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/**
 * Runs `fn` while the v1 CRD of `plural` has no CEL rules, so a test can store an object that an
 * older Calico accepted and today's schema refuses (real clusters carry such objects: the rules
 * are not retroactive). The CRD is restored afterwards.
 */
export async function withoutV1Validation<T>(client: KubeClient, plural: string, fn: () => Promise<T>): Promise<T> {
  const name = `${plural}.${V1_GROUP}`;
  const original = await client.get(CRD_RESOURCE, name);
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).filter(([k]) => k !== "x-kubernetes-validations").map(([k, x]) => [k, strip(x)]));
    return v;
  };
  await client.update(CRD_RESOURCE, { ...original, spec: strip(original.spec) });
  try {
    return await eventually(fn, { timeoutMs: 30_000, message: `write to ${name} without its CEL rules` });
  } finally {
    const current = await client.get(CRD_RESOURCE, name);
    await client.update(CRD_RESOURCE, { ...current, spec: original.spec });
  }
}
