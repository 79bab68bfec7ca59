/**
 * Applies manifests the way `kubectl apply --server-side --force-conflicts` does, and waits for CRDs.
 */
import type { KubeClient } from "../../src/kube/client.js";
import type { Discovery } from "../../src/kube/discovery.js";
import type { KubeObject } from "../../src/kube/object.js";
import { eventually } from "./eventually.js";

export const CRD_RESOURCE = {
  group: "apiextensions.k8s.io", version: "v1", plural: "customresourcedefinitions", namespaced: false, kind: "CustomResourceDefinition",
} as const;

/** Server-side applies each object (field manager `calico-migration-tests`). */
export async function applyAll(client: KubeClient, discovery: Discovery, objects: KubeObject[]): Promise<void> {
  for (const obj of objects) {
    const ref = await discovery.resourceFor(obj.apiVersion ?? "", obj.kind ?? "");
    const name = obj.metadata.name ?? "";
    await client.patch(ref, name, obj, "apply", ref.namespaced ? obj.metadata.namespace : undefined, {
      fieldManager: "calico-migration-tests",
      force: true,
    });
  }
}

/** Waits until every named CRD reports Established and (unless storage is false, e.g. for a group an APIService shadows) its storage answers a list. */
export async function waitEstablished(
  client: KubeClient,
  names: string[],
  { timeoutMs = 60_000, storage = true }: { timeoutMs?: number; storage?: boolean } = {},
): Promise<void> {
  await eventually(
    async () => {
      for (const name of names) {
        const crd = await client.get(CRD_RESOURCE, name);
        const conds = ((crd.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions) ?? [];
        if (!conds.some((c) => c.type === "Established" && c.status === "True")) throw new Error(`CRD ${name} not Established`);
        if (!storage) continue;
        // Established comes before the storage is initialised (429 "storage is (re)initializing").
        const spec = crd.spec as { group: string; names: { plural: string }; versions: { name: string; served: boolean }[] };
        const version = spec.versions.find((v) => v.served)?.name ?? "";
        await client.request("GET", `/apis/${spec.group}/${version}/${spec.names.plural}`, { query: { limit: 1 } });
      }
    },
    { timeoutMs, message: "CRDs established" },
  );
}
