/**
 * Training configuration as plain typed data, with the defaults a user gets
 * when a flag is not given, and validation that names the bad value and
 * the fix.
 *
 * @module
 */

import type { BackendName } from "../backend/backend.ts";
import type { DensityMethod } from "../core/density.ts";
import type { GrowName } from "../core/grow.ts";
import { WEIGHT_INITS, type WeightInit } from "../core/init.ts";
import type { PruneName } from "../core/prune.ts";
import type { RedistributeName } from "../core/redistribute.ts";
import type { ScheduleName } from "../core/schedule.ts";
import { type MethodName, methodPreset } from "../core/methods.ts";
import { check } from "../spec/errors.ts";
import { CELL_TYPES, type LanguageModelConfig } from "../spec/config.ts";
import { COMPUTE_MODES, type ComputeMode } from "./compute.ts";
import { checkInput, DEFAULT_INPUT, type InputConfig } from "../data/input.ts";
import { checkTokensKept, type TokensKept } from "../data/classification.ts";
import { DEFAULT_OPTIMIZER, type OptimizerConfig } from "../spec/optimizer.ts";

/** How the sparse topology is initialised and evolved. */
export interface SparseConfig {
  /** A named method; see src/core/methods.ts. */
  method: MethodName;
  /** Fraction of zeros in the sparse matrices, in [0, 1). */
  sparsity: number;
  /** Erdős–Rényi ε, an alternative to `sparsity` (then `init` is `er`). */
  epsilon?: number;
  init: DensityMethod;
  prune: PruneName;
  grow: GrowName;
  /** Initial fraction of each layer pruned and regrown per update. */
  pruneRate: number;
  schedule: ScheduleName;
  /** Topology update every this many steps; 0 = once per epoch. */
  updateEvery: number;
  redistribution: RedistributeName;
  sparseEmbedding: boolean;
  sparseDecoder: boolean;
}

/** Everything a training run needs. */
export interface TrainConfig {
  task: "lm" | "classifier";
  /** Directory with the data files, or one file to `--split` (see docs/data.md). */
  data: string;
  /** How the data is found and read: files, columns, splits, words or characters. */
  input: InputConfig;
  /** Checkpoint path; written after every epoch. */
  out: string;
  /** The model's shape, as the language model's config has it (minus what the data decides). */
  model: Omit<LanguageModelConfig, "kind" | "vocabSize">;
  sparse: SparseConfig;
  epochs: number;
  batchSize: number;
  /** Truncated-BPTT length (language model). */
  bptt: number;
  /** Longest sequence in tokens (classifier); longer ones are cut. */
  maxLength: number;
  /** Which tokens a cut text keeps (classifier): its first or its last `maxLength`. */
  keep: TokensKept;
  /** Largest vocabulary, rarer words becoming `<unk>` (0 = all training words). */
  maxVocab: number;
  /** How fresh weights are scaled (src/core/init.ts). */
  weightInit: WeightInit;
  optimizer: OptimizerConfig;
  learningRate: number;
  /** Learning rate multiplier applied after each epoch. */
  lrDecay: number;
  /**
   * The learning rate is divided by this from every epoch whose validation
   * metric did not improve on the best on (1 = off); see ./selection.ts.
   */
  lrPlateau: number;
  /**
   * Tokens each epoch's validation evaluates at most (0 = all): the first
   * ones (LM) or a fixed random sample of texts (classifier). The test
   * split is always whole.
   */
  evalMaxTokens: number;
  /** Share of the training texts a classifier holds out when its data has no valid split. */
  validFraction: number;
  /** Global gradient-norm clip (0 = off). */
  clipNorm: number;
  seed: number;
  backend: BackendName;
  /**
   * How steps are computed: `sparse`, the CPU engine on the nonzeros only,
   * or `masked`, tfjs on dense tensors with masks (the reference, and the
   * path for the webgpu backend).
   */
  compute: ComputeMode;
  /** Threads of `--compute sparse`; 0 = one per core. */
  threads: number;
  /** Stop each epoch after this many steps (0 = whole epoch); for smoke runs. */
  maxSteps: number;
  /** Print progress every this many steps (0 = only per epoch). */
  logEvery: number;
  /** The `--preset` the run started from, if any (its settings are recorded in full). */
  preset?: string;
}

/**
 * The sparse settings of a named method (its preset in src/core/methods.ts),
 * with `overrides` applied on top. Settings a method does not use (the
 * growth of `dense`, say) keep the ST-RNN values so the record stays complete.
 */
export function sparseConfigFor(
  method: string,
  overrides: Partial<SparseConfig> = {},
): SparseConfig {
  const preset = methodPreset(method);
  return {
    method: preset.name,
    sparsity: 0.8,
    init: preset.init ?? "uniform",
    prune: preset.prune ?? "magnitude",
    grow: preset.grow ?? "random",
    pruneRate: preset.initialPruneRate,
    schedule: preset.schedule ?? "cosine",
    updateEvery: 0,
    redistribution: preset.redistribute,
    sparseEmbedding: false,
    sparseDecoder: false,
    ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)),
  };
}

