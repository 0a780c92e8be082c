/**
 * Model configurations as plain typed data, and the names and shapes of every
 * parameter they own. Training, checkpoints, export and the sparse-topology
 * core all agree on parameters through {@link paramSpecs}.
 *
 * Weight layout (the same as tfjs and Keras): a layer computes `x @ W`, so a
 * weight matrix is `[inputs, outputs]`, row-major. LSTM gate matrices are
 * fused column-wise in the order **i, f, c, o** (input, forget, cell, output):
 * `lstm.L.W` is `[in, 4H]`, `lstm.L.R` is `[H, 4H]`, `lstm.L.b` is `[4H]`.
 * ONNX orders gates i, o, f, c; the exporter reorders them.
 *
 * GRU gate matrices are fused in the order **z, r, n** (update, reset,
 * candidate), ONNX's own order: `gru.L.W` is `[in, 3H]`, `gru.L.R` is
 * `[H, 3H]`, `gru.L.b` is `[3H]` (the input-side biases, which also stand for
 * the recurrent biases of z and r), and `gru.L.bR` is `[H]`, the candidate's
 * recurrent bias, which the reset gate scales (PyTorch's GRU, ONNX GRU with
 * `linear_before_reset=1`): `n = tanh(W_n·x + b_n + r ⊙ (R_n·h + bR))`,
 * `h' = (1 − z) ⊙ n + z ⊙ h`.
 *
 * A Recurrent Highway Network layer (`cell: "rhn"`, Zilly et al. 2017) has
 * `depth` micro-layers per time step, each with a candidate `h` (tanh) and a
 * transform gate `t` (σ) fused column-wise in that order, the carry gate
 * coupled as `1 − t`: `rhn.L.W` is `[in, 2H]` (the input enters micro-layer 0
 * only), and micro-layer k has `rhn.L.R.k` `[H, 2H]` and `rhn.L.b.k` `[2H]`.
 *
 * @module
 */

/** The recurrent cells sparrow trains; `--cell` picks one. */
export const CELL_TYPES = ["lstm", "gru", "rhn"] as const;

/** The recurrent cell. */
export type CellType = typeof CELL_TYPES[number];

/** A word-level language model: embedding, stacked LSTM, dropout, linear decoder. */
export interface LanguageModelConfig {
  kind: "lm";
  cell: CellType;
  vocabSize: number;
  embedSize: number;
  hiddenSize: number;
  layers: number;
  /** Micro-layers per time step of an RHN cell; unset for other cells. */
  depth?: number;
  dropout: number;
  /**
   * The decoder is the embedding's transpose (Press & Wolf 2017): no
   * `decoder.W`, logits `h·Eᵀ + decoder.b`. Needs `embedSize = hiddenSize`.
   */
  tieWeights?: boolean;
  /**
   * Variational dropout rates (../core/variational_dropout.ts), applied in
   * training on top of `dropout`; unset = none.
   */
  variational?: VariationalRates;
}

/** The four rates of variational dropout; 0 turns a site off. */
export interface VariationalRates {
  /** Word types, the same for every occurrence in a sequence. */
  embedding: number;
  /** Each recurrent layer's input. */
  input: number;
  /** The state entering each RHN micro-layer's recurrent product. */
  hidden: number;
  /** Each recurrent layer's output. */
  output: number;
}

/** A text classifier: embedding, one LSTM layer, linear head on the last state. */
export interface ClassifierConfig {
  kind: "classifier";
  cell: CellType;
  vocabSize: number;
  embedSize: number;
  hiddenSize: number;
  layers: number;
  /** Micro-layers per time step of an RHN cell; unset for other cells. */
  depth?: number;
  numClasses: number;
  dropout: number;
}

/** Either model kind. */
export type ModelConfig = LanguageModelConfig | ClassifierConfig;

/** What a parameter is, which decides whether it may be sparse. */
export type ParamRole = "embedding" | "gate" | "decoder" | "bias";

/** The name, shape and role of one parameter. */
export interface ParamSpec {
  name: string;
  /** `[rows, cols]` for matrices, `[n]` for biases. */
  shape: number[];
  role: ParamRole;
  /**
   * How many gate matrices are fused column-wise into this one (4 for LSTM
   * W and R, 1 otherwise). Erdős–Rényi densities are computed per gate
   * matrix, as in the paper.
   */
  gates: number;
}

/** Number of gates fused into one matrix for a cell type. */
export function gateCount(cell: CellType): number {
  switch (cell) {
    case "lstm":
      return 4;
    case "gru":
      return 3;
    case "rhn":
      return 2;
  }
}

/** An RHN layer's micro-layers per time step when `--depth` is not given (the paper's). */
export const DEFAULT_RHN_DEPTH = 10;

/** The recurrence depth of a model's cell: micro-layers per step (1 for an LSTM). */
export function recurrenceDepth(config: { cell: CellType; depth?: number }): number {
  return config.cell === "rhn" ? config.depth ?? DEFAULT_RHN_DEPTH : 1;
}

/** Whether the decoder reuses the embedding (a language model with `tieWeights`). */
export function tiedDecoder(config: ModelConfig): boolean {
  return config.kind === "lm" && config.tieWeights === true;
}

/** A model's variational dropout rates, if it trains with any. */
export function variationalRates(config: ModelConfig): VariationalRates | undefined {
  return config.kind === "lm" ? config.variational : undefined;
}

/** The size of the decoder's output: vocabulary for an LM, classes for a classifier. */
export function outputSize(config: ModelConfig): number {
  return config.kind === "lm" ? config.vocabSize : config.numClasses;
}

/** Every parameter of a model, in a fixed order. */
export function paramSpecs(config: ModelConfig): ParamSpec[] {
  const g = gateCount(config.cell);
  const H = config.hiddenSize;
  const specs: ParamSpec[] = [
    {
      name: "embedding",
      shape: [config.vocabSize, config.embedSize],
      role: "embedding",
      gates: 1,
    },
  ];
  for (let l = 0; l < config.layers; l++) {
    const inputSize = l === 0 ? config.embedSize : H;
    switch (config.cell) {
      case "lstm":
      case "gru": {
        const p = `${config.cell}.${l}`;
        specs.push(
          { name: `${p}.W`, shape: [inputSize, g * H], role: "gate", gates: g },
          { name: `${p}.R`, shape: [H, g * H], role: "gate", gates: g },
          { name: `${p}.b`, shape: [g * H], role: "bias", gates: g },
        );
        if (config.cell === "gru") {
          specs.push({ name: `${p}.bR`, shape: [H], role: "bias", gates: 1 });
        }
        break;
      }
      case "rhn":
        specs.push({ name: `rhn.${l}.W`, shape: [inputSize, g * H], role: "gate", gates: g });
        for (let k = 0; k < recurrenceDepth(config); k++) {
          specs.push(
            { name: `rhn.${l}.R.${k}`, shape: [H, g * H], role: "gate", gates: g },
            { name: `rhn.${l}.b.${k}`, shape: [g * H], role: "bias", gates: g },
          );
        }
        break;
    }
  }
  const out = outputSize(config);
  if (!tiedDecoder(config)) {
    specs.push({ name: "decoder.W", shape: [H, out], role: "decoder", gates: 1 });
  }
  specs.push({ name: "decoder.b", shape: [out], role: "bias", gates: 1 });
  return specs;
}

/** Number of elements of a shape. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
