/**
 * Exports a trained model to ONNX using the standard `LSTM` operator, so any
 * ONNX runtime can run it without custom ops.
 *
 * Language model graph (streaming: feed one step or many, carry the state):
 * - inputs `tokens` int64 `[T, B]`, `state_h` and `state_c` float `[L, B, H]`
 * - outputs `logits` float `[T, B, V]`, `state_h_out` and `state_c_out`
 *   `[L, B, H]` (the state after the last step)
 *
 * Classifier graph:
 * - inputs `tokens` int64 `[T, B]` (padded), `lengths` int32 `[B]`,
 *   `state_h` and `state_c` float `[L, B, H]`
 * - output `logits` float `[B, C]`, from the top layer's state at each
 *   sequence's last valid step (`LSTM`'s `sequence_lens` and `Y_h`)
 *
 * Sparse weights can be stored as `sparse_initializer`s (nonzero values plus
 * int64 linear indices, 12 bytes per nonzero against 4 per dense entry);
 * runtimes densify them when loading.
 *
 * @module
 */

import {
  type ClassifierConfig,
  type LanguageModelConfig,
  type ModelConfig,
  outputSize,
} from "../src/model/config.ts";
import { checkWeights, type Weights } from "../src/model/reference.ts";
import { check } from "../src/errors.ts";
import { GraphBuilder, intAttr } from "./onnx/builder.ts";
import { DataType, encodeModel } from "./onnx/proto.ts";

/**
 * The default-domain opset the exported graphs use: new enough for input-form
 * `Squeeze` axes, old enough for every current onnxruntime.
 */
export const OPSET_VERSION = 17;

/**
 * How weights are stored: `dense` always as plain initializers, `sparse`
 * always as sparse initializers, `auto` sparse only where that is smaller
 * (density below 1/3).
 */
export type WeightStorage = "auto" | "dense" | "sparse";

/** Options for {@link buildOnnxModel}. */
export interface OnnxExportOptions {
  /** Defaults to `"auto"`. */
  storage?: WeightStorage;
}

/**
 * Below this density a sparse initializer (4-byte value + 8-byte index per
 * nonzero) is smaller than a dense one (4 bytes per entry).
 */
const SPARSE_DENSITY_THRESHOLD = 1 / 3;

/** Symbolic dimension names of the exported graphs. */
const TIME = "seq_len";
const BATCH = "batch";

/**
 * Where each Keras gate block (order i, f, c, o) goes in ONNX's gate order
 * i, o, f, c: ONNX block `k` takes Keras block `ONNX_TO_KERAS_GATE[k]`.
 */
const ONNX_TO_KERAS_GATE = [0, 3, 1, 2];

/**
 * Converts a Keras-layout gate matrix `[inputs, 4H]` (x @ W, gates i,f,c,o)
 * into ONNX's `[1, 4H, inputs]` (W @ x, gates i,o,f,c).
 */
function onnxGateMatrix(
  keras: Float32Array,
  inputs: number,
  hidden: number,
): Float32Array {
  const G = 4 * hidden;
  const out = new Float32Array(G * inputs);
  for (let block = 0; block < 4; block++) {
    const kerasBlock = ONNX_TO_KERAS_GATE[block];
    for (let j = 0; j < hidden; j++) {
      const row = (block * hidden + j) * inputs;
      const col = kerasBlock * hidden + j;
      for (let k = 0; k < inputs; k++) out[row + k] = keras[k * G + col];
    }
  }
  return out;
}

/**
 * ONNX's `[1, 8H]` bias: the input bias reordered to i,o,f,c, then a zero
 * recurrent bias (the Keras cell has only one bias).
 */
function onnxGateBias(keras: Float32Array, hidden: number): Float32Array {
  const out = new Float32Array(8 * hidden);
  for (let block = 0; block < 4; block++) {
    const from = ONNX_TO_KERAS_GATE[block] * hidden;
    out.set(keras.subarray(from, from + hidden), block * hidden);
  }
  return out;
}

function density(data: Float32Array): number {
  if (data.length === 0) return 1;
  let nonzero = 0;
  for (const v of data) if (v !== 0) nonzero++;
  return nonzero / data.length;
}

/** Adds weights to a graph, dense or sparse as the storage policy says. */
class WeightWriter {
  constructor(readonly graph: GraphBuilder, readonly storage: WeightStorage) {}

