/**
 * Exports a trained model to ONNX. Three independent choices shape the file:
 *
 * - **storage** (`dense`, `sparse-init`, `packed`, `bitmask`, or `auto`:
 *   packed where smaller than dense): how weights sit in the file; see
 *   `onnx/storage.ts`. Every mode loads as dense weights.
 * - **compute** (`op`, `sparse-scan`, `int8`): which ops run the LSTM
 *   layers: the standard `LSTM` op, a `Scan` over the nonzeros only
 *   (`onnx/sparse_scan.ts`), or onnxruntime's int8 `DynamicQuantizeLSTM`.
 *   RHN layers are always a `Scan` (`onnx/rhn_layers.ts`): dense `MatMul`s
 *   for `op`, nonzeros only for `sparse-scan`; `int8` is refused.
 * - **values** (`fp32`, `fp16`): the precision float weights are stored
 *   at; fp16 values are cast back to float32 in the graph.
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
 *   sequence's last valid step
 *
 * A GRU (`cell` in the metadata) has no cell state: its graphs have no
 * `state_c` input and no `state_c_out` output, and `--compute op` (the
 * ONNX `GRU` op) or `sparse-scan` builds them; see `onnx/gru_layers.ts`.
 *
 * Every mode keeps this contract, so inference code never needs to know
 * how a model was exported.
 *
 * @module
 */

import {
  type ClassifierConfig,
  type LanguageModelConfig,
  type ModelConfig,
  outputSize,
  recurrenceDepth,
} from "../src/spec/config.ts";
import { checkWeights } from "../src/spec/reference.ts";
import type { HostParams } from "../src/spec/params.ts";
import { check } from "../src/spec/errors.ts";
import { GraphBuilder, intAttr, intsAttr } from "./onnx/builder.ts";
import {
  addInt8LstmLayer,
  addLstmOpLayer,
  type LstmLayerBuilder,
  MICROSOFT_DOMAIN,
} from "./onnx/lstm_layers.ts";
import { addGruOpLayer, type GruLayerBuilder } from "./onnx/gru_layers.ts";
import { addGruScanLayer } from "./onnx/gru_scan.ts";
import { DataType, encodeModel } from "./onnx/proto.ts";
import { addSparseScanLayer } from "./onnx/sparse_scan.ts";
import {
  addRhnDenseLayer,
  addRhnSparseScanLayer,
  type RhnLayerBuilder,
} from "./onnx/rhn_layers.ts";
import { SPARROW_VERSION } from "./version.ts";
import {
  int64Constant,
  STORAGE_MODES,
  type StorageChoice,
  type TensorRecord,
  type ValuePrecision,
  WeightStore,
} from "./onnx/storage.ts";

export type { StorageChoice, StorageMode, TensorRecord, ValuePrecision } from "./onnx/storage.ts";

/**
 * The default-domain opset the exported graphs use: new enough for
 * `ScatterND` with `reduction` and `Shape` with `start`/`end`, old enough
 * for every current onnxruntime.
 */
export const OPSET_VERSION = 17;

/** How the LSTM layers are computed. */
export type ComputeMode = "op" | "sparse-scan" | "int8";

/** Every compute mode. */
export const COMPUTE_MODES: readonly ComputeMode[] = ["op", "sparse-scan", "int8"];

/** Every storage choice a user can name. */
export const STORAGE_CHOICES: readonly StorageChoice[] = ["auto", ...STORAGE_MODES];

/** Every value precision. */
export const VALUE_PRECISIONS: readonly ValuePrecision[] = ["fp32", "fp16"];

/** Options for {@link buildOnnxModel}. */
export interface OnnxExportOptions {
  /** Defaults to `"auto"`. */
  storage?: StorageChoice;
  /** Defaults to `"op"`. */
  compute?: ComputeMode;
  /** Defaults to `"fp32"`. */
  values?: ValuePrecision;
}

