/**
 * The logging the Kubernetes mechanics need: a structural subset of pino's Logger, passed in, so a
 * pino logger fits and tests can pass a recorder or the silent logger.
 */

/** One log method: structured fields first, then the message (pino's calling convention). */
export type LogFn = (fields: Record<string, unknown>, message: string) => void;

/** A leveled logger; a pino Logger satisfies it. */
export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

const discard: LogFn = () => undefined;

/** A logger that drops everything. */
export const silentLogger: Logger = Object.freeze({ debug: discard, info: discard, warn: discard, error: discard });