  add(name: string, data: Float32Array, dims: number[]): string {
    const sparse = this.storage === "sparse" ||
      (this.storage === "auto" && density(data) < SPARSE_DENSITY_THRESHOLD);
    return sparse
      ? this.graph.addSparseInitializer(name, data, dims)
      : this.graph.addInitializer(name, data, dims);
  }
}

/** Output names of the LSTM stack. */
interface LstmStack {
  /** Top layer's per-step output `[T, B, H]`; absent when not requested. */
  sequence?: string;
  /** Final hidden and cell state of each layer, `[1, B, H]` each. */
  finalH: string[];
  finalC: string[];
}

/**
 * Appends the embedding lookup and the stacked LSTM layers. `lengths`, when
 * given, is the `sequence_lens` input of every layer.
 */
function addLstmStack(
  graph: GraphBuilder,
  weights: WeightWriter,
  config: ModelConfig,
  source: Weights,
  inputs: { tokens: string; stateH: string; stateC: string; lengths?: string },
  needSequence: boolean,
): LstmStack {
  const H = config.hiddenSize;
  const L = config.layers;
  const embedding = weights.add(
    "embedding",
    source.embedding.data,
    source.embedding.shape,
  );
  const [embedded] = graph.addNode(
    "Gather",
    [embedding, inputs.tokens],
    [graph.uniqueName("embedded")],
    { axis: intAttr(0) },
  );
  // Split's equal-parts form (no `split` input) cuts [L,B,H] into L [1,B,H].
  const initialH = L === 1
    ? [inputs.stateH]
    : graph.addNode("Split", [inputs.stateH], L, { axis: intAttr(0) });
  const initialC = L === 1
    ? [inputs.stateC]
    : graph.addNode("Split", [inputs.stateC], L, { axis: intAttr(0) });
  let squeezeAxis: string | undefined;

  let x = embedded;
  const finalH: string[] = [];
  const finalC: string[] = [];
  let sequence: string | undefined;
  for (let l = 0; l < L; l++) {
    const inputSize = l === 0 ? config.embedSize : H;
    const W = weights.add(
      `lstm.${l}.W`,
      onnxGateMatrix(source[`lstm.${l}.W`].data, inputSize, H),
      [1, 4 * H, inputSize],
    );
    const R = weights.add(
      `lstm.${l}.R`,
      onnxGateMatrix(source[`lstm.${l}.R`].data, H, H),
      [1, 4 * H, H],
    );
    const B = weights.add(
      `lstm.${l}.b`,
      onnxGateBias(source[`lstm.${l}.b`].data, H),
      [1, 8 * H],
    );
    const wantY = l < L - 1 || needSequence;
    const [y, yH, yC] = graph.addNode(
      "LSTM",
      [x, W, R, B, inputs.lengths ?? "", initialH[l], initialC[l]],
      [
        wantY ? graph.uniqueName(`lstm.${l}.Y`) : "",
        graph.uniqueName(`lstm.${l}.Y_h`),
        graph.uniqueName(`lstm.${l}.Y_c`),
      ],
      { hidden_size: intAttr(H) },
      { name: `lstm.${l}` },
    );
    finalH.push(yH);
    finalC.push(yC);
    if (wantY) {
      // Y is [T, directions=1, B, H]; drop the directions axis.
      squeezeAxis ??= graph.addInitializer(
        graph.uniqueName("axis_1"),
        new BigInt64Array([1n]),
        [1],
      );
      [x] = graph.addNode("Squeeze", [y, squeezeAxis], [
        graph.uniqueName(`lstm.${l}.out`),
      ]);
      sequence = x;
    }
  }
  return { sequence, finalH, finalC };
}

/** Appends `x @ decoder.W + decoder.b` and names the result `output`. */
function addDecoder(
  graph: GraphBuilder,
  weights: WeightWriter,
  source: Weights,
  x: string,
  output: string,
): void {
  const W = weights.add(
    "decoder.W",
    source["decoder.W"].data,
    source["decoder.W"].shape,
  );
  const b = weights.add(
    "decoder.b",
    source["decoder.b"].data,
    source["decoder.b"].shape,
  );
  const [product] = graph.addNode("MatMul", [x, W], [
    graph.uniqueName("decoder.matmul"),
  ]);
  graph.addNode("Add", [product, b], [output]);
}