/** The result of {@link buildOnnx}. */
export interface OnnxBuild {
  /** The `.onnx` file. */
  bytes: Uint8Array;
  /** Every stored tensor with its storage and payload size. */
  tensors: TensorRecord[];
}

/** Symbolic dimension names of the exported graphs. */
const TIME = "seq_len";
const BATCH = "batch";

const LAYER_BUILDERS: Record<ComputeMode, LstmLayerBuilder> = {
  op: addLstmOpLayer,
  "sparse-scan": addSparseScanLayer,
  int8: addInt8LstmLayer,
};

const RHN_LAYER_BUILDERS: Partial<Record<ComputeMode, RhnLayerBuilder>> = {
  op: addRhnDenseLayer,
  "sparse-scan": addRhnSparseScanLayer,
};

/** A GRU's layers: no int8 (onnxruntime has no quantized GRU op). */
const GRU_LAYER_BUILDERS: Partial<Record<ComputeMode, GruLayerBuilder>> = {
  op: addGruOpLayer,
  "sparse-scan": addGruScanLayer,
};

/** Output names of the recurrent stack. */
interface LstmStack {
  /** The embedding matrix `[V, E]` (a tied decoder reads it too). */
  embedding: string;
  /** Top layer's per-step output `[T, B, H]`; absent when not requested. */
  sequence?: string;
  /** Final hidden and cell state of each layer, `[1, B, H]` each (no cell state for a GRU). */
  finalH: string[];
  finalC: string[];
}

/**
 * Whether a cell's graphs carry `state_c`: an LSTM's cell state; an RHN keeps
 * the LSTM's contract and passes its (unused) `state_c` through unchanged; a
 * GRU has none.
 */
export function hasCellState(config: ModelConfig): boolean {
  switch (config.cell) {
    case "lstm":
    case "rhn":
      return true;
    case "gru":
      return false;
  }
}

/** The compute modes that can build a cell's layers. */
export function computeModesFor(config: ModelConfig): readonly ComputeMode[] {
  switch (config.cell) {
    case "lstm":
      return COMPUTE_MODES;
    case "gru":
      return COMPUTE_MODES.filter((mode) => GRU_LAYER_BUILDERS[mode]);
    case "rhn":
      return COMPUTE_MODES.filter((mode) => RHN_LAYER_BUILDERS[mode]);
  }
}

/**
 * Appends the embedding lookup and the stacked LSTM layers. `lengths`, when
 * given, bounds every layer's sequences.
 */
function addLstmStack(
  graph: GraphBuilder,
  store: WeightStore,
  config: ModelConfig,
  source: HostParams,
  compute: ComputeMode,
  inputs: StackInputs,
  needSequence: boolean,
): LstmStack {
  const H = config.hiddenSize;
  const L = config.layers;
  const embedding = store.weight("embedding", source.embedding.data, source.embedding.shape);
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
  const initialC = inputs.stateC === undefined
    ? []
    : L === 1
    ? [inputs.stateC]
    : graph.addNode("Split", [inputs.stateC], L, { axis: intAttr(0) });

  let x = embedded;
  const finalH: string[] = [];
  const finalC: string[] = [];
  let sequence: string | undefined;
  for (let l = 0; l < L; l++) {
    const wantY = l < L - 1 || needSequence;
    const shape = { index: l, inputSize: l === 0 ? config.embedSize : H, hidden: H };
    const param = (name: string) => source[`${config.cell}.${l}.${name}`].data;
    const layerInputs = { x, h0: initialH[l], c0: initialC[l]!, lengths: inputs.lengths };
    let out: { y?: string; h: string; c?: string };
    switch (config.cell) {
      case "lstm":
        out = LAYER_BUILDERS[compute](
          graph,
          store,
          { ...shape, W: param("W"), R: param("R"), b: param("b") },
          layerInputs,
          wantY,
        );
        break;
      case "gru":
        out = GRU_LAYER_BUILDERS[compute]!(
          graph,
          store,
          { ...shape, W: param("W"), R: param("R"), b: param("b"), bR: param("bR") },
          { x, h0: initialH[l], lengths: inputs.lengths },
          wantY,
        );
        break;
      case "rhn": {
        const micro = Array.from({ length: recurrenceDepth(config) }, (_, k) => k);
        out = RHN_LAYER_BUILDERS[compute]!(
          graph,
          store,
          {
            ...shape,
            W: param("W"),
            R: micro.map((k) => param(`R.${k}`)),
            b: micro.map((k) => param(`b.${k}`)),
          },
          layerInputs,
          wantY,
        );
        break;
      }
    }
    finalH.push(out.h);
    if (out.c !== undefined) finalC.push(out.c);
    if (wantY) x = sequence = out.y!;
  }
  return { embedding, sequence, finalH, finalC };
}

