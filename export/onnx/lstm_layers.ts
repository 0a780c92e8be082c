/**
 * One LSTM layer as ONNX nodes, in each compute mode that uses a fused
 * recurrent operator:
 *
 * - {@link addLstmOpLayer}: the standard `LSTM` op (float32 weights);
 * - {@link addInt8LstmLayer}: onnxruntime's `com.microsoft.DynamicQuantizeLSTM`,
 *   int8 weights with one scale per gate column, activations quantized
 *   on the fly. onnxruntime-only and approximate.
 *
 * Every layer builder shares one contract ({@link LstmLayerInputs} in,
 * {@link LstmLayerOutputs} out), so the model graph does not care which one
 * built a layer; the Scan-based builder in `sparse_scan.ts` follows it too,
 * and a GRU or RHN cell can follow it later.
 *
 * @module
 */

import { type GraphBuilder, intAttr } from "./builder.ts";
import { gateBias, gateColumns, gateRows, ONNX_GATE_ORDER } from "./gates.ts";
import { quantizeColumns } from "./quantize.ts";
import { int64Constant, type WeightStore } from "./storage.ts";

/** Which layer, and its sizes: what the weights of every cell's layer start with. */
export interface LayerShape {
  /** Layer number, used in value names. */
  index: number;
  inputSize: number;
  hidden: number;
}

/** One layer's trained parameters, Keras layout (gates i, f, c, o). */
export interface LstmLayerWeights extends LayerShape {
  /** `[inputSize, 4H]`. */
  W: Float32Array;
  /** `[H, 4H]`. */
  R: Float32Array;
  /** `[4H]`. */
  b: Float32Array;
}

/** Graph values a layer reads. */
export interface LstmLayerInputs {
  /** Input sequence `[T, B, inputSize]`. */
  x: string;
  /** Initial hidden and cell state, `[1, B, H]` each. */
  h0: string;
  c0: string;
  /** Valid length of each sequence, int32 `[B]`; all `T` when absent. */
  lengths?: string;
}

/** Graph values a layer produces. */
export interface LstmLayerOutputs {
  /** Output sequence `[T, B, H]`; only when requested. */
  y?: string;
  /** Final hidden and cell state, `[1, B, H]` each (at each sequence's length). */
  h: string;
  c: string;
}

/** Builds one layer; `needY` asks for the full output sequence. */
export type LstmLayerBuilder = (
  graph: GraphBuilder,
  store: WeightStore,
  weights: LstmLayerWeights,
  inputs: LstmLayerInputs,
  needY: boolean,
) => LstmLayerOutputs;

/** ONNX's `[1, 8H]` bias: the input bias in gate order i,o,f,c, then a zero recurrent bias. */
function onnxBias(weights: LstmLayerWeights): Float32Array {
  const out = new Float32Array(8 * weights.hidden);
  out.set(gateBias(weights.b, weights.hidden, ONNX_GATE_ORDER));
  return out;
}

/** Y `[T, 1, B, H]` without its directions axis. */
function squeezeDirections(graph: GraphBuilder, y: string, name: string): string {
  const axis = int64Constant(graph, "axis_1", [1]);
  return graph.addNode("Squeeze", [y, axis], [graph.uniqueName(name)])[0];
}

function recurrentOutputs(
  graph: GraphBuilder,
  prefix: string,
  needY: boolean,
): string[] {
  return [
    needY ? graph.uniqueName(`${prefix}.Y`) : "",
    graph.uniqueName(`${prefix}.Y_h`),
    graph.uniqueName(`${prefix}.Y_c`),
  ];
}

/** A layer as the standard ONNX `LSTM` operator. */
export const addLstmOpLayer: LstmLayerBuilder = (graph, store, weights, inputs, needY) => {
  const { index: l, inputSize, hidden: H } = weights;
  const W = store.weight(`lstm.${l}.W`, gateRows(weights.W, inputSize, H, ONNX_GATE_ORDER), [
    1,
    4 * H,
    inputSize,
  ]);
  const R = store.weight(`lstm.${l}.R`, gateRows(weights.R, H, H, ONNX_GATE_ORDER), [1, 4 * H, H]);
  const B = store.weight(`lstm.${l}.b`, onnxBias(weights), [1, 8 * H]);
  const [y, h, c] = graph.addNode(
    "LSTM",
    [inputs.x, W, R, B, inputs.lengths ?? "", inputs.h0, inputs.c0],
    recurrentOutputs(graph, `lstm.${l}`, needY),
    { hidden_size: intAttr(H) },
    { name: `lstm.${l}` },
  );
  return { y: needY ? squeezeDirections(graph, y, `lstm.${l}.out`) : undefined, h, c };
};

/**
 * A layer as `com.microsoft.DynamicQuantizeLSTM`: `W` and `R` as int8
 * `[1, inputs, 4H]` (gates i,o,f,c) with a float scale per gate column and
 * zero points of 0; the bias stays float.
 */
export const addInt8LstmLayer: LstmLayerBuilder = (graph, store, weights, inputs, needY) => {
  const { index: l, inputSize, hidden: H } = weights;
  const G = 4 * H;
  const quantized = (name: string, keras: Float32Array, rows: number) => {
    const { codes, scales } = quantizeColumns(
      gateColumns(keras, rows, H, ONNX_GATE_ORDER),
      rows,
      G,
    );
    return {
      codes: store.weight(name, codes, [1, rows, G]),
      scale: graph.addInitializer(graph.uniqueName(`${name}.scale`), scales, [1, G]),
      zero: graph.addInitializer(
        graph.uniqueName(`${name}.zero_point`),
        new Int8Array(G),
        [1, G],
      ),
    };
  };
  const W = quantized(`lstm.${l}.W`, weights.W, inputSize);
  const R = quantized(`lstm.${l}.R`, weights.R, H);
  const B = store.weight(`lstm.${l}.b`, onnxBias(weights), [1, 8 * H]);
  const [y, h, c] = graph.addNode(
    "DynamicQuantizeLSTM",
    [
      inputs.x,
      W.codes,
      R.codes,
      B,
      inputs.lengths ?? "",
      inputs.h0,
      inputs.c0,
      "",
      W.scale,
      W.zero,
      R.scale,
      R.zero,
    ],
    recurrentOutputs(graph, `lstm.${l}`, needY),
    { hidden_size: intAttr(H) },
    { name: `lstm.${l}`, domain: MICROSOFT_DOMAIN },
  );
  return { y: needY ? squeezeDirections(graph, y, `lstm.${l}.out`) : undefined, h, c };
};

/** onnxruntime's contrib operator domain. */
export const MICROSOFT_DOMAIN = "com.microsoft";
