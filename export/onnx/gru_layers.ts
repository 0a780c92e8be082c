/**
 * One GRU layer as the standard ONNX `GRU` operator with
 * `linear_before_reset=1`, which is sparrow's GRU (and PyTorch's): the reset
 * gate scales the candidate's recurrent term `R_n·h + Rb_n`.
 *
 * sparrow's gate order z, r, n is ONNX's z, r, h, so the matrices only need
 * transposing: `W` `[1, 3H, inputs]`, `R` `[1, 3H, H]`. ONNX's bias
 * `[1, 6H]` is the input bias `Wb` (sparrow's `b`, which also stands for the
 * recurrent biases of z and r) followed by `Rb = [0, 0, bR]`.
 *
 * A GRU has no cell state, so its layers read and write `h` only. The
 * `Scan` over the nonzeros (`--compute sparse-scan`) is in `gru_scan.ts`.
 *
 * @module
 */

import { type GraphBuilder, intAttr } from "./builder.ts";
import type { LayerShape } from "./lstm_layers.ts";
import { int64Constant, type WeightStore } from "./storage.ts";

/** One GRU layer's trained parameters, Keras layout (gates z, r, n). */
export interface GruLayerWeights extends LayerShape {
  /** `[inputSize, 3H]`. */
  W: Float32Array;
  /** `[H, 3H]`. */
  R: Float32Array;
  /** `[3H]`. */
  b: Float32Array;
  /** `[H]`. */
  bR: Float32Array;
}

/** Graph values a GRU layer reads. */
export interface GruLayerInputs {
  /** Input sequence `[T, B, inputSize]`. */
  x: string;
  /** Initial hidden state `[1, B, H]`. */
  h0: string;
  /** Valid length of each sequence, int32 `[B]`; all `T` when absent. */
  lengths?: string;
}

/** Graph values a GRU layer produces. */
export interface GruLayerOutputs {
  /** Output sequence `[T, B, H]`; only when requested. */
  y?: string;
  /** Final hidden state `[1, B, H]` (at each sequence's length). */
  h: string;
}

/** Builds one GRU layer; `needY` asks for the full output sequence. */
export type GruLayerBuilder = (
  graph: GraphBuilder,
  store: WeightStore,
  weights: GruLayerWeights,
  inputs: GruLayerInputs,
  needY: boolean,
) => GruLayerOutputs;

/** Keras `[inputs, 3H]` as `[3H, inputs]` rows (for `W @ x`). */
export function transposeGates(keras: Float32Array, inputs: number, hidden: number): Float32Array {
  const G = 3 * hidden;
  const out = new Float32Array(G * inputs);
  for (let r = 0; r < G; r++) {
    for (let k = 0; k < inputs; k++) out[r * inputs + k] = keras[k * G + r];
  }
  return out;
}

/** ONNX's `[6H]` bias: `Wb = b`, `Rb = [0, 0, bR]`. */
export function gruOnnxBias(b: Float32Array, bR: Float32Array, hidden: number): Float32Array {
  const out = new Float32Array(6 * hidden);
  out.set(b);
  out.set(bR, 5 * hidden);
  return out;
}

/** A layer as the standard ONNX `GRU` operator. */
export const addGruOpLayer: GruLayerBuilder = (graph, store, weights, inputs, needY) => {
  const { index: l, inputSize, hidden: H } = weights;
  const p = `gru.${l}`;
  const W = store.weight(`${p}.W`, transposeGates(weights.W, inputSize, H), [1, 3 * H, inputSize]);
  const R = store.weight(`${p}.R`, transposeGates(weights.R, H, H), [1, 3 * H, H]);
  const B = store.weight(`${p}.b`, gruOnnxBias(weights.b, weights.bR, H), [1, 6 * H]);
  const [y, h] = graph.addNode(
    "GRU",
    [inputs.x, W, R, B, inputs.lengths ?? "", inputs.h0],
    [needY ? graph.uniqueName(`${p}.Y`) : "", graph.uniqueName(`${p}.Y_h`)],
    { hidden_size: intAttr(H), linear_before_reset: intAttr(1) },
    { name: p },
  );
  if (!needY) return { h };
  const axis = int64Constant(graph, "axis_1", [1]);
  const [out] = graph.addNode("Squeeze", [y, axis], [graph.uniqueName(`${p}.out`)]);
  return { y: out, h };
};