/**
 * Appends `x @ decoder.W + decoder.b` and names the result `output`. With
 * `tiedEmbedding` the decoder matrix is that embedding's transpose (a
 * `Transpose` of a constant, folded at load).
 */
function addDecoder(
  graph: GraphBuilder,
  store: WeightStore,
  source: HostParams,
  x: string,
  output: string,
  tiedEmbedding?: string,
): void {
  const W = tiedEmbedding
    ? graph.addNode("Transpose", [tiedEmbedding], [graph.uniqueName("decoder.W")], {
      perm: intsAttr([1, 0]),
    })[0]
    : store.weight("decoder.W", source["decoder.W"].data, source["decoder.W"].shape);
  const b = store.weight("decoder.b", source["decoder.b"].data, source["decoder.b"].shape);
  const [product] = graph.addNode("MatMul", [x, W], [graph.uniqueName("decoder.matmul")]);
  graph.addNode("Add", [product, b], [output]);
}

/** Stacks per-layer `[1, B, H]` states into `[L, B, H]` named `output`. */
function addStateOutput(graph: GraphBuilder, perLayer: string[], output: string): void {
  // Identity keeps the layer output names internal even for one layer.
  if (perLayer.length === 1) graph.addNode("Identity", perLayer, [output]);
  else graph.addNode("Concat", perLayer, [output], { axis: intAttr(0) });
}

/** What {@link addLstmStack} reads from the graph's inputs. */
interface StackInputs {
  tokens: string;
  stateH: string;
  stateC?: string;
  lengths?: string;
}

/**
 * Declares the graph inputs: `tokens`, `lengths` when `withLengths`,
 * `state_h`, and `state_c` for a cell that has one.
 */
function addStackInputs(
  graph: GraphBuilder,
  config: ModelConfig,
  withLengths: boolean,
): StackInputs {
  const dims = [config.layers, BATCH, config.hiddenSize];
  const tokens = graph.addInput("tokens", DataType.INT64, [TIME, BATCH]);
  const lengths = withLengths ? graph.addInput("lengths", DataType.INT32, [BATCH]) : undefined;
  const stateH = graph.addInput("state_h", DataType.FLOAT, dims);
  const stateC = hasCellState(config) ? graph.addInput("state_c", DataType.FLOAT, dims) : undefined;
  return { tokens, stateH, stateC, lengths };
}

function buildLanguageModel(
  graph: GraphBuilder,
  store: WeightStore,
  config: LanguageModelConfig,
  source: HostParams,
  compute: ComputeMode,
): void {
  const L = config.layers;
  const H = config.hiddenSize;
  const cellState = hasCellState(config);
  const inputs = addStackInputs(graph, config, false);
  const stack = addLstmStack(graph, store, config, source, compute, inputs, true);
  const tied = config.tieWeights ? stack.embedding : undefined;
  addDecoder(graph, store, source, stack.sequence!, "logits", tied);
  addStateOutput(graph, stack.finalH, "state_h_out");
  if (cellState) addStateOutput(graph, stack.finalC, "state_c_out");
  graph.addOutput("logits", DataType.FLOAT, [TIME, BATCH, config.vocabSize]);
  graph.addOutput("state_h_out", DataType.FLOAT, [L, BATCH, H]);
  if (cellState) graph.addOutput("state_c_out", DataType.FLOAT, [L, BATCH, H]);
}

