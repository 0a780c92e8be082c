/**
 * Parameter and FLOPs accounting, in the spirit of the ST-RNN paper's
 * Tables 2 and 3. The conventions (what counts as a FLOP, what is left out)
 * are written down with a worked example in docs/flops.md; the short
 * version:
 *
 * - A multiply-add is 2 FLOPs, so `x @ W` costs `2·nnz(W)` per token.
 * - Every elementwise operation, sigmoid and tanh included, is 1 FLOP.
 * - An LSTM cell adds `17·H` elementwise FLOPs per token; an RHN micro-layer
 *   `8·H` (`10·H` for the first, which also adds the input product).
 * - The embedding lookup, dropout, softmax and loss cost 0.
 * - Training costs forward `f` plus backward `2f` per token; methods that
 *   need dense weight gradients pay `2·(size - nnz)` per matrix per token
 *   extra whenever they compute them.
 *
 * @module
 */

import { check } from "../spec/errors.ts";
import {
  type ModelConfig,
  type ParamRole,
  paramSpecs,
  sizeOf,
  tiedDecoder,
} from "../spec/config.ts";
import { type MethodName, methodPreset } from "./methods.ts";
import { type GmpScheduleOptions, gmpSparsity } from "./schedule.ts";

/** Nonzero counts by parameter name; parameters not named are dense. */
export type NonzeroCounts = Readonly<Record<string, number>>;

/** One parameter's count. */
export interface ParamCount {
  name: string;
  role: ParamRole;
  size: number;
  nonzeros: number;
}

/** Every parameter's count and the totals. */
export interface ParameterReport {
  params: ParamCount[];
  /** All entries of all parameters. */
  total: number;
  /** Nonzero entries of all parameters. */
  nonzeros: number;
  /** `1 - nonzeros / total`. */
  sparsity: number;
}

/** The parameters of `config` with their nonzero counts. */
export function parameterReport(
  config: ModelConfig,
  nonzeros: NonzeroCounts = {},
): ParameterReport {
  const specs = paramSpecs(config);
  for (const name of Object.keys(nonzeros)) {
    if (!specs.some((spec) => spec.name === name)) {
      throw new RangeError(`no parameter named "${name}" in this model`);
    }
  }
  const params = specs.map((spec) => {
    const size = sizeOf(spec.shape);
    const count = nonzeros[spec.name] ?? size;
    if (!Number.isInteger(count) || count < 0 || count > size) {
      throw new RangeError(
        `${spec.name}: nonzero count ${count} is not in [0, ${size}]`,
      );
    }
    return { name: spec.name, role: spec.role, size, nonzeros: count };
  });
  const total = params.reduce((sum, p) => sum + p.size, 0);
  const nonzeroTotal = params.reduce((sum, p) => sum + p.nonzeros, 0);
  return {
    params,
    total,
    nonzeros: nonzeroTotal,
    sparsity: total === 0 ? 0 : 1 - nonzeroTotal / total,
  };
}

/** One term of the inference cost. */
export interface FlopsTerm {
  /** A parameter name, or `lstm.L.cell` (`gru.L.cell`) for a layer's elementwise math. */
  name: string;
  /** FLOPs per token with sparse kernels. */
  perToken: number;
  /** FLOPs per sequence (the classifier head), with sparse kernels. */
  perSequence: number;
  /** Per-token FLOPs a dense kernel executes on the masked matrix. */
  maskedDensePerToken: number;
  /** Per-sequence FLOPs a dense kernel executes. */
  maskedDensePerSequence: number;
}

/** The inference cost of one model. */
export interface InferenceFlops {
  /** Per token, as the method needs it (sparse kernels). */
  perToken: number;
  /** Per sequence: the classifier head on the last state; 0 for an LM. */
  perSequence: number;
  /** Per token, as a dense kernel on masked weights executes it. */
  maskedDensePerToken: number;
  /** Per sequence, as a dense kernel executes it. */
  maskedDensePerSequence: number;
  terms: FlopsTerm[];
}

/**
 * The forward cost of `config` with the given nonzero counts. An LM runs
 * its decoder every token; a classifier runs its head once per sequence.
 */