/** Stacks per-layer `[1, B, H]` states into `[L, B, H]` named `output`. */
function addStateOutput(
  graph: GraphBuilder,
  perLayer: string[],
  output: string,
): void {
  // Identity keeps the LSTM output names internal even for one layer.
  if (perLayer.length === 1) graph.addNode("Identity", perLayer, [output]);
  else graph.addNode("Concat", perLayer, [output], { axis: intAttr(0) });
}

function buildLanguageModel(
  graph: GraphBuilder,
  weights: WeightWriter,
  config: LanguageModelConfig,
  source: Weights,
): void {
  const L = config.layers;
  const H = config.hiddenSize;
  const tokens = graph.addInput("tokens", DataType.INT64, [TIME, BATCH]);
  const stateH = graph.addInput("state_h", DataType.FLOAT, [L, BATCH, H]);
  const stateC = graph.addInput("state_c", DataType.FLOAT, [L, BATCH, H]);
  const stack = addLstmStack(
    graph,
    weights,
    config,
    source,
    { tokens, stateH, stateC },
    true,
  );
  addDecoder(graph, weights, source, stack.sequence!, "logits");
  addStateOutput(graph, stack.finalH, "state_h_out");
  addStateOutput(graph, stack.finalC, "state_c_out");
  graph.addOutput("logits", DataType.FLOAT, [TIME, BATCH, config.vocabSize]);
  graph.addOutput("state_h_out", DataType.FLOAT, [L, BATCH, H]);
  graph.addOutput("state_c_out", DataType.FLOAT, [L, BATCH, H]);
}

function buildClassifier(
  graph: GraphBuilder,
  weights: WeightWriter,
  config: ClassifierConfig,
  source: Weights,
): void {
  const L = config.layers;
  const H = config.hiddenSize;
  const tokens = graph.addInput("tokens", DataType.INT64, [TIME, BATCH]);
  const lengths = graph.addInput("lengths", DataType.INT32, [BATCH]);
  const stateH = graph.addInput("state_h", DataType.FLOAT, [L, BATCH, H]);
  const stateC = graph.addInput("state_c", DataType.FLOAT, [L, BATCH, H]);
  const stack = addLstmStack(
    graph,
    weights,
    config,
    source,
    { tokens, stateH, stateC, lengths },
    false,
  );
  const axis0 = graph.addInitializer(
    graph.uniqueName("axis_0"),
    new BigInt64Array([0n]),
    [1],
  );
  // Y_h honours sequence_lens: it is each sequence's state at its last token.
  const [last] = graph.addNode("Squeeze", [stack.finalH[L - 1], axis0], [
    graph.uniqueName("last_hidden"),
  ]);
  addDecoder(graph, weights, source, last, "logits");
  graph.addOutput("logits", DataType.FLOAT, [BATCH, config.numClasses]);
}

/**
 * Builds the `.onnx` bytes of a model from its config and trained weights
 * (keyed by `paramSpecs(config)` names, Keras layout).
 */
export function buildOnnxModel(
  config: ModelConfig,
  weights: Weights,
  options: OnnxExportOptions = {},
): Uint8Array {
  const storage = options.storage ?? "auto";
  check(
    storage === "auto" || storage === "dense" || storage === "sparse",
    `Unknown weight storage "${storage}"; use auto, dense or sparse`,
  );
  checkWeights(config, weights);
  const graph = new GraphBuilder(`sparrow_${config.kind}`);
  const writer = new WeightWriter(graph, storage);
  if (config.kind === "lm") {
    buildLanguageModel(graph, writer, config, weights);
  } else buildClassifier(graph, writer, config, weights);
  const model = graph.build({
    opsetVersion: OPSET_VERSION,
    producerName: "sparrow",
    docString: config.kind === "lm"
      ? `Sparse ${config.cell.toUpperCase()} language model, ${config.layers} layer(s) of ${config.hiddenSize} units, vocabulary ${config.vocabSize}`
      : `Sparse ${config.cell.toUpperCase()} classifier, ${config.layers} layer(s) of ${config.hiddenSize} units, ${
        outputSize(config)
      } classes`,
    metadata: { kind: config.kind, config: JSON.stringify(config) },
  });
  return encodeModel(model);
}