function buildClassifier(
  graph: GraphBuilder,
  store: WeightStore,
  config: ClassifierConfig,
  source: HostParams,
  compute: ComputeMode,
): void {
  const L = config.layers;
  const inputs = addStackInputs(graph, config, true);
  const stack = addLstmStack(graph, store, config, source, compute, inputs, false);
  // The final state honours the lengths: it is each sequence's state at its last token.
  const [last] = graph.addNode(
    "Squeeze",
    [stack.finalH[L - 1], int64Constant(graph, "axis_0", [0])],
    [graph.uniqueName("last_hidden")],
  );
  addDecoder(graph, store, source, last, "logits");
  graph.addOutput("logits", DataType.FLOAT, [BATCH, config.numClasses]);
}

function checkChoice<T extends string>(what: string, value: T, allowed: readonly T[]): void {
  check(
    allowed.includes(value),
    `Unknown ${what} "${value}"; use one of ${allowed.join(", ")}`,
  );
}

/**
 * Builds the `.onnx` file of a model from its config and trained weights
 * (keyed by `paramSpecs(config)` names, Keras layout), with a record of how
 * each tensor was stored.
 */
export function buildOnnx(
  config: ModelConfig,
  weights: HostParams,
  options: OnnxExportOptions = {},
): OnnxBuild {
  const storage = options.storage ?? "auto";
  const compute = options.compute ?? "op";
  const values = options.values ?? "fp32";
  checkChoice("weight storage", storage, STORAGE_CHOICES);
  checkChoice("compute mode", compute, COMPUTE_MODES);
  checkChoice("value precision", values, VALUE_PRECISIONS);
  check(
    computeModesFor(config).includes(compute),
    `--compute ${compute} is not available for ${config.cell === "rhn" ? "an" : "a"} ` +
      `${config.cell.toUpperCase()}: it builds ` +
      `LSTM layers only; export this model with --compute ${computeModesFor(config).join(" or ")}`,
  );
  checkWeights(config, weights);
  const graph = new GraphBuilder(`sparrow_${config.kind}`);
  const store = new WeightStore(graph, { storage, values });
  if (config.kind === "lm") buildLanguageModel(graph, store, config, weights, compute);
  else buildClassifier(graph, store, config, weights, compute);
  const what = config.kind === "lm"
    ? `language model, ${config.layers} layer(s) of ${config.hiddenSize} units, vocabulary ${config.vocabSize}`
    : `classifier, ${config.layers} layer(s) of ${config.hiddenSize} units, ${
      outputSize(config)
    } classes`;
  const model = graph.build({
    opsetVersion: OPSET_VERSION,
    extraOpsets: compute === "int8" ? [{ domain: MICROSOFT_DOMAIN, version: 1 }] : [],
    producerName: "sparrow",
    producerVersion: SPARROW_VERSION,
    docString:
      `Sparse ${config.cell.toUpperCase()} ${what}; storage ${storage}, compute ${compute}, values ${values}`,
    metadata: {
      kind: config.kind,
      cell: config.cell,
      config: JSON.stringify(config),
      storage,
      compute,
      values,
    },
  });
  return { bytes: encodeModel(model), tensors: store.records };
}

/** The `.onnx` bytes of a model; see {@link buildOnnx}. */
export function buildOnnxModel(
  config: ModelConfig,
  weights: HostParams,
  options: OnnxExportOptions = {},
): Uint8Array {
  return buildOnnx(config, weights, options).bytes;
}
