/**
 * Shows a followed migration: on a terminal a frame redrawn in place (timeline, per-kind bars,
 * counts and rates, message, next steps); otherwise one plain line per change, or one JSON/YAML
 * document per change with -o json|yaml.
 */
import { type DatastoreMigration } from "../api/datastore-migration.js";
import type { CliIo } from "./io.js";
import type { Palette } from "./render/color.js";
import { migrationView, renderStatus } from "./render/migration.js";
import { renderNext, type OutputFormat } from "./render/output.js";
import { processed, rateOf } from "./render/progress.js";
import { changeLines, snapshotOf, type Snapshot } from "./render/watch-lines.js";
import YAML from "yaml";

/** How the printer draws. */
export interface WatchPrinterOptions {
  output: OutputFormat;
  palette: Palette;
  /** The next commands for an observation. */
  next: (dm: DatastoreMigration | undefined) => string[];
  /** Redraw a frame on a terminal (default true); false keeps plain lines everywhere. */
  redraw?: boolean;
  /** Report per-kind progress (default true). */
  kinds?: boolean;
}

/** One printer per followed migration (its state is the previous observation and the rate samples). */
export class WatchPrinter {
  private prev: Snapshot | undefined;
  private phaseSince: number | undefined;
  private drawn = 0;
  private last: DatastoreMigration | undefined;
  private readonly samples: { at: number; count: number }[] = [];
  private readonly kindSamples = new Map<string, { at: number; count: number }[]>();
  private v1Counts: ReadonlyMap<string, number> | undefined;

  constructor(
    private readonly io: CliIo,
    private readonly options: WatchPrinterOptions,
  ) {}

  /** Whether the frame is redrawn in place. */
  get redraws(): boolean {
    return this.options.output === "table" && this.io.isTTY && (this.options.redraw ?? true);
  }

  /** v1 object counts per kind, for totals and bars. */
  setV1Counts(counts: ReadonlyMap<string, number>): void {
    this.v1Counts = counts;
  }

  /** Shows one observation. */
  observe(dm: DatastoreMigration | undefined): void {
    const now = this.io.now();
    this.last = dm;
    const snap = snapshotOf(dm, now, this.v1Counts);
    if (this.options.kinds === false) snap.kinds = [];
    this.sample(snap);
    const changed = !this.prev || JSON.stringify({ ...this.prev, at: 0 }) !== JSON.stringify({ ...snap, at: 0 });
    switch (this.options.output) {
      case "table":
        if (this.redraws) this.redraw(dm, now);
        else for (const line of changeLines(this.prev, snap, { phaseSince: this.phaseSince, rate: this.currentRate(snap) })) this.io.stdout.write(`${line}\n`);
        break;
      case "json":
      case "yaml":
        if (changed) this.emit(dm, now);
        break;
      default: {
        const never: never = this.options.output;
        throw new Error(`unknown output ${String(never)}`);
      }
    }
    if (!this.prev || this.prev.phase !== snap.phase) this.phaseSince = now;
    this.prev = snap;
  }

  /**
   * Ends the display: the frame is drawn a last time with `next`; the plain form gets a Next:
   * block unless `next` is left to an error message.
   */
  finish(next: readonly string[], printNext = true): void {
    if (this.options.output !== "table") return;
    if (this.redraws) {
      this.redraw(this.last, this.io.now(), printNext ? next : []);
      return;
    }
    if (printNext) for (const line of renderNext(next)) this.io.stdout.write(`${line}\n`);
  }

  private sample(snap: Snapshot): void {
    const total = snap.kinds.reduce((n, k) => n + processed(k), 0);
    this.samples.push({ at: snap.at, count: total });
    if (this.samples.length > 120) this.samples.shift();
    for (const k of snap.kinds) {
      if (k.state !== "copying") continue;
      const list = this.kindSamples.get(k.kind) ?? [];
      list.push({ at: snap.at, count: processed(k) });
      if (list.length > 60) list.shift();
      this.kindSamples.set(k.kind, list);
    }
  }

  private currentRate(snap: Snapshot): number | undefined {
    const copying = snap.kinds.find((k) => k.state === "copying");
    return copying ? rateOf(this.kindSamples.get(copying.kind) ?? []) : rateOf(this.samples);
  }

  private redraw(dm: DatastoreMigration | undefined, now: number, next?: readonly string[]): void {
    const view = migrationView(dm, [...(next ?? this.options.next(dm))], this.v1Counts);
    const rates = new Map([...this.kindSamples].map(([kind, s]) => [kind, rateOf(s)]));
    const lines = dm ? renderStatus(view, this.options.palette, { bars: true, now, rates, overallRate: rateOf(this.samples) }) : ["DatastoreMigration is gone", ...renderNext(view.next)];
    // Move to the start of the previous frame and clear it.
    const clear = this.drawn > 0 ? `\u001b[${this.drawn}F\u001b[0J` : "";
    this.io.stdout.write(`${clear}${lines.join("\n")}\n`);
    this.drawn = lines.length;
  }

  private emit(dm: DatastoreMigration | undefined, now: number): void {
    const view = migrationView(dm, this.options.next(dm), this.v1Counts);
    const doc = { time: new Date(now).toISOString(), ...view };
    if (this.options.output === "json") this.io.stdout.write(`${JSON.stringify(doc)}\n`);
    else this.io.stdout.write(`---\n${YAML.stringify(doc, { lineWidth: 0 })}`);
  }
}
