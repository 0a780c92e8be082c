/**
 * Training progress as a person watches it: on a terminal one line redrawn
 * in place (`\r`) with a bar, tokens per second, the time left in the epoch
 * and in the run, and the loss; elsewhere (a log file, a pipe, tests) the
 * plain lines every `--log-every` steps.
 *
 * The formatting is pure functions, so it is tested without a terminal.
 *
 * @module
 */

/** How progress is shown: redrawn on one terminal line, or as plain lines. */
export type ProgressMode = "live" | "plain";

/** A bar of `width` cells, `fraction` of them filled. */
export function progressBar(fraction: number, width = 24): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return "[" + "=".repeat(filled) + " ".repeat(width - filled) + "]";
}

/** A duration as `42s`, `3m05s` or `2h07m`; `?` when it is not known yet. */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const pad = (n: number) => String(n).padStart(2, "0");
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
}

/** Seconds left for `total` units after `done` took `seconds`; undefined before the first. */
export function remainingSeconds(done: number, total: number, seconds: number): number | undefined {
  return done > 0 ? (seconds / done) * Math.max(0, total - done) : undefined;
}

/** Where a run stands at one step. */
export interface StepProgress {
  /** The current epoch, from 1, and the run's last. */
  epoch: number;
  epochs: number;
  /** Steps done in this epoch, and the epoch's steps. */
  step: number;
  stepsPerEpoch: number;
  /** Mean training loss of the epoch so far. */
  loss: number;
  /** Tokens per second in this epoch. */
  tokensPerSecond: number;
  /** Seconds left in the epoch and in the whole run (undefined: not known yet). */
  epochLeft?: number;
  runLeft?: number;
}

/** Today's plain progress line, one every `--log-every` steps. */
export function plainLine(p: StepProgress): string {
  return `epoch ${p.epoch} step ${p.step}/${p.stepsPerEpoch} loss ${p.loss.toFixed(3)} ` +
    `${Math.round(p.tokensPerSecond)} tok/s`;
}

/** The live terminal line: bar, steps, loss, tokens per second, time left. */
export function liveLine(p: StepProgress): string {
  return `epoch ${p.epoch}/${p.epochs} ${progressBar(p.step / p.stepsPerEpoch)} ` +
    `${p.step}/${p.stepsPerEpoch} loss ${p.loss.toFixed(3)} ` +
    `${Math.round(p.tokensPerSecond).toLocaleString("en-US")} tok/s ` +
    `ETA epoch ${formatDuration(p.epochLeft)} run ${formatDuration(p.runLeft)}`;
}

/** Options of {@link ProgressMeter}. */
export interface ProgressMeterOptions {
  /** Where plain lines (and every other line of the run) go. */
  log: (line: string) => void;
  mode: ProgressMode;
  /** Plain lines every this many steps; 0 shows no step progress at all. */
  logEvery: number;
  epochs: number;
  stepsPerEpoch: number;
  /** Epochs finished before this session started (a resumed run). */
  firstEpoch: number;
  /** Writes raw text to the terminal (live mode); standard output unless given. */
  write?: (text: string) => void;
  /** Milliseconds now; `performance.now` unless given. */
  now?: () => number;
}

/** Redraws a live line at most this often. */
const REDRAW_MS = 200;

/**
 * Shows a run's step progress. Its {@link log} is the run's log with the
 * live line cleared first, so other lines never mix with it.
 */
export class ProgressMeter {
  readonly #o: ProgressMeterOptions;
  readonly #write: (text: string) => void;
  readonly #now: () => number;
  readonly #runStarted: number;
  #runSteps = 0;
  #epoch = 0;
  #epochStarted = 0;
  #drawn = false;
  #lastDraw = -Infinity;

  constructor(options: ProgressMeterOptions) {
    this.#o = options;
    const encoder = new TextEncoder();
    this.#write = options.write ?? ((text) => Deno.stdout.writeSync(encoder.encode(text)));
    this.#now = options.now ?? (() => performance.now());
    this.#runStarted = this.#now();
  }

  /** The run's log; clears the live line before each line. */
  readonly log = (line: string): void => {
    this.clear();
    this.#o.log(line);
  };

  /** Starts epoch `epoch` (from 0). */
  startEpoch(epoch: number): void {
    this.#epoch = epoch;
    this.#epochStarted = this.#now();
  }

  /** Reports step `step` of the epoch (from 1), `tokens` and `lossSum` so far in the epoch. */
  step(step: number, tokens: number, lossSum: number): void {
    this.#runSteps++;
    const o = this.#o;
    if (o.logEvery <= 0) return;
    const now = this.#now();
    if (o.mode === "plain" ? step % o.logEvery !== 0 : now - this.#lastDraw < REDRAW_MS) return;
    const epochSeconds = (now - this.#epochStarted) / 1000;
    const runSteps = (o.epochs - o.firstEpoch) * o.stepsPerEpoch;
    const p: StepProgress = {
      epoch: this.#epoch + 1,
      epochs: o.epochs,
      step,
      stepsPerEpoch: o.stepsPerEpoch,
      loss: lossSum / step,
      tokensPerSecond: epochSeconds > 0 ? tokens / epochSeconds : 0,
      epochLeft: remainingSeconds(step, o.stepsPerEpoch, epochSeconds),
      // Over the whole session, so evaluation and checkpoint time count too.
      runLeft: remainingSeconds(this.#runSteps, runSteps, (now - this.#runStarted) / 1000),
    };
    if (o.mode === "plain") {
      o.log(plainLine(p));
      return;
    }
    this.#write(`\r${liveLine(p)}\x1b[K`);
    this.#drawn = true;
    this.#lastDraw = now;
  }

  /** Removes the live line, if one is drawn. */
  clear(): void {
    if (!this.#drawn) return;
    this.#write("\r\x1b[K");
    this.#drawn = false;
    this.#lastDraw = -Infinity;
  }
}
