/**
 * The CLI's exit codes and the error classes that carry them. Commands throw; the one catch site
 * (run.ts) turns the error into a message and an exit code.
 */
import { CommanderError } from "commander";
import { ApiError, TransportError } from "../kube/errors.js";
import { KubeconfigError } from "../kube/kubeconfig.js";
import { InvalidDurationError } from "../kube/duration.js";

/** Exit codes of every command. */
export const ExitCode = {
  /** Done. */
  Ok: 0,
  /** Refused or blocked: plan blockers, start/abort refused, finalize too early, watch reached Failed. */
  Refused: 1,
  /** Bad flags or arguments. */
  Usage: 2,
  /** --timeout passed before the wait ended. */
  Timeout: 3,
  /** Anything else: API unreachable, RBAC, kubeconfig, a bug. */
  Error: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A command line that cannot be run as given; the message says what was expected. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** A command that declined to act (or found blockers); `next` lists what to run instead. */
export class RefusedError extends Error {
  override readonly name = "RefusedError";
  constructor(
    message: string,
    readonly next: readonly string[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A followed migration reached phase Failed (or disappeared) instead of the phase waited for. */
export class MigrationFailedError extends Error {
  override readonly name = "MigrationFailedError";
  constructor(
    message: string,
    readonly next: readonly string[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A wait ran out of --timeout; the message says what was still pending. */
export class TimeoutError extends Error {
  override readonly name = "TimeoutError";
  constructor(
    message: string,
    readonly next: readonly string[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The exit code for an error thrown by a command. */
export function exitCodeOf(err: unknown): ExitCode {
  if (err instanceof CommanderError) return err.code === "commander.helpDisplayed" || err.code === "commander.version" ? ExitCode.Ok : ExitCode.Usage;
  if (err instanceof UsageError || err instanceof InvalidDurationError) return ExitCode.Usage;
  if (err instanceof RefusedError || err instanceof MigrationFailedError) return ExitCode.Refused;
  if (err instanceof TimeoutError) return ExitCode.Timeout;
  return ExitCode.Error;
}

/** True for errors whose message is the whole story (no stack trace). */
export function isExpected(err: unknown): boolean {
  return (
    err instanceof UsageError || err instanceof RefusedError || err instanceof MigrationFailedError || err instanceof TimeoutError ||
    err instanceof ApiError || err instanceof TransportError || err instanceof KubeconfigError || err instanceof InvalidDurationError
  );
}

/** The user-facing text of an error: what happened to which object, and the fix. */
export function userMessage(err: unknown, server?: string): string {
  if (err instanceof ApiError) {
    if (err.code === 401) return `unauthorized by the API server${server ? ` at ${server}` : ""}: ${err.message}\nFix: refresh the credentials in your kubeconfig (--kubeconfig, --context)`;
    if (err.code === 403) return `forbidden: ${err.message}\nFix: run as a user with cluster-admin rights, or grant the verb named above (kubectl auth can-i --list)`;
    return `${err.method} ${err.path}: ${err.message} (HTTP ${err.code} ${err.reason})`;
  }
  if (err instanceof TransportError) return `cannot reach the Kubernetes API server${server ? ` at ${server}` : ""}: ${err.message}\nFix: check --kubeconfig / --context and that the cluster is up (kubectl cluster-info)`;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** The `next` commands an error carries, if any. */
export function nextOf(err: unknown): readonly string[] {
  if (err instanceof RefusedError || err instanceof MigrationFailedError || err instanceof TimeoutError) return err.next;
  return [];
}
