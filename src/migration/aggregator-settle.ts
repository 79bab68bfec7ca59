/**
 * Waiting until no kube-apiserver still proxies `projectcalico.org/v3` to the Calico API server.
 *
 * After the APIService is deleted, each replica of an HA control plane drops it at its own moment.
 * Until the last one has, the garbage collector can look up a Calico owner through a lagging
 * replica, meet the v1 object's view (another uid), judge the copy's owner absent and delete our
 * copy — after it was created, and even after it was verified. So the verification waits until
 * the group has settled: a run of probes (v3 ClusterInformation `default`, recognised by its uid,
 * see v3-origin.ts) all answered by v3 CRD storage, over a quiet period with no proxied answer.
 * Whatever the collector did before that, the verification then sees and repairs.
 *
 * Each probe round sends a few reads at once, so a per-request balancer spreads them over the
 * replicas; over one long-lived connection they all reach one replica, and the quiet period is the
 * margin for the others.
 */
import { CLUSTER_INFORMATION_V1, CLUSTER_INFORMATION_V3 } from "../calico/kinds.js";
import type { KubeClient } from "../kube/client.js";
import type { Clock } from "../kube/clock.js";
import { isAggregatedView } from "./v3-origin.js";

/** What one probe met. */
export type ProbeAnswer = "storage" | "aggregated" | "error";

/** When the group counts as settled. */
export interface SettleRule {
  /** Consecutive probe rounds answered by v3 CRD storage alone. */
  probes: number;
  /** Reads sent at once in each round. */
  fanout: number;
  /** Time since the start, or since the last proxied answer, whichever is later. */
  quietMs: number;
  /** Between rounds. */
  intervalMs: number;
  /** Give up waiting after this long (the caller says so and goes on: the verification still runs). */
  timeoutMs: number;
}

export const DEFAULT_SETTLE_RULE: SettleRule = Object.freeze({ probes: 5, fanout: 4, quietMs: 1500, intervalMs: 100, timeoutMs: 120_000 });

/** Pure bookkeeping of the probes' answers. */
export class SettleTracker {
  private consecutive = 0;
  private quietSince: number;
  /** Probes a lagging replica answered. */
  lagged = 0;

  constructor(private readonly rule: SettleRule, start: number) {
    this.quietSince = start;
  }

  observe(answer: ProbeAnswer, at: number): void {
    if (answer === "storage") {
      this.consecutive++;
      return;
    }
    this.consecutive = 0;
    if (answer === "aggregated") {
      this.lagged++;
      this.quietSince = at;
    }
  }

  settled(now: number): boolean {
    return this.consecutive >= this.rule.probes && now - this.quietSince >= this.rule.quietMs;
  }
}

/** Outcome of a wait. */
export interface SettleOutcome {
  settled: boolean;
  /** Answers that came from the Calico API server through a lagging replica. */
  lagged: number;
  waitedMs: number;
}

async function probe(client: KubeClient, v1Uid: string | undefined, signal?: AbortSignal): Promise<ProbeAnswer> {
  try {
    const v3 = await client.get(CLUSTER_INFORMATION_V3, "default", undefined, signal);
    return isAggregatedView(v3.metadata.uid, v1Uid) ? "aggregated" : "storage";
  } catch {
    if (signal?.aborted) throw signal.reason;
    return "error";
  }
}

/** One round: any proxied answer makes it "aggregated", else any error "error". */
async function probeRound(client: KubeClient, v1Uid: string | undefined, fanout: number, signal?: AbortSignal): Promise<ProbeAnswer> {
  const answers = await Promise.all(Array.from({ length: Math.max(1, fanout) }, () => probe(client, v1Uid, signal)));
  if (answers.includes("aggregated")) return "aggregated";
  return answers.includes("error") ? "error" : "storage";
}

/** Probes until settled (or the rule's timeout). v3 ClusterInformation must be in CRD storage (the v3 lock made it). */
export async function waitAggregatorSettled(client: KubeClient, clock: Clock, rule: SettleRule = DEFAULT_SETTLE_RULE, signal?: AbortSignal): Promise<SettleOutcome> {
  const start = clock.now();
  const v1Uid = (await client.get(CLUSTER_INFORMATION_V1, "default", undefined, signal)).metadata.uid;
  const tracker = new SettleTracker(rule, start);
  for (;;) {
    tracker.observe(await probeRound(client, v1Uid, rule.fanout, signal), clock.now());
    const now = clock.now();
    if (tracker.settled(now)) return { settled: true, lagged: tracker.lagged, waitedMs: now - start };
    if (now - start >= rule.timeoutMs) return { settled: false, lagged: tracker.lagged, waitedMs: now - start };
    await clock.sleep(rule.intervalMs, signal);
  }
}
