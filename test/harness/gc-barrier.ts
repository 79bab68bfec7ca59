/**
 * A garbage-collector barrier: a canary ConfigMap owned by an object that does not exist, which
 * the collector must delete. Once it is gone the collector runs and has processed the changes
 * made before the canary, so "nothing else was collected" can be checked without a sleep.
 */
import type { KubeClient } from "../../src/kube/client.js";
import { isAlreadyExists, isNotFound } from "../../src/kube/errors.js";
import { eventually } from "./eventually.js";

const CONFIGMAPS = { group: "", version: "v1", plural: "configmaps", namespaced: true, kind: "ConfigMap" } as const;

/** Creates the canary in `namespace` and waits until the garbage collector has deleted it. */
export async function gcBarrier(admin: KubeClient, namespace = "default", timeoutMs = 90_000): Promise<void> {
  const name = `gc-canary-${Date.now().toString(36)}`;
  try {
    await admin.create(CONFIGMAPS, {
      apiVersion: "v1", kind: "ConfigMap",
      metadata: { name, namespace, ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "no-such-owner", uid: "00000000-0000-4000-8000-00000000dead" }] },
    });
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
  await eventually(async () => {
    try {
      await admin.get(CONFIGMAPS, name, namespace);
      return false;
    } catch (err) {
      return isNotFound(err);
    }
  }, { timeoutMs, intervalMs: 250, message: "the garbage collector deleting its canary" });
}