export function inferenceFlops(
  config: ModelConfig,
  nonzeros: NonzeroCounts = {},
): InferenceFlops {
  const { params } = parameterReport(config, nonzeros);
  const perSequenceDecoder = config.kind === "classifier";
  const terms: FlopsTerm[] = [];
  const add = (
    name: string,
    sparse: number,
    dense: number,
    perSequence = false,
  ) =>
    terms.push({
      name,
      perToken: perSequence ? 0 : sparse,
      perSequence: perSequence ? sparse : 0,
      maskedDensePerToken: perSequence ? 0 : dense,
      maskedDensePerSequence: perSequence ? dense : 0,
    });
  for (const p of params) {
    switch (p.role) {
      case "embedding":
        add(p.name, 0, 0);
        // A tied decoder multiplies by the embedding's transpose every token.
        if (tiedDecoder(config)) add("decoder (tied)", 2 * p.nonzeros, 2 * p.size);
        break;
      case "gate":
        add(p.name, 2 * p.nonzeros, 2 * p.size);
        break;
      case "decoder":
        add(p.name, 2 * p.nonzeros, 2 * p.size, perSequenceDecoder);
        break;
      case "bias":
        if (/^(lstm|gru)\.\d+\.b$/.test(p.name)) {
          // The biases ride along with the cell's elementwise math below.
          const cell = p.name.replace(/\.b$/, ".cell");
          const flops = config.cell === "gru"
            ? gruCellFlops(config.hiddenSize)
            : cellFlops(config.hiddenSize);
          add(cell, flops, flops);
        } else if (/^gru\.\d+\.bR$/.test(p.name)) {
          add(p.name, 0, 0);
        } else if (p.name.startsWith("rhn.")) {
          // One micro-layer's elementwise math, bias included; `rhn.L.b.k` → `rhn.L.cell.k`.
          const cell = p.name.replace(/\.b\.(\d+)$/, ".cell.$1");
          const flops = rhnMicroLayerFlops(config.hiddenSize, cell.endsWith(".cell.0"));
          add(cell, flops, flops);
        } else {
          add(p.name, p.size, p.size, perSequenceDecoder);
        }
        break;
    }
  }
  const sum = (key: Exclude<keyof FlopsTerm, "name">) =>
    terms.reduce((total, term) => total + term[key], 0);
  return {
    perToken: sum("perToken"),
    perSequence: sum("perSequence"),
    maskedDensePerToken: sum("maskedDensePerToken"),
    maskedDensePerSequence: sum("maskedDensePerSequence"),
    terms,
  };
}

/**
 * Elementwise FLOPs of one LSTM step with hidden size `H`: summing the two
 * gate products and the bias (8H), three sigmoids and a tanh (4H),
 * `c = f·c + i·g` (3H) and `h = o·tanh(c)` (2H).
 */
export function cellFlops(hiddenSize: number): number {
  return 17 * hiddenSize;
}

/**
 * Elementwise FLOPs of one GRU step with hidden size `H`: summing the two
 * products and the biases of z and r (4H), the candidate's `R_n·h + bR`, its
 * reset product and its input term and bias (4H), two sigmoids and a tanh
 * (3H) and `h = n + z·(h − n)` (3H).
 */
export function gruCellFlops(hiddenSize: number): number {
  return 14 * hiddenSize;
}

/**
 * Elementwise FLOPs of one RHN micro-layer with state size `H`: adding the
 * bias to the recurrent product (2H; micro-layer 0 also adds the input
 * product, 2H more), a tanh and a sigmoid (2H), and `s = h·t + s·(1 − t)` (4H).
 */
export function rhnMicroLayerFlops(hiddenSize: number, first: boolean): number {
  return (first ? 10 : 8) * hiddenSize;
}

/** What a training run processed. */
export interface TrainingRun {
  method: MethodName;
  /** Tokens processed over the whole run (all epochs). */
  tokens: number;
  /** Optimizer steps over the whole run. */
  steps: number;
  /** Sequences processed, for a classifier's head; ignored for an LM. */
  sequences?: number;
  /** Topology updates over the run (RigL pays a dense gradient at each). */
  topologyUpdates?: number;
  /** The sparsity schedule of `gmp`, over optimizer steps. */
  gmp?: GmpScheduleOptions;
  /**
   * For `gmp`: the mean over steps of (sparsity the step ran at) / (final
   * sparsity), as the run realised it. Pruning happens at update steps only,
   * so this is below the smooth schedule's mean; given, it replaces it.
   */
  gmpMeanPrunedFraction?: number;
}

