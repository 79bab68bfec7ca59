/**
 * Waiting until `projectcalico.org/v3` is answered steadily by one backend: v3 CRD storage after
 * the APIService is deleted, or the Calico API server after it is restored.
 *
 * While the group switches, the garbage collector can look up a Calico owner and meet the wrong
 * backend: another uid, or "not found". It then judges the owner absent, remembers that, and
 * deletes what names it (docs/architecture.md, invariants 26 and 27). Two sources were seen:
 * - an HA replica that has not dropped the deleted APIService yet (it proxies to the Calico API
 *   server), for as long as its aggregator lags;
 * - kube-apiserver itself answering 404 for about a millisecond while it re-initialises a v3
 *   CRD's storage after the CRD was updated (the pre-copy's door opened or closed), with the
 *   APIService registered.
 * So each switch waits for a run of probes (v3 ClusterInformation `default`, whose uid tells the
 * backends apart, see v3-origin.ts) all answered by the wanted backend, over a quiet period in
 * which no wrong answer came.
 *
 * Each probe round sends a few reads at once, so a per-request balancer spreads them over the
 * replicas; over one long-lived connection they all reach one replica, and the quiet period is the
 * margin for the others.
 */
import { CLUSTER_INFORMATION_V1, CLUSTER_INFORMATION_V3 } from "../calico/kinds.js";
import type { KubeClient } from "../kube/client.js";
import type { Clock } from "../kube/clock.js";
import { isNotFound } from "../kube/errors.js";
import { isAggregatedView } from "./v3-origin.js";

/** What one probe met. */
export type ProbeAnswer = "storage" | "aggregated" | "not-found" | "error";

/** The backend a wait wants: v3 CRD storage, or the Calico API server (the aggregated view). */
export type Backend = "storage" | "aggregated";

/**
 * How an answer counts for the wanted backend: the other backend, or "not found", is wrong (the
 * collector takes either as absence) and restarts the run and the quiet period. An error (a Calico
 * API server that is down answers 503) makes the collector retry, not judge: it counts towards
 * the run like the wanted answer, so a down server cannot hold the wait.
 */
export function classify(answer: ProbeAnswer, want: Backend): "good" | "wrong" | "neutral" {
  if (answer === want) return "good";
  return answer === "error" ? "neutral" : "wrong";
}

/** When the group counts as settled. */
export interface SettleRule {
  /** Consecutive probe rounds without a wrong answer. */
  probes: number;
  /** Reads sent at once in each round. */
  fanout: number;
  /** Time since the start, or since the last wrong answer, whichever is later. */
  quietMs: number;
  /** Between rounds. */
  intervalMs: number;
  /** Give up waiting after this long (the caller says so and goes on). */
  timeoutMs: number;
}

export const DEFAULT_SETTLE_RULE: SettleRule = Object.freeze({ probes: 5, fanout: 4, quietMs: 1500, intervalMs: 100, timeoutMs: 120_000 });

/** Pure bookkeeping of the probes' answers. */
export class SettleTracker {
  private consecutive = 0;
  private quietSince: number;
  /** Rounds with a wrong answer. */
  wrong = 0;

  constructor(private readonly rule: SettleRule, start: number, private readonly want: Backend = "storage") {
    this.quietSince = start;
  }

  observe(answer: ProbeAnswer, at: number): void {
    if (classify(answer, this.want) !== "wrong") {
      this.consecutive++;
      return;
    }
    this.consecutive = 0;
    this.wrong++;
    this.quietSince = at;
  }

  settled(now: number): boolean {
    return this.consecutive >= this.rule.probes && now - this.quietSince >= this.rule.quietMs;
  }
}

/** Outcome of a wait. */
export interface SettleOutcome {
  settled: boolean;
  /** Rounds in which some read met the wrong backend (or "not found"). */
  wrong: number;
  waitedMs: number;
}

async function probe(client: KubeClient, v1Uid: string | undefined, signal?: AbortSignal): Promise<ProbeAnswer> {
  try {
    const v3 = await client.get(CLUSTER_INFORMATION_V3, "default", undefined, signal);
    return isAggregatedView(v3.metadata.uid, v1Uid) ? "aggregated" : "storage";
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    return isNotFound(err) ? "not-found" : "error";
  }
}

/** One round: the worst answer among its reads (wrong before neutral before good). */
async function probeRound(client: KubeClient, v1Uid: string | undefined, fanout: number, want: Backend, signal?: AbortSignal): Promise<ProbeAnswer> {
  const answers = await Promise.all(Array.from({ length: Math.max(1, fanout) }, () => probe(client, v1Uid, signal)));
  const rank = { wrong: 0, neutral: 1, good: 2 } as const;
  return answers.reduce((worst, a) => (rank[classify(a, want)] < rank[classify(worst, want)] ? a : worst));
}

/**
 * Probes until `want` answers steadily (or the rule's timeout). Without v1 ClusterInformation
 * `default` (deleted by someone) it waits the quiet period only and says it did not settle. For
 * "storage", v3 ClusterInformation must exist (the v3 lock made it).
 */
export async function waitSettled(client: KubeClient, clock: Clock, want: Backend, rule: SettleRule = DEFAULT_SETTLE_RULE, signal?: AbortSignal): Promise<SettleOutcome> {
  const start = clock.now();
  let v1Uid: string | undefined;
  try {
    v1Uid = (await client.get(CLUSTER_INFORMATION_V1, "default", undefined, signal)).metadata.uid;
  } catch (err) {
    if (!isNotFound(err)) throw err;
    // Deleted by someone: no object tells the backends apart. The quiet period is the margin.
    await clock.sleep(rule.quietMs, signal);
    return { settled: false, wrong: 0, waitedMs: clock.now() - start };
  }
  const tracker = new SettleTracker(rule, start, want);
  for (;;) {
    tracker.observe(await probeRound(client, v1Uid, rule.fanout, want, signal), clock.now());
    const now = clock.now();
    if (tracker.settled(now)) return { settled: true, wrong: tracker.wrong, waitedMs: now - start };
    if (now - start >= rule.timeoutMs) return { settled: false, wrong: tracker.wrong, waitedMs: now - start };
    await clock.sleep(rule.intervalMs, signal);
  }
}
