/**
 * A plain TypeScript forward pass for both model kinds, computed in float64
 * with explicit loops. It is slow and has no dependencies, which makes it the
 * oracle that exported ONNX graphs (and any backend) are checked against.
 *
 * Weights use the layout described in `config.ts`: `x @ W`, gates fused
 * column-wise in the order i, f, c, o, and `i=σ, f=σ, g=tanh, o=σ`,
 * `c' = f·c + i·g`, `h' = o·tanh(c')`, with no forget-bias offset. A GRU
 * (gates z, r, n) computes `n = tanh(W_n·x + b_n + r·(R_n·h + bR))`,
 * `h' = (1 − z)·n + z·h` and has no cell state. An RHN layer
 * (./rhn_reference.ts) keeps one state vector, carried as `h`; its `c` stays
 * zero.
 *
 * @module
 */

import {
  type ClassifierConfig,
  type LanguageModelConfig,
  type ModelConfig,
  paramSpecs,
  sizeOf,
  tiedDecoder,
} from "./config.ts";
import { check } from "./errors.ts";
import type { HostParams } from "./params.ts";
import { rhnLayers, rhnStep } from "./rhn_reference.ts";

/**
 * Recurrent state of every layer, each `[layers, batch, hidden]` row-major.
 * A GRU has no cell state: its `c` is empty.
 */
export interface RecurrentState {
  h: Float32Array;
  c: Float32Array;
}

/** The result of {@link referenceLmForward}. */
export interface LmForwardResult {
  /** `[T, B, V]` row-major. */
  logits: Float32Array;
  /** Final state after the last step, to continue the sequence from. */
  state: RecurrentState;
}

/**
 * Checks that `weights` holds every parameter of `config` with the right
 * shape, so a mismatched checkpoint fails with a message instead of NaNs.
 */
