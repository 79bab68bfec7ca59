/**
 * Following the DatastoreMigration: one GET a second until a condition holds, the migration
 * fails or disappears, or the timeout passes. Brief API outages are ridden out (a migration
 * changes the aggregated API, and users' connections flap), up to a bound.
 */
import { Phase, type DatastoreMigration } from "../../api/datastore-migration.js";
import { isRetryable } from "../../kube/errors.js";

/** How following ended. */
export type FollowEnd = "reached" | "failed" | "gone" | "timeout";

/** What following needs from the outside. */
export interface FollowDeps {
  /** The CR now, or undefined when it does not exist. */
  fetch(): Promise<DatastoreMigration | undefined>;
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** When to stop. */
export interface FollowOptions {
  /** Success: true for the state waited for (undefined = the CR is gone). */
  done(dm: DatastoreMigration | undefined): boolean;
  /** 0 = wait forever. */
  timeoutMs: number;
  /** Between GETs; default 1 s. */
  intervalMs?: number;
  /** How long consecutive retryable errors are tolerated; default 60 s. */
  errorBudgetMs?: number;
  /** Called with every observation, before the checks. */
  observe(dm: DatastoreMigration | undefined): void | Promise<void>;
  /** Called once per retryable error. */
  onRetry?(err: unknown): void;
  /** Whether phase Failed ends the wait (default true; a CR being deleted goes on from Failed). */
  endOnFailed?: boolean;
}

/** The outcome and the last observation. */
export interface FollowResult {
  end: FollowEnd;
  last: DatastoreMigration | undefined;
}

/** Follows until done, Failed, gone or timeout. */
export async function follow(deps: FollowDeps, options: FollowOptions): Promise<FollowResult> {
  const start = deps.now();
  const interval = options.intervalMs ?? 1000;
  const budget = options.errorBudgetMs ?? 60_000;
  let failingSince: number | undefined;
  let last: DatastoreMigration | undefined;
  for (;;) {
    let observed = false;
    try {
      last = await deps.fetch();
      observed = true;
      failingSince = undefined;
    } catch (err) {
      if (!isRetryable(err)) throw err;
      failingSince ??= deps.now();
      if (deps.now() - failingSince > budget) throw err;
      options.onRetry?.(err);
    }
    if (observed) {
      await options.observe(last);
      if (options.done(last)) return { end: "reached", last };
      if (last === undefined) return { end: "gone", last };
      if (last.status?.phase === Phase.Failed && (options.endOnFailed ?? true)) return { end: "failed", last };
    }
    const elapsed = deps.now() - start;
    if (options.timeoutMs > 0 && elapsed >= options.timeoutMs) return { end: "timeout", last };
    await deps.sleep(options.timeoutMs > 0 ? Math.min(interval, options.timeoutMs - elapsed) : interval);
  }
}