/** The paper's ST-RNN: Erdős–Rényi init, magnitude prune, random regrowth, cosine decay. */
export const DEFAULT_SPARSE: SparseConfig = sparseConfigFor("strnn");

/** Defaults for the language model, sized to train on the bundled data in seconds. */
export const DEFAULT_LM_CONFIG: TrainConfig = {
  task: "lm",
  data: "fixtures/tinylm",
  input: { ...DEFAULT_INPUT, split: [] },
  out: "runs/lm/checkpoint.sparrow",
  model: { cell: "lstm", embedSize: 64, hiddenSize: 128, layers: 2, dropout: 0.1 },
  sparse: DEFAULT_SPARSE,
  epochs: 6,
  batchSize: 16,
  bptt: 20,
  maxLength: 0,
  keep: "first",
  maxVocab: 0,
  weightInit: "dense",
  optimizer: DEFAULT_OPTIMIZER.adam,
  learningRate: 0.005,
  lrDecay: 0.8,
  lrPlateau: 1,
  evalMaxTokens: 0,
  validFraction: 0.05,
  clipNorm: 0.25,
  seed: 1,
  backend: "wasm",
  compute: "sparse",
  threads: 0,
  maxSteps: 0,
  logEvery: 50,
};

/** Defaults for the classifier, sized to train on the bundled data in seconds. */
export const DEFAULT_CLASSIFIER_CONFIG: TrainConfig = {
  ...DEFAULT_LM_CONFIG,
  task: "classifier",
  data: "fixtures/sentiment",
  out: "runs/classifier/checkpoint.sparrow",
  model: { cell: "lstm", embedSize: 64, hiddenSize: 64, layers: 1, dropout: 0.1 },
  epochs: 8,
  batchSize: 32,
  maxLength: 60,
  maxVocab: 20000,
  learningRate: 0.01,
  lrDecay: 0.9,
  clipNorm: 1,
};

/**
 * The dense quantities a run must compute, from the strategies it actually
 * uses (a flag may pick a growth rule outside its method's preset).
 */
export function sparseNeeds(c: TrainConfig): {
  denseGradientAtUpdate: boolean;
  denseMomentumEveryStep: boolean;
} {
  const dynamic = methodPreset(c.sparse.method).kind === "dynamic";
  return {
    denseGradientAtUpdate: dynamic && c.sparse.grow === "gradient",
    denseMomentumEveryStep: dynamic &&
      (c.sparse.grow === "momentum" || c.sparse.redistribution === "momentum"),
  };
}

