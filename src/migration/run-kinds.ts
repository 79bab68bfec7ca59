/**
 * A pass over every migrated kind in band order (IPAM last), with owners always processed before
 * the Calico objects that reference them, even across bands.
 */
import { CALICO_KINDS, kindBands, type CalicoKind } from "../calico/kinds.js";
import type { EngineOptions } from "./engine-options.js";
import { systemClock } from "../kube/clock.js";
import { deltaKind } from "./delta-kind.js";
import { drainDeferred, syncKind, SyncSession, type SyncMode } from "./sync-kind.js";
import { AggregatedAnswerError } from "./v3-origin.js";
import type { Conflict, KindResult } from "./types.js";

/** Progress hooks of a pass. */
export interface PassHooks {
  onKindStart?: (kind: CalicoKind, index: number, total: number) => void | Promise<void>;
  onKindDone?: (result: KindResult, index: number, total: number) => void | Promise<void>;
  onPage?: (partial: KindResult) => void;
  /** The pass starts again from the first kind (a v3 list was answered by the Calico API server). */
  onRestart?: (reason: string) => void | Promise<void>;
}

/** The results of a pass over all kinds. */
export interface PassResult {
  kinds: KindResult[];
  conflicts: Conflict[];
  /** Number of v1 objects seen. */
  total: number;
  /** How long each band took (its kinds run together), lowest band first. */
  bands: { kinds: string[]; durationMs: number }[];
}

/** Milliseconds the band holding `kind` took in a pass (0 when the pass did not run it). */
export function bandDurationMs(pass: PassResult, kind: string): number {
  return pass.bands.find((b) => b.kinds.includes(kind))?.durationMs ?? 0;
}

/**
 * Runs `mode` over every kind (or the given ones), band by band, lowest first. The kinds of one
 * band run concurrently: they never own each other's objects in a way the deferral below does
 * not handle, and a kind held up by the API server (e.g. an admission policy waiting for its
 * paramKind to resolve right after the APIService is unregistered) does not hold up the others.
 */
export async function runPass(opts: EngineOptions, mode: SyncMode, hooks: PassHooks = {}, kinds: readonly CalicoKind[] = CALICO_KINDS): Promise<PassResult> {
  // A pass is idempotent: when a v3 list turns out to have come from the Calico API server (an HA
  // kube-apiserver that has not dropped the APIService yet), it starts again, within the bound.
  const clock = opts.clock ?? systemClock;
  const started = clock.now();
  for (;;) {
    try {
      return await runPassOnce(opts, mode, hooks, kinds);
    } catch (err) {
      if (!(err instanceof AggregatedAnswerError) || clock.now() - started > (opts.transitionalBoundMs ?? 90_000)) throw err;
      opts.log?.info({ reason: err.message }, "pass restarted");
      await hooks.onRestart?.(err.message);
      await clock.sleep(1000, opts.signal);
    }
  }
}

async function runPassOnce(opts: EngineOptions, mode: SyncMode, hooks: PassHooks, kinds: readonly CalicoKind[]): Promise<PassResult> {
  const ordered = [...kinds].sort((a, b) => a.order - b.order);
  const session = new SyncSession(opts.concurrency ?? 16);
  const results: KindResult[] = [];
  const bands: PassResult["bands"] = [];
  let index = 0;
  for (const band of kindBands(ordered)) {
    const bandStarted = Date.now();
    for (const kind of band) await hooks.onKindStart?.(kind, index++, ordered.length);
    const bandResults = await Promise.all(band.map((kind) => {
      const schema = opts.schemas.require(kind.kind);
      return opts.metadataFirst && mode !== "detect" ? deltaKind(opts, session, kind, schema, mode, hooks.onPage) : syncKind(opts, session, kind, schema, mode, hooks.onPage);
    }));
    // Objects whose owner is in this band (or earlier in the same list) can go now.
    await drainDeferred(opts, session, mode, false);
    bands.push({ kinds: band.map((k) => k.kind), durationMs: Date.now() - bandStarted });
    for (const result of bandResults) {
      results.push(result);
      await hooks.onKindDone?.(result, results.length - 1, ordered.length);
    }
  }
  // Whatever still waits has no owner in v1: created without the dangling reference (reported).
  await drainDeferred(opts, session, mode, true);
  return {
    kinds: results,
    conflicts: results.flatMap((r) => r.conflicts),
    total: results.reduce((n, r) => n + r.total, 0),
    bands,
  };
}