export function checkWeights(config: ModelConfig, weights: HostParams): void {
  for (const spec of paramSpecs(config)) {
    const w = weights[spec.name];
    check(
      w !== undefined,
      `Weights lack parameter ${spec.name}; use weights saved for this model config`,
    );
    check(
      w.shape.length === spec.shape.length &&
        w.shape.every((d, i) => d === spec.shape[i]) &&
        w.data.length === sizeOf(spec.shape),
      `Parameter ${spec.name} has shape [${w.shape}] but the config needs [${spec.shape}]; use weights saved for this model config`,
    );
  }
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** One recurrent layer's parameters with its sizes (`bR` for a GRU only). */
interface CellLayer {
  cell: ModelConfig["cell"];
  W: Float32Array;
  R: Float32Array;
  b: Float32Array;
  bR?: Float32Array;
  inputSize: number;
  hidden: number;
}

function cellLayers(config: ModelConfig, weights: HostParams): CellLayer[] {
  const layers: CellLayer[] = [];
  for (let l = 0; l < config.layers; l++) {
    const p = `${config.cell}.${l}`;
    layers.push({
      cell: config.cell,
      W: weights[`${p}.W`].data,
      R: weights[`${p}.R`].data,
      b: weights[`${p}.b`].data,
      bR: config.cell === "gru" ? weights[`${p}.bR`].data : undefined,
      inputSize: l === 0 ? config.embedSize : config.hiddenSize,
      hidden: config.hiddenSize,
    });
  }
  return layers;
}

/** `b + x·W` and `h·R` of one step, each over all fused gate columns. */
function projections(layer: CellLayer, x: Float64Array, h: Float64Array, G: number) {
  const zx = new Float64Array(G);
  const zh = new Float64Array(G);
  for (let j = 0; j < G; j++) zx[j] = layer.b[j];
  for (let k = 0; k < layer.inputSize; k++) {
    const xk = x[k];
    if (xk === 0) continue;
    const row = k * G;
    for (let j = 0; j < G; j++) zx[j] += xk * layer.W[row + j];
  }
  for (let k = 0; k < layer.hidden; k++) {
    const hk = h[k];
    if (hk === 0) continue;
    const row = k * G;
    for (let j = 0; j < G; j++) zh[j] += hk * layer.R[row + j];
  }
  return { zx, zh };
}

/** Advances one layer of either cell by one step; `h` and `c` are updated in place. */
function cellStep(layer: CellLayer, x: Float64Array, h: Float64Array, c: Float64Array): void {
  if (layer.cell === "gru") gruStep(layer, x, h);
  else lstmStep(layer, x, h, c);
}

/** Advances one GRU layer by one step; `h` is updated in place. */
function gruStep(layer: CellLayer, x: Float64Array, h: Float64Array): void {
  const H = layer.hidden;
  const { zx, zh } = projections(layer, x, h, 3 * H);
  for (let j = 0; j < H; j++) {
    const z = sigmoid(zx[j] + zh[j]);
    const r = sigmoid(zx[H + j] + zh[H + j]);
    const n = Math.tanh(zx[2 * H + j] + r * (zh[2 * H + j] + layer.bR![j]));
    h[j] = n + z * (h[j] - n);
  }
}

/** Advances one LSTM layer by one step; `h` and `c` are updated in place. */
function lstmStep(
  layer: CellLayer,
  x: Float64Array,
  h: Float64Array,
  c: Float64Array,
): void {
  const H = layer.hidden;
  const G = 4 * H;
  const z = new Float64Array(G);
  for (let j = 0; j < G; j++) z[j] = layer.b[j];
  for (let k = 0; k < layer.inputSize; k++) {
    const xk = x[k];
    if (xk === 0) continue;
    const row = k * G;
    for (let j = 0; j < G; j++) z[j] += xk * layer.W[row + j];
  }
  for (let k = 0; k < H; k++) {
    const hk = h[k];
    if (hk === 0) continue;
    const row = k * G;
    for (let j = 0; j < G; j++) z[j] += hk * layer.R[row + j];
  }
  for (let j = 0; j < H; j++) {
    const i = sigmoid(z[j]);
    const f = sigmoid(z[H + j]);
    const g = Math.tanh(z[2 * H + j]);
    const o = sigmoid(z[3 * H + j]);
    c[j] = f * c[j] + i * g;
    h[j] = o * Math.tanh(c[j]);
  }
}

/** Advances one layer by one step on input `x`, updating its state `h`, `c` in place. */
type LayerStep = (x: Float64Array, h: Float64Array, c: Float64Array) => void;

/** One step function per layer of `config`'s cell. */
function layerSteps(config: ModelConfig, weights: HostParams): LayerStep[] {
  switch (config.cell) {
    case "lstm":
    case "gru":
      return cellLayers(config, weights).map((layer) => (x, h, c) => cellStep(layer, x, h, c));
    case "rhn":
      return rhnLayers(config, weights).map((layer) => (x, h) => rhnStep(layer, x, h));
  }
}

function embed(
  config: ModelConfig,
  weights: HostParams,
  token: number,
): Float64Array {
  check(
    Number.isInteger(token) && token >= 0 && token < config.vocabSize,
    `Token id ${token} is outside the vocabulary [0, ${config.vocabSize}); encode text with this model's vocabulary`,
  );
  const E = config.embedSize;
  return Float64Array.from(
    weights.embedding.data.subarray(token * E, (token + 1) * E),
  );
}

/**
 * Writes `h @ decoder.W + decoder.b` into `out` at `offset`; a tied decoder
 * is the embedding's transpose, `h @ embeddingᵀ + decoder.b`.
 */
function decode(
  config: ModelConfig,
  weights: HostParams,
  h: Float64Array,
  out: Float32Array,
  offset: number,
): void {
  const b = weights["decoder.b"].data;
  const outSize = b.length;
  const H = h.length;
  // Entry (k, j) of the [H, out] decoder matrix.
  const tied = tiedDecoder(config);
  const W = tied ? weights.embedding.data : weights["decoder.W"].data;
  for (let j = 0; j < outSize; j++) {
    let sum = b[j];
    for (let k = 0; k < H; k++) sum += h[k] * (tied ? W[j * H + k] : W[k * outSize + j]);
    out[offset + j] = sum;
  }
}

/**
 * Runs the language model over `tokens` (`[T][B]`, time-major) starting from
 * `state` (zeros when absent) and returns `[T, B, V]` logits and the final
 * state, `[L, B, H]` each.
 */
export function referenceLmForward(
  config: LanguageModelConfig,
  weights: HostParams,
  tokens: number[][],
  state?: RecurrentState,
): LmForwardResult {
  checkWeights(config, weights);
  const T = tokens.length;
  const B = T > 0 ? tokens[0].length : 0;
  check(
    tokens.every((row) => row.length === B),
    "Token batch rows differ in length; pass a [T][B] array with B ids per step",
  );
  const L = config.layers;
  const H = config.hiddenSize;
  const V = config.vocabSize;
  const cellState = config.cell === "gru" ? 0 : L * B * H;
  if (state) {
    check(
      state.h.length === L * B * H && state.c.length === cellState,
      `State must hold [${L}, ${B}, ${H}] values per tensor; pass the state returned for this batch`,
    );
  }
  const layers = layerSteps(config, weights);
  // h[l][b] and c[l][b] as float64 vectors, seeded from the given state.
  const h: Float64Array[][] = [];
  const c: Float64Array[][] = [];
  for (let l = 0; l < L; l++) {
    h.push([]);
    c.push([]);
    for (let b = 0; b < B; b++) {
      const at = (l * B + b) * H;
      h[l].push(
        state ? Float64Array.from(state.h.subarray(at, at + H)) : new Float64Array(H),
      );
      c[l].push(
        state && cellState ? Float64Array.from(state.c.subarray(at, at + H)) : new Float64Array(H),
      );
    }
  }
  const logits = new Float32Array(T * B * V);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      let x = embed(config, weights, tokens[t][b]);
      for (let l = 0; l < L; l++) {
        layers[l](x, h[l][b], c[l][b]);
        x = h[l][b];
      }
      decode(config, weights, x, logits, (t * B + b) * V);
    }
  }
  const out: RecurrentState = {
    h: new Float32Array(L * B * H),
    c: new Float32Array(cellState),
  };
  for (let l = 0; l < L; l++) {
    for (let b = 0; b < B; b++) {
      out.h.set(h[l][b], (l * B + b) * H);
      if (cellState) out.c.set(c[l][b], (l * B + b) * H);
    }
  }
  return { logits, state: out };
}

/**
 * Classifies each sequence (its own length, no padding) from the top layer's
 * hidden state after its last token; returns `[B, C]` logits.
 */
export function referenceClassifierForward(
  config: ClassifierConfig,
  weights: HostParams,
  sequences: number[][],
): Float32Array {
  checkWeights(config, weights);
  const C = config.numClasses;
  const H = config.hiddenSize;
  const layers = layerSteps(config, weights);
  const logits = new Float32Array(sequences.length * C);
  sequences.forEach((sequence, b) => {
    const h = layers.map(() => new Float64Array(H));
    const c = layers.map(() => new Float64Array(H));
    for (const token of sequence) {
      let x = embed(config, weights, token);
      layers.forEach((step, l) => {
        step(x, h[l], c[l]);
        x = h[l];
      });
    }
    decode(config, weights, h[layers.length - 1], logits, b * C);
  });
  return logits;
}