/** Throws a UserError naming the first invalid setting and its fix. */
export function validateConfig(c: TrainConfig): void {
  const positiveInt = (v: number, flag: string) =>
    check(Number.isInteger(v) && v > 0, `${flag} must be a positive whole number, got ${v}`);
  check(
    Number.isFinite(c.sparse.sparsity) && c.sparse.sparsity >= 0 && c.sparse.sparsity < 1,
    `--sparsity must be in [0, 1), got ${c.sparse.sparsity}; e.g. --sparsity 0.9 keeps 10% of the weights`,
  );
  if (c.sparse.epsilon !== undefined) {
    check(c.sparse.epsilon > 0, `--epsilon must be positive, got ${c.sparse.epsilon}`);
    check(
      methodPreset(c.sparse.method).kind === "dynamic",
      `--epsilon sets the initial sparse topology; ${c.sparse.method} does not start sparse: use --sparsity`,
    );
    check(
      c.sparse.init !== "uniform",
      "--epsilon is an Erdős–Rényi density: use it with --init er or erk, or use --sparsity with --init uniform",
    );
  }
  const momentumSlot = c.optimizer.name === "adam" || c.optimizer.momentum > 0;
  check(
    !sparseNeeds(c).denseMomentumEveryStep || momentumSlot,
    "momentum growth or redistribution needs optimizer momentum: use --optimizer adam or --momentum > 0",
  );
  check(
    c.sparse.pruneRate >= 0 && c.sparse.pruneRate <= 1,
    `--prune-rate must be in [0, 1], got ${c.sparse.pruneRate}`,
  );
  check(
    Number.isInteger(c.sparse.updateEvery) && c.sparse.updateEvery >= 0,
    `--update-every must be 0 (once per epoch) or a positive number of steps, got ${c.sparse.updateEvery}`,
  );
  check(
    (CELL_TYPES as readonly string[]).includes(c.model.cell),
    `--cell must be one of ${CELL_TYPES.join(", ")}, got ${c.model.cell}`,
  );
  positiveInt(c.model.embedSize, "--embed-size");
  positiveInt(c.model.hiddenSize, "--hidden-size");
  positiveInt(c.model.layers, "--layers");
  if (c.model.depth !== undefined) {
    check(c.model.cell === "rhn", "--depth is the recurrence depth of --cell rhn; drop it");
    positiveInt(c.model.depth, "--depth");
  }
  check(
    c.task === "lm" || c.model.layers === 1,
    "the classifier has exactly one LSTM layer; drop --layers",
  );
  if (c.model.tieWeights) {
    check(
      c.task === "lm",
      "--tie-weights ties a language model's decoder to its embedding; drop it",
    );
    check(
      c.model.embedSize === c.model.hiddenSize,
      `--tie-weights needs --embed-size equal to --hidden-size, got ${c.model.embedSize} and ${c.model.hiddenSize}`,
    );
    check(
      !c.sparse.sparseDecoder,
      "--tie-weights makes the decoder the embedding; use --sparse-embedding instead of --sparse-decoder",
    );
    check(
      c.sparse.method !== "small-dense",
      "--method small-dense shrinks only the hidden size, which --tie-weights holds equal to the embedding size; drop --tie-weights",
    );
  }
  if (c.model.variational) {
    check(
      c.task === "lm",
      "variational dropout (--dropout-embedding/-input/-hidden/-output) is for the language model; use --dropout",
    );
    for (const [site, rate] of Object.entries(c.model.variational)) {
      check(rate >= 0 && rate < 1, `--dropout-${site} must be in [0, 1), got ${rate}`);
    }
    check(
      c.model.variational.hidden === 0 || c.model.cell === "rhn",
      "--dropout-hidden drops the state inside an RHN's micro-layers; use it with --cell rhn",
    );
  }
  check(
    c.model.dropout >= 0 && c.model.dropout < 1,
    `--dropout must be in [0, 1), got ${c.model.dropout}`,
  );
  positiveInt(c.epochs, "--epochs");
  positiveInt(c.batchSize, "--batch-size");
  if (c.task === "lm") positiveInt(c.bptt, "--bptt");
  else positiveInt(c.maxLength, "--max-length");
  checkTokensKept(c.keep);
  check(
    (WEIGHT_INITS as readonly string[]).includes(c.weightInit),
    `--weight-init must be one of ${WEIGHT_INITS.join(", ")}, got ${c.weightInit}`,
  );
  check(c.learningRate > 0, `--lr must be positive, got ${c.learningRate}`);
  check(
    c.optimizer.momentum >= 0 && c.optimizer.momentum < 1,
    `--momentum must be in [0, 1), got ${c.optimizer.momentum}`,
  );
  check(c.clipNorm >= 0, `--clip must be 0 (off) or positive, got ${c.clipNorm}`);
  check(
    Number.isInteger(c.maxVocab) && c.maxVocab >= 0,
    `--max-vocab must be 0 (every training word) or a positive size, got ${c.maxVocab}`,
  );
  check(
    Number.isInteger(c.maxSteps) && c.maxSteps >= 0,
    `--max-steps must be 0 (whole epochs) or a positive number of steps, got ${c.maxSteps}`,
  );
  check(
    Number.isInteger(c.logEvery) && c.logEvery >= 0,
    `--log-every must be 0 (per epoch only) or a positive number of steps, got ${c.logEvery}`,
  );
  check(c.lrDecay > 0 && c.lrDecay <= 1, `--lr-decay must be in (0, 1], got ${c.lrDecay}`);
  check(
    Number.isFinite(c.lrPlateau) && c.lrPlateau >= 1,
    `--lr-plateau must be 1 (off) or a factor above 1 to divide the learning rate by, got ${c.lrPlateau}; e.g. --lr-plateau 1.33`,
  );
  check(
    Number.isInteger(c.evalMaxTokens) && c.evalMaxTokens >= 0,
    `--eval-max-tokens must be 0 (the whole valid split) or a positive number of tokens, got ${c.evalMaxTokens}`,
  );
  check(
    c.validFraction > 0 && c.validFraction < 1,
    `--valid-fraction must be in (0, 1), got ${c.validFraction}; e.g. --valid-fraction 0.1 holds out 10% of the training texts`,
  );
  check(Number.isInteger(c.seed), `--seed must be a whole number, got ${c.seed}`);
  check(
    (COMPUTE_MODES as readonly string[]).includes(c.compute),
    `--compute must be one of ${COMPUTE_MODES.join(", ")}, got ${c.compute}`,
  );
  checkInput(c.task, c.input);
  check(
    Number.isInteger(c.threads) && c.threads >= 0,
    `--threads must be 0 (one per core) or a positive number of threads, got ${c.threads}`,
  );
  check(
    c.compute === "masked" || c.backend !== "webgpu",
    "--compute sparse runs on the CPU; use --compute masked with --backend webgpu",
  );
}
