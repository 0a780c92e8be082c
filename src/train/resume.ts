/**
 * What a run does with the checkpoint already at its `--out`: nothing there
 * means a fresh start; an unfinished run resumes; a finished run is kept
 * (re-running its command trains nothing) unless `--epochs` asks for more,
 * which extends it. A run is only ever continued with the settings it was
 * started with, except those listed in {@link MAY_DIFFER_ON_RESUME}; starting
 * over needs `--restart`, and even then the old checkpoint stays until the
 * new run has written its first epoch (the write is atomic).
 *
 * @module
 */

import { type Checkpoint, loadCheckpoint } from "../spec/checkpoint.ts";
import { UserError } from "../spec/errors.ts";
import type { TrainConfig } from "./config.ts";

/**
 * Settings (dotted paths into {@link TrainConfig}) that do not change what a
 * run computes, so a resumed run may use other values: how often it logs,
 * how many epochs it runs in all, and where and how the same arithmetic runs.
 */
export const MAY_DIFFER_ON_RESUME: readonly string[] = [
  "epochs",
  "logEvery",
  "backend",
  "compute",
  "threads",
  "out",
  // A name only: the settings a preset set are compared one by one.
  "preset",
];

/** The command-line flag of each setting, for messages; others are named by their path. */
const FLAGS: Record<string, string> = {
  task: "--task",
  data: "--data",
  "model.embedSize": "--embed-size",
  "model.hiddenSize": "--hidden-size",
  "model.cell": "--cell",
  "model.layers": "--layers",
  "model.depth": "--depth",
  "model.tieWeights": "--tie-weights",
  "model.variational.embedding": "--dropout-embedding",
  "model.variational.input": "--dropout-input",
  "model.variational.hidden": "--dropout-hidden",
  "model.variational.output": "--dropout-output",
  "model.dropout": "--dropout",
  "sparse.method": "--method",
  "sparse.sparsity": "--sparsity",
  "sparse.epsilon": "--epsilon",
  "sparse.init": "--init",
  "sparse.prune": "--prune",
  "sparse.grow": "--grow",
  "sparse.pruneRate": "--prune-rate",
  "sparse.schedule": "--schedule",
  "sparse.updateEvery": "--update-every",
  "sparse.redistribution": "--redistribution",
  "sparse.sparseEmbedding": "--sparse-embedding",
  "sparse.sparseDecoder": "--sparse-decoder",
  batchSize: "--batch-size",
  bptt: "--bptt",
  maxLength: "--max-length",
  keep: "--keep",
  maxVocab: "--max-vocab",
  weightInit: "--weight-init",
  "optimizer.name": "--optimizer",
  "optimizer.momentum": "--momentum",
  learningRate: "--lr",
  lrDecay: "--lr-decay",
  lrPlateau: "--lr-plateau",
  evalMaxTokens: "--eval-max-tokens",
  validFraction: "--valid-fraction",
  clipNorm: "--clip",
  seed: "--seed",
  maxSteps: "--max-steps",
  "input.unit": "--unit",
  "input.format": "--format",
  "input.textColumn": "--text-column",
  "input.labelColumn": "--label-column",
  "input.header": "--header",
  "input.train": "--train",
  "input.valid": "--valid",
  "input.test": "--test",
  "input.split": "--split",
};

/**
 * Settings added after checkpoints were first written, with the value every
 * run before them had, so those runs still resume.
 */
const VALUE_BEFORE_THE_SETTING_EXISTED: Record<string, unknown> = {
  "model.cell": "lstm",
  weightInit: "dense",
  keep: "first",
  "input.unit": "word",
  "input.format": "auto",
  "input.textColumn": "",
  "input.labelColumn": "",
  "input.header": "auto",
  "input.train": "",
  "input.valid": "",
  "input.test": "",
  "input.split": [],
  lrPlateau: 1,
  // The validation metric selects the best epoch and drives --lr-plateau, so
  // --eval-max-tokens may not differ on resume: one run, one yardstick.
  evalMaxTokens: 0,
  validFraction: 0.05,
};

/** What to do with `--out`. */
export type RunPlan =
  | { kind: "fresh" }
  | { kind: "resume"; checkpoint: Checkpoint }
  /** A finished run with at least the epochs asked for: nothing to train. */
  | { kind: "finished"; checkpoint: Checkpoint };

/**
 * Decides, from the checkpoint at `config.out`, whether this run starts
 * fresh, resumes (or extends) it, or finds it finished. Throws a UserError
 * when `--out` is a directory or holds a run with other settings.
 */
export async function planRun(config: TrainConfig, restart: boolean): Promise<RunPlan> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(config.out);
  } catch {
    return { kind: "fresh" };
  }
  if (!stat.isFile) {
    throw new UserError(
      `--out ${config.out} is a directory; pass a file path such as ${config.out}/checkpoint.sparrow`,
    );
  }
  if (restart) return { kind: "fresh" };
  const checkpoint = await loadCheckpoint(config.out);
  const { progress } = checkpoint.meta;
  const changed = settingChanges(checkpoint.meta.training, config);
  if (changed.length > 0) {
    throw new UserError(
      `${config.out} holds a${
        progress.done ? " finished" : "n unfinished"
      } run with other settings: ` +
        `${
          changed.join("; ")
        }; pass the original values, another --out, or --restart to start over`,
    );
  }
  return progress.epoch >= config.epochs
    ? { kind: "finished", checkpoint }
    : { kind: "resume", checkpoint };
}

/**
 * Each setting that changes a run's result and differs between the recorded
 * configuration `saved` and `config`, as `--flag was A, now B`.
 */
export function settingChanges(saved: object, config: TrainConfig): string[] {
  const before = { ...VALUE_BEFORE_THE_SETTING_EXISTED, ...flatten(saved) };
  const now = flatten(config);
  const keys = [...new Set([...Object.keys(before), ...Object.keys(now)])];
  return keys
    .filter((key) => !MAY_DIFFER_ON_RESUME.includes(key) && !sameValue(before[key], now[key]))
    .map((key) => `${FLAGS[key] ?? key} was ${show(before[key])}, now ${show(now[key])}`);
}

/** Leaf values by dotted path; `undefined` leaves (an unset option) are left out. */
function flatten(value: object, prefix = ""): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined) continue;
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      Object.assign(out, flatten(v, `${prefix}${key}.`));
    } else out[`${prefix}${key}`] = v;
  }
  return out;
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function show(value: unknown): string {
  return value === undefined ? "unset" : typeof value === "string" ? value : JSON.stringify(value);
}
