/**
 * A pass over every migrated kind in band order (IPAM last), with owners always processed before
 * the Calico objects that reference them, even across bands.
 */
import { CALICO_KINDS, type CalicoKind } from "../calico/kinds.js";
import type { EngineOptions } from "./engine-options.js";
import { drainDeferred, syncKind, SyncSession, type SyncMode } from "./sync-kind.js";
import type { Conflict, KindResult } from "./types.js";

/** Progress hooks of a pass. */
export interface PassHooks {
  onKindStart?: (kind: CalicoKind, index: number, total: number) => void | Promise<void>;
  onKindDone?: (result: KindResult, index: number, total: number) => void | Promise<void>;
  onPage?: (partial: KindResult) => void;
}

/** The results of a pass over all kinds. */
export interface PassResult {
  kinds: KindResult[];
  conflicts: Conflict[];
  /** Number of v1 objects seen. */
  total: number;
}

/** Runs `mode` over every kind (or the given ones), lowest band first. */
export async function runPass(opts: EngineOptions, mode: SyncMode, hooks: PassHooks = {}, kinds: readonly CalicoKind[] = CALICO_KINDS): Promise<PassResult> {
  const ordered = [...kinds].sort((a, b) => a.order - b.order);
  const session = new SyncSession();
  const results: KindResult[] = [];
  for (const [i, kind] of ordered.entries()) {
    await hooks.onKindStart?.(kind, i, ordered.length);
    const schema = opts.schemas.require(kind.kind);
    const result = await syncKind(opts, session, kind, schema, mode, hooks.onPage);
    // Objects whose owner is of this same kind, later in the list, can go now.
    await drainDeferred(opts, session, mode, false);
    results.push(result);
    await hooks.onKindDone?.(result, i, ordered.length);
  }
  // Whatever still waits has no owner in v1: created without the dangling reference (reported).
  await drainDeferred(opts, session, mode, true);
  return {
    kinds: results,
    conflicts: results.flatMap((r) => r.conflicts),
    total: results.reduce((n, r) => n + r.total, 0),
  };
}
