/**
 * ANSI colour, only for a person at a terminal: off with --no-color, NO_COLOR, or when stdout is
 * not a TTY.
 */

/** Colouring functions; identity functions when colour is off. */
export interface Palette {
  readonly enabled: boolean;
  red: (s: string) => string;
  green: (s: string) => string;
  yellow: (s: string) => string;
  cyan: (s: string) => string;
  bold: (s: string) => string;
  dim: (s: string) => string;
}

const wrap = (open: number, close: number) => (s: string) => `\u001b[${open}m${s}\u001b[${close}m`;

/** A palette that colours when `enabled`. */
export function palette(enabled: boolean): Palette {
  if (!enabled) {
    const id = (s: string) => s;
    return { enabled, red: id, green: id, yellow: id, cyan: id, bold: id, dim: id };
  }
  return { enabled, red: wrap(31, 39), green: wrap(32, 39), yellow: wrap(33, 39), cyan: wrap(36, 39), bold: wrap(1, 22), dim: wrap(2, 22) };
}

/** Whether to colour: the flag allows it, stdout is a terminal and NO_COLOR is unset or empty. */
export function colorEnabled(flag: boolean, isTTY: boolean, env: Readonly<Record<string, string | undefined>> = {}): boolean {
  return flag && isTTY && !env.NO_COLOR;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;

/** The text without ANSI escape sequences. */
export function stripAnsi(s: string): string {
  return s.replace(ANSI, "");
}

/** The width of text on a terminal (escape sequences take none). */
export function visibleWidth(s: string): number {
  return [...stripAnsi(s)].length;
}