/** The cost of a training run. */
export interface TrainingFlops {
  /** FLOPs the method needs, with sparse kernels. */
  total: number;
  /** FLOPs dense kernels on masked weights execute (dense gradients free). */
  maskedDense: number;
  /** FLOPs of training the reference model dense on the same data. */
  denseReference: number;
  /** `total / denseReference`. */
  normalized: number;
  /** `maskedDense / denseReference`. */
  maskedDenseNormalized: number;
}

/**
 * The FLOPs of a whole training run of `config` with the given (final)
 * nonzero counts, absolute and normalised by `reference` (default:
 * `config` itself) trained dense. For `small-dense`, pass the shrunk config
 * and the full-size one as `reference`.
 *
 * - dense, small-dense: `3·f_dense` per token, whatever `nonzeros` says.
 * - strnn, set: `3·f` per token.
 * - rigl: `3·f` per token, plus `2·(size - nnz)` per sparse matrix per
 *   token of the batch at each topology update (the dense weight gradient).
 * - snfs: `3·f` plus `2·(size - nnz)` per sparse matrix every token (dense
 *   momentum needs the dense weight gradient every step).
 * - gmp: each step costs `3·f` at that step's density, which follows the
 *   cubic schedule from dense to the given final counts.
 */
export function trainingFlops(
  config: ModelConfig,
  nonzeros: NonzeroCounts,
  run: TrainingRun,
  reference: ModelConfig = config,
): TrainingFlops {
  // Validates the name, which may come from a config file.
  methodPreset(run.method);
  check(
    Number.isFinite(run.tokens) && run.tokens >= 0,
    `tokens must be >= 0, got ${run.tokens}`,
  );
  check(
    Number.isInteger(run.steps) && run.steps >= 1,
    `steps must be an integer >= 1, got ${run.steps}`,
  );
  const sequences = config.kind === "classifier" ? run.sequences : 0;
  check(
    sequences !== undefined && Number.isFinite(sequences) && sequences >= 0,
    "a classifier's training FLOPs need the number of sequences processed",
  );
  const forward = inferenceFlops(config, nonzeros);
  const cost = (perToken: number, perSequence: number) =>
    perToken * run.tokens + perSequence * sequences;
  const sparse = cost(forward.perToken, forward.perSequence);
  const dense = cost(
    forward.maskedDensePerToken,
    forward.maskedDensePerSequence,
  );
  // A dense weight gradient costs what the dense forward product does; the
  // sparse one is already inside the backward 2f.
  const denseGradientExtra = dense - sparse;

  let total: number;
  switch (run.method) {
    case "dense":
    case "small-dense":
      total = 3 * dense;
      break;
    case "strnn":
    case "set":
      total = 3 * sparse;
      break;
    case "rigl": {
      const updates = run.topologyUpdates;
      check(
        updates !== undefined && Number.isInteger(updates) && updates >= 0,
        "RigL's training FLOPs need the number of topology updates",
      );
      total = 3 * sparse + (denseGradientExtra * updates) / run.steps;
      break;
    }
    case "snfs":
      total = 3 * sparse + denseGradientExtra;
      break;
    case "gmp": {
      check(
        run.gmp !== undefined || run.gmpMeanPrunedFraction !== undefined,
        "gmp's training FLOPs need its sparsity schedule",
      );
      const pruned = run.gmpMeanPrunedFraction ?? meanPrunedFraction(run.gmp!, run.steps);
      total = 3 * (dense - denseGradientExtra * pruned);
      break;
    }
  }

  const referenceForward = inferenceFlops(reference);
  const denseReference = 3 *
    cost(
      referenceForward.maskedDensePerToken,
      referenceForward.maskedDensePerSequence,
    );
  const maskedDense = 3 * dense;
  return {
    total,
    maskedDense,
    denseReference,
    normalized: denseReference === 0 ? 0 : total / denseReference,
    maskedDenseNormalized: denseReference === 0 ? 0 : maskedDense / denseReference,
  };
}

/**
 * The average over steps `0 … steps-1` of how far the gmp schedule has gone
 * from dense (0) to the final sparsity (1): `s(t) / s_final`.
 */
export function meanPrunedFraction(
  schedule: GmpScheduleOptions,
  steps: number,
): number {
  if (schedule.finalSparsity === 0) return 0;
  let sum = 0;
  for (let t = 0; t < steps; t++) {
    sum += gmpSparsity(t, schedule) / schedule.finalSparsity;
  }
  return sum / steps;
}
