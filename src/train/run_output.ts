/**
 * A run's checkpoint files: the last epoch's, written after every epoch, and
 * the best epoch's beside it; never with a diverged model in them. When a run stops (a diverging loss, a full disk), the message
 * says what the file at `--out` still holds, so nothing good is lost and the
 * user knows what to run next.
 *
 * @module
 */

import { type Checkpoint, encodeCheckpoint, loadCheckpoint } from "../spec/checkpoint.ts";
import { bestCheckpointPath } from "../spec/selection.ts";
import { UserError } from "../spec/errors.ts";
import type { TrainConfig } from "./config.ts";

/** Writes checkpoint bytes atomically; see ../spec/atomic.ts. */
export type WriteFile = (path: string, data: Uint8Array) => Promise<void>;

/** The checkpoint output of one run. */
export class RunOutput {
  readonly #config: TrainConfig;
  readonly #write: WriteFile;
  /** What `--out` holds now, as the end of a sentence about it. */
  #holds: string;

  private constructor(config: TrainConfig, write: WriteFile, holds: string) {
    this.#config = config;
    this.#write = write;
    this.#holds = holds;
  }

  /** The output of a run at `config.out` that resumes after `resumedEpoch`, if any. */
  static async open(
    config: TrainConfig,
    write: WriteFile,
    resumedEpoch?: number,
  ): Promise<RunOutput> {
    const holds = resumedEpoch !== undefined
      ? `still holds epoch ${resumedEpoch}`
      : await Deno.stat(config.out).then(() => "is unchanged", () => "was not written");
    return new RunOutput(config, write, holds);
  }

  /** Stops the run (a UserError) if the loss of step `step` of epoch `epoch` has diverged. */
  checkLoss(loss: number, epoch: number, step: number): void {
    if (divergent(loss)) throw this.#diverged(`at epoch ${epoch} step ${step} (loss ${loss})`);
  }

  /**
   * Writes `checkpoint` unless its latest metrics or its weights are not
   * finite (the run has diverged: a UserError). A failed write is one line
   * naming the file; the previous checkpoint stays.
   */
  async save(checkpoint: Checkpoint): Promise<void> {
    await this.#checkedWrite(this.#config.out, checkpoint);
    this.#holds = `still holds epoch ${checkpoint.meta.progress.epoch}`;
  }

  /**
   * Writes `checkpoint` as the run's best checkpoint (beside `--out`, see
   * ../spec/selection.ts), with the same checks as {@link save}.
   */
  async saveBest(checkpoint: Checkpoint): Promise<void> {
    await this.#checkedWrite(bestCheckpointPath(this.#config.out), checkpoint);
  }

  /**
   * The best checkpoint this run wrote for epoch `epoch`; a UserError when
   * the file is gone or holds another run or epoch.
   */
  async loadBest(epoch: number, runId: string | undefined): Promise<Checkpoint> {
    const path = bestCheckpointPath(this.#config.out);
    const best = await loadCheckpoint(path).catch(() => undefined);
    const progress = best?.meta.progress;
    if (!best || progress?.runId !== runId || progress?.epoch !== epoch) {
      throw new UserError(
        `${path} should hold epoch ${epoch} of the run at ${this.#config.out}, but it is ` +
          `${best ? "another run's or another epoch's" : "missing or unreadable"}, so the best ` +
          `model cannot be tested; ${this.#config.out} ${this.#holds}: pass --restart to train again`,
      );
    }
    return best;
  }

  async #checkedWrite(path: string, checkpoint: Checkpoint): Promise<void> {
    const { epoch, history } = checkpoint.meta.progress;
    const bad = Object.entries(history.at(-1) ?? {}).find(([, v]) => !Number.isFinite(v));
    if (bad) throw this.#diverged(`in epoch ${epoch} (${bad[0]} ${bad[1]})`);
    if (!finiteWeights(checkpoint)) throw this.#diverged(`in epoch ${epoch} (weights not finite)`);
    try {
      await this.#write(path, encodeCheckpoint(checkpoint));
    } catch (err) {
      if (err instanceof UserError) throw err;
      const message = err instanceof Error ? err.message : String(err);
      const full = (err as { code?: string }).code === "ENOSPC" || /no space left/i.test(message);
      throw new UserError(
        `cannot write checkpoint ${path}: ${full ? "no space left on the device" : message}; ` +
          `${this.#config.out} ${this.#holds}: free some space or pass another --out, then run again to resume`,
      );
    }
  }

  #diverged(where: string): UserError {
    const { out, learningRate, clipNorm } = this.#config;
    const clip = clipNorm > 0 ? `--clip below ${clipNorm}` : "set --clip (e.g. 1)";
    return new UserError(
      `training diverged ${where}; ${out} ${this.#holds}: ` +
        `pass a lower --lr than ${learningRate}, or ${clip}`,
    );
  }
}

/**
 * Whether a training loss shows the run has diverged: not finite, or so
 * large that its perplexity e^loss is (above about 709 nats, far beyond any
 * guess; a uniform one over V words costs ln V).
 */
export function divergent(loss: number): boolean {
  return !Number.isFinite(Math.exp(loss));
}

/** Whether every weight of `checkpoint` is finite. */
export function finiteWeights(checkpoint: Checkpoint): boolean {
  return Object.values(checkpoint.params).every(({ data }) => data.every(Number.isFinite));
}
