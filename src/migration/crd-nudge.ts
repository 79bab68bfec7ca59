/**
 * A deleted CRD whose first cleanup attempt failed ("storage is (re)initializing", common right
 * after it was created or while the API server is busy) is retried by apiextensions with a growing
 * back-off, for minutes (projectcalico/calico#13677). Any write to the terminating CRD requeues
 * its cleanup at once: an annotation with the time is enough.
 */
import type { Clock } from "../kube/clock.js";
import type { KubeClient } from "../kube/client.js";
import type { KubeObject } from "../kube/object.js";
import { CRDS } from "./prerequisites.js";

/** Written on a terminating CRD to requeue its cleanup. */
export const REQUEUE_ANNOTATION = "migration.projectcalico.org/requeue-cleanup";

/**
 * Nudges a terminating CRD once it has been terminating for `afterMs` (0: at once). Returns true
 * if it wrote; failures are ignored (the next poll tries again, and the back-off ends anyway).
 */
export async function nudgeTerminatingCrd(client: KubeClient, crd: KubeObject, clock: Clock, afterMs = 0): Promise<boolean> {
  const since = Date.parse(crd.metadata.deletionTimestamp ?? "");
  if (Number.isNaN(since) || clock.now() - since < afterMs) return false;
  try {
    await client.patch(CRDS, crd.metadata.name ?? "", { metadata: { annotations: { [REQUEUE_ANNOTATION]: String(clock.now()) } } }, "merge");
    return true;
  } catch {
    return false;
  }
}
