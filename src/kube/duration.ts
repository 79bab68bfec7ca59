/**
 * Go / Kubernetes duration strings (`500ms`, `10s`, `1h30m`, `1.5s`) to and from milliseconds,
 * for flags and config fields that follow the `metav1.Duration` convention.
 */

/** Milliseconds per unit, as Go's time.ParseDuration spells them (both micro signs accepted). */
const UNIT_MS: Readonly<Record<string, number>> = Object.freeze({
  ns: 1e-6,
  us: 1e-3,
  "\u00b5s": 1e-3, // µ MICRO SIGN
  "\u03bcs": 1e-3, // μ GREEK SMALL LETTER MU
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
});

const EXAMPLE = `e.g. "500ms", "10s", "2m30s" or "1h"`;

/** Thrown for a string that is not a Go duration; the message names the value and a valid example. */
export class InvalidDurationError extends Error {
  override readonly name = "InvalidDurationError";
  constructor(
    readonly value: string,
    why: string,
  ) {
    super(`invalid duration ${JSON.stringify(value)}: ${why} (${EXAMPLE}; units ns, us, ms, s, m, h)`);
  }
}

/**
 * Parses a Go duration string into milliseconds (fractional below 1 ms): an optional sign, then one
 * or more `<number><unit>` parts; a bare `0` is allowed, any other unitless number is not.
 */
export function parseDuration(s: string): number {
  const text = s.trim();
  if (text === "") throw new InvalidDurationError(s, "empty");
  let rest = text;
  let sign = 1;
  if (rest[0] === "-" || rest[0] === "+") {
    if (rest[0] === "-") sign = -1;
    rest = rest.slice(1);
  }
  if (rest === "0") return 0;
  if (rest === "") throw new InvalidDurationError(s, "no number after the sign");
  const part = /^(\d+\.?\d*|\.\d+)([^\d.]*)/u;
  let total = 0;
  while (rest !== "") {
    const m = part.exec(rest);
    if (!m) throw new InvalidDurationError(s, `expected a number at ${JSON.stringify(rest)}`);
    const [whole, num = "", unit = ""] = m;
    if (unit === "") throw new InvalidDurationError(s, `missing unit after ${num}`);
    const factor = UNIT_MS[unit];
    if (factor === undefined) throw new InvalidDurationError(s, `unknown unit ${JSON.stringify(unit)}`);
    total += Number(num) * factor;
    rest = rest.slice(whole.length);
  }
  if (!Number.isFinite(total)) throw new InvalidDurationError(s, "out of range");
  // Whole-nanosecond precision, and no float noise such as 0.30000000000000004 ms.
  return (sign * Math.round(total * 1e6)) / 1e6;
}

/**
 * Formats milliseconds the short way (`10s`, `2m30s`, `1h`, `1.5s`, `500ms`, `0s`): Go's
 * Duration.String without the zero parts, and parseDuration's inverse.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) throw new RangeError(`formatDuration: not a finite number of milliseconds: ${ms}`);
  if (ms === 0) return "0s";
  if (ms < 0) {
    const positive = formatDuration(-ms);
    return positive === "0s" ? positive : `-${positive}`;
  }
  const ns = Math.round(ms * 1e6);
  if (ns === 0) return "0s";
  if (ns < 1_000) return `${ns}ns`;
  if (ns < 1_000_000) return `${trimZeros(ns / 1_000)}\u00b5s`;
  if (ns < 1_000_000_000) return `${trimZeros(ns / 1_000_000)}ms`;
  const hours = Math.floor(ns / 3_600_000_000_000);
  const minutes = Math.floor((ns % 3_600_000_000_000) / 60_000_000_000);
  const secondsNs = ns % 60_000_000_000;
  let out = "";
  if (hours > 0) out += `${hours}h`;
  if (minutes > 0) out += `${minutes}m`;
  if (secondsNs > 0) out += `${trimZeros(secondsNs / 1e9)}s`;
  return out;
}

/** At most nine decimals (nanoseconds), trailing zeros dropped. */
function trimZeros(n: number): string {
  return String(Number(n.toFixed(9)));
}
