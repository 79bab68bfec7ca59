/**
 * The CLI's view of the outside world, injected into every command: output streams, whether a
 * person is watching (TTY), the clock, a sleep, a yes/no prompt and the environment.
 */
import readline from "node:readline";
import { systemClock } from "../kube/clock.js";

/** Somewhere text can be written. */
export interface Output {
  write(chunk: string): unknown;
}

/** Everything a command reads from or writes to outside the cluster. */
export interface CliIo {
  stdout: Output;
  stderr: Output;
  /** stdout is a terminal: redraw progress, prompt for confirmation, colour. */
  isTTY: boolean;
  /** Milliseconds since the epoch. */
  now: () => number;
  /** Waits `ms`; rejects when the signal aborts. Default: real timers. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Asks a yes/no question on the terminal; only called when isTTY. */
  confirm?: (question: string) => Promise<boolean>;
  /** Environment variables (NO_COLOR). */
  env?: Readonly<Record<string, string | undefined>>;
}

/** The io's sleep, or a real one. */
export function sleeperOf(io: CliIo): (ms: number, signal?: AbortSignal) => Promise<void> {
  return io.sleep ?? ((ms, signal) => systemClock.sleep(ms, signal));
}

/** Writes one line (a newline is added). */
export function println(out: Output, line = ""): void {
  out.write(`${line}\n`);
}

/** The io of the real process: its streams, TTY state, clock and a readline prompt on stdin. */
export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    isTTY: Boolean(process.stdout.isTTY),
    now: () => Date.now(),
    sleep: (ms, signal) => systemClock.sleep(ms, signal),
    env: process.env,
    confirm: async (question) => {
      if (!process.stdin.isTTY) return false;
      const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
      try {
        const answer = await new Promise<string>((resolve) => rl.question(`${question} [y/N]: `, resolve));
        return /^y(es)?$/i.test(answer.trim());
      } finally {
        rl.close();
      }
    },
  };
}
