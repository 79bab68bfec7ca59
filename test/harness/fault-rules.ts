/**
 * The vocabulary of the fault proxy: the fault types it counts, the random rates, targeted rules,
 * the requests as it sees them, the Kubernetes Status bodies it answers with, and the pure choice
 * of a fault from one random draw.
 */

/** The faults the proxy counts. */
export const FAULT_TYPES = ["latency", "reset", "drop", "status429", "status500", "status503", "status504", "watchGoneAnswer", "watchGoneEvent"] as const;
export type FaultType = (typeof FAULT_TYPES)[number];

/** Random fault rates (probabilities per request) and the latency range. */
export interface FaultRates {
  /** Added latency, uniform in [min, max] ms, on every request. */
  latencyMs?: readonly [number, number];
  /** The client connection is destroyed before the request is forwarded. */
  reset?: number;
  /** The request is forwarded, its response discarded and the connection destroyed (a watch is cut mid-stream). */
  drop?: number;
  status429?: number;
  status500?: number;
  status503?: number;
  status504?: number;
  /** A watch is ended with 410 Gone: half answered at once, half as an ERROR event mid-stream. */
  watchGone?: number;
  /** When the ERROR event of watchGone comes, uniform in [min, max] ms after the watch started. Default 200–3200. */
  watchGoneAfterMs?: readonly [number, number];
  /** Share of injected 500/504 answers to writes given only after the write reached the server. */
  errorAfterForward?: number;
}

/** One request as the proxy saw it. */
export interface ProxiedRequest {
  id: number;
  method: string;
  /** Path without the query. */
  path: string;
  query: URLSearchParams;
  watch: boolean;
  /** The parsed JSON body, if any. */
  body: unknown;
  /** The Accept header (metadata-only lists ask for PartialObjectMetadataList). */
  accept: string;
  at: number;
}

/** What a rule does with a matching request. */
export type RuleAction =
  | { type: "status"; code: number; message?: string; afterForward?: boolean }
  | { type: "reset" }
  | { type: "delay"; ms: number }
  | { type: "hook"; run: (req: ProxiedRequest) => void | Promise<void> };

/** A targeted fault: the first `times` requests matching method, path and `when` get `action`. */
export interface FaultRule {
  name: string;
  method?: string;
  path?: RegExp;
  when?: (req: ProxiedRequest) => boolean;
  times?: number;
  action: RuleAction;
}

const REASONS: Record<number, string> = { 409: "Conflict", 410: "Expired", 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout" };

/** The JSON of a Kubernetes Status for `code`. */
export function statusBody(code: number, message: string, retryAfterSeconds?: number): string {
  return JSON.stringify({
    kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason: REASONS[code] ?? "Unknown", code,
    ...(retryAfterSeconds !== undefined ? { details: { retryAfterSeconds } } : {}),
  });
}

/** The random fault for a request from one uniform draw `u` (undefined: none); 410 Gone only for watches. */
export function pickFault(r: FaultRates, u: number, watch: boolean): FaultType | undefined {
  const gone = watch ? (r.watchGone ?? 0) : 0;
  const table: [FaultType, number][] = [
    ["reset", r.reset ?? 0], ["drop", r.drop ?? 0], ["status429", r.status429 ?? 0], ["status500", r.status500 ?? 0],
    ["status503", r.status503 ?? 0], ["status504", r.status504 ?? 0], ["watchGoneAnswer", gone / 2], ["watchGoneEvent", gone / 2],
  ];
  let acc = 0;
  for (const [type, p] of table) {
    acc += p;
    if (u < acc) return type;
  }
  return undefined;
}
