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
 * @module
 */

/** The recurrent cells sparrow trains; `--cell` picks one. */
export const CELL_TYPES = ["lstm", "gru"] as const;

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
  dropout: number;
}

/** A text classifier: embedding, one LSTM layer, linear head on the last state. */
export interface ClassifierConfig {
  kind: "classifier";
  cell: CellType;
  vocabSize: number;
  embedSize: number;
  hiddenSize: number;
  layers: number;
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
  }
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
    const p = `${config.cell}.${l}`;
    specs.push(
      { name: `${p}.W`, shape: [inputSize, g * H], role: "gate", gates: g },
      { name: `${p}.R`, shape: [H, g * H], role: "gate", gates: g },
      { name: `${p}.b`, shape: [g * H], role: "bias", gates: g },
    );
    if (config.cell === "gru") specs.push({ name: `${p}.bR`, shape: [H], role: "bias", gates: 1 });
  }
  const out = outputSize(config);
  specs.push(
    { name: "decoder.W", shape: [H, out], role: "decoder", gates: 1 },
    { name: "decoder.b", shape: [out], role: "bias", gates: 1 },
  );
  return specs;
}

/** Number of elements of a shape. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
