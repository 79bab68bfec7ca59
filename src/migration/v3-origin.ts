/**
 * Where an answer on a `projectcalico.org/v3` path came from. After the aggregated APIService is
 * deleted, each kube-apiserver of an HA control plane drops it at its own moment: for a while a
 * request through a lagging replica is still proxied to the Calico API server, which answers from
 * (and writes to) crd.projectcalico.org/v1. Such an answer is recognisable: the Calico API server
 * presents every object with the bit-reversed uid of its v1 CR, a uid CRD storage never assigns.
 * It is never taken as "exists in v3" or "equal in v3"; the request is retried.
 */
import { convertUid, InvalidUidError } from "../convert/uid.js";

/** An answer that came from the Calico API server rather than from v3 CRD storage (transitional: retry). */
export class AggregatedAnswerError extends Error {
  override readonly name = "AggregatedAnswerError";
}

/** True when a v3 answer with `v3Uid` is the Calico API server's view of the v1 CR with `v1Uid`. */
export function isAggregatedView(v3Uid: string | undefined, v1Uid: string | undefined): boolean {
  if (!v3Uid || !v1Uid) return false;
  try {
    return convertUid(v1Uid) === v3Uid.toLowerCase();
  } catch (err) {
    if (err instanceof InvalidUidError) return false;
    throw err;
  }
}

/** Throws AggregatedAnswerError when the v3 object is the Calico API server's view of the v1 CR. */
export function assertFromV3Storage(what: string, v3Uid: string | undefined, v1Uid: string | undefined): void {
  if (isAggregatedView(v3Uid, v1Uid)) {
    throw new AggregatedAnswerError(
      `${what}: the answer came from the Calico API server (uid ${v3Uid} is its view of the v1 object), not from v3 CRD storage; ` +
        "a kube-apiserver still proxies projectcalico.org/v3 after the APIService was deleted — retrying",
    );
  }
}
