/**
 * Reaching projectcalico.org/v3 CRD storage in API-server mode: while the aggregated APIService
 * is registered every v3 request goes to the Calico API server (live: answered from v1 storage;
 * unavailable: 503), so tests that need pre-existing v3 objects or want to inspect v3 storage
 * unregister it for the moment.
 */
import { CALICO_KINDS, CLUSTER_INFORMATION_V1, CLUSTER_INFORMATION_V3, v3Resource, kindByName, type CalicoKind } from "../../src/calico/kinds.js";
import { isAggregatedView } from "../../src/migration/v3-origin.js";
import type { KubeClient } from "../../src/kube/client.js";
import { isNotFound } from "../../src/kube/errors.js";
import type { KubeObject } from "../../src/kube/object.js";
import { withRetries } from "../../src/migration/write-retry.js";
import { APISERVICE, APISERVICE_NAME, calicoApiServerMode, registerApiService, waitApiServiceAvailable } from "./api-server-mode.js";
import { eventually } from "./eventually.js";

const TIERS = v3Resource(kindByName("Tier") as CalicoKind);

/** Waits until v3 requests reach the CRDs (the automanaged APIService answers a list). */
export async function waitV3Served(admin: KubeClient): Promise<void> {
  await eventually(async () => {
    await admin.list(TIERS, { limit: 1 });
  }, { timeoutMs: 60_000, message: "projectcalico.org/v3 served by the CRDs" });
}

/**
 * Waits until v3 requests go to the aggregated API again: unavailable, they answer 503; live, the
 * v3 ClusterInformation read is the Calico API server's view of the v1 one (its uid says so).
 */
export async function waitAggregated(admin: KubeClient): Promise<void> {
  const mode = await calicoApiServerMode(admin);
  if (mode === "live") await waitApiServiceAvailable(admin);
  await eventually(async () => {
    if (mode === "live") {
      const v1 = await admin.get(CLUSTER_INFORMATION_V1, "default").catch((err: unknown) => {
        if (isNotFound(err)) return undefined;
        throw err;
      });
      if (!v1) return; // nothing to tell the two apart by; the APIService is Available
      const v3 = await admin.get(CLUSTER_INFORMATION_V3, "default").catch(() => undefined);
      if (isAggregatedView(v3?.metadata.uid, v1.metadata.uid)) return;
      throw new Error("v3 still answered by CRD storage");
    }
    try {
      await admin.list(TIERS, { limit: 1 });
    } catch (err) {
      if ((err as { code?: number }).code === 503) return;
      throw err;
    }
    throw new Error("v3 still answered by CRD storage");
  }, { timeoutMs: 60_000, message: "projectcalico.org/v3 served by the aggregated API again" });
}

/**
 * Runs `fn` with projectcalico.org/v3 served by the CRDs: deletes the aggregated APIService,
 * waits until v3 is served from CRD storage, runs `fn`, then registers the APIService again
 * (taking over the automanaged one) and waits until it answers.
 */
export async function withV3Storage<T>(admin: KubeClient, fn: () => Promise<T>): Promise<T> {
  try {
    await admin.delete(APISERVICE, APISERVICE_NAME);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  await waitV3Served(admin);
  try {
    return await fn();
  } finally {
    await registerApiService(admin, await calicoApiServerMode(admin));
    await waitAggregated(admin);
  }
}

/**
 * Creates a v3 object (a migrated kind or ClusterInformation) in CRD storage (through v3 once the
 * APIService is unregistered, or through the pre-copy door before), riding out the transitional answers the server gives
 * right after the APIService was unregistered (admission policies resolving their paramKind).
 */
export async function createV3(admin: KubeClient, obj: KubeObject, version: "v3" | "v3migration" = "v3"): Promise<KubeObject> {
  const kind = kindByName(obj.kind ?? "");
  const v3 = obj.kind === "ClusterInformation" ? CLUSTER_INFORMATION_V3 : kind && v3Resource(kind);
  if (!v3) throw new Error(`unknown Calico kind ${obj.kind}`);
  // "v3migration": through the pre-copy door, while the aggregated APIService still shadows v3.
  const ref = { ...v3, version };
  return withRetries(() => admin.create(ref, { apiVersion: `projectcalico.org/${version}`, ...obj }));
}

/** Every v3 object of every migrated kind, listed from CRD storage (the APIService must be unregistered). */
export async function listAllV3(admin: KubeClient): Promise<KubeObject[]> {
  const out: KubeObject[] = [];
  for (const kind of CALICO_KINDS) {
    for (const o of await admin.listAll(v3Resource(kind))) out.push({ ...o, kind: kind.kind });
  }
  return out;
}
