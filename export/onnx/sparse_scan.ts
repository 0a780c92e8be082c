/**
 * An LSTM layer as an ONNX `Scan` whose gate products touch only the
 * nonzero weights, so run-time memory and work grow with the nonzero count,
 * not with the dense size.
 *
 * The input and recurrent matrices are merged into one `[4H, in + H]`
 * matrix in COO form (row, column, value per nonzero, rows ascending). Each
 * step, with `u = [x_t; h]` laid out `[in + H, B]`:
 *
 * ```text
 * products = Gather(u, cols) * values        [nnz, B]
 * z        = ScatterND(bias, rows, products, reduction=add)   [4H, B]
 * ```
 *
 * then the usual cell (gates ordered i, f, o, c so one `Sigmoid` covers
 * three of them). State is kept as `[H, B]` inside the loop, so each gather
 * copies one contiguous row of B values per nonzero.
 *
 * Constant decodes (narrow index codes widened with `Cast`, row gaps summed
 * with `CumSum`) sit outside the loop and fold at load. Classifier batches
 * with unequal lengths keep each sequence's state frozen past its length
 * with `Where`, which is what `LSTM`'s `sequence_lens` does.
 *
 * @module
 */

import { graphAttr, GraphBuilder, intAttr, intsAttr } from "./builder.ts";
import { gateBias, gateRows, SCAN_GATE_ORDER } from "./gates.ts";
import type { LstmLayerBuilder, LstmLayerWeights } from "./lstm_layers.ts";
import { DataType } from "./proto.ts";
import { int64Constant, type WeightStore } from "./storage.ts";

/** The merged `[4H, in + H]` gate matrix of a layer in COO form, rows ascending. */
export interface CooGates {
  rows: number[];
  cols: number[];
  values: Float32Array;
}

/** The nonzeros of `[W; R]` as rows of the Scan cell's gate order. */
export function cooGates(weights: LstmLayerWeights): CooGates {
  const { inputSize: I, hidden: H } = weights;
  const W = gateRows(weights.W, I, H, SCAN_GATE_ORDER);
  const R = gateRows(weights.R, H, H, SCAN_GATE_ORDER);
  const rows: number[] = [];
  const cols: number[] = [];
  const values: number[] = [];
  for (let r = 0; r < 4 * H; r++) {
    for (let k = 0; k < I; k++) {
      const w = W[r * I + k];
      if (w !== 0) {
        rows.push(r);
        cols.push(k);
        values.push(w);
      }
    }
    for (let k = 0; k < H; k++) {
      const w = R[r * H + k];
      if (w !== 0) {
        rows.push(r);
        cols.push(I + k);
        values.push(w);
      }
    }
  }
  return { rows, cols, values: Float32Array.from(values) };
}

/** A layer as a `Scan` over sparse gate products (see the module doc). */
export const addSparseScanLayer: LstmLayerBuilder = (graph, store, weights, inputs, needY) => {
  const { index: l, hidden: H } = weights;
  const p = `lstm.${l}`;
  const G = 4 * H;

  // Constants, decoded once at load.
  const coo = cooConstants(graph, store, p, cooGates(weights));
  const bias = store.values(`${p}.b`, gateBias(weights.b, H, SCAN_GATE_ORDER), [G, 1], "dense");

  // Per run: the state as [H, B], the input as [T, in, B], and the values
  // and bias widened to the batch.
  const h0 = featureMajor(graph, inputs.h0, `${p}.h0`);
  const c0 = featureMajor(graph, inputs.c0, `${p}.c0`);
  const xs = swapLastAxes(graph, inputs.x, `${p}.x_fm`);
  const batch = batchSize(graph, h0, p);
  const gates = widenGates(graph, batch, coo, bias, G, p);
  const splitGates = int64Constant(graph, `${p}.gate_split`, [3 * H, H]);
  const mask = inputs.lengths ? stepMask(graph, inputs.x, inputs.lengths, p) : undefined;

  const body = new GraphBuilder(`${p}.step`);
  const n = (base: string) => body.uniqueName(`${p}.step.${base}`);
  const h = body.addInput(n("h"), DataType.FLOAT);
  const c = body.addInput(n("c"), DataType.FLOAT);
  const x = body.addInput(n("x"), DataType.FLOAT);
  const valid = mask ? body.addInput(n("valid"), DataType.BOOL) : undefined;
  const [u] = body.addNode("Concat", [x, h], [n("u")], { axis: intAttr(0) });
  const z = addSparseProduct(body, n, u, gates, "", "z");
  const [zSigmoid, zCell] = body.addNode("Split", [z, splitGates], [n("z_ifo"), n("z_c")], {
    axis: intAttr(0),
  });
  const [ifo] = body.addNode("Sigmoid", [zSigmoid], [n("ifo")]);
  const [i, f, o] = body.addNode("Split", [ifo], [n("i"), n("f"), n("o")], { axis: intAttr(0) });
  const [g] = body.addNode("Tanh", [zCell], [n("g")]);
  const [kept] = body.addNode("Mul", [f, c], [n("fc")]);
  const [added] = body.addNode("Mul", [i, g], [n("ig")]);
  let [cNext] = body.addNode("Add", [kept, added], [n("c_next")]);
  const [squashed] = body.addNode("Tanh", [cNext], [n("tanh_c")]);
  let [hNext] = body.addNode("Mul", [o, squashed], [n("h_next")]);
  if (valid) {
    [hNext] = body.addNode("Where", [valid, hNext, h], [n("h_kept")]);
    [cNext] = body.addNode("Where", [valid, cNext, c], [n("c_kept")]);
  }
  const [hLast, cLast, ys] = addStepScan(graph, p, body, n, {
    initial: [h0, c0],
    next: [hNext, cNext],
    final: [`${p}.h_fm`, `${p}.c_fm`],
    scanned: mask ? [xs, mask] : [xs],
    y: needY ? `${p}.y_fm` : undefined,
  });
  const y = needY ? swapLastAxes(graph, ys, `${p}.out`) : undefined;
  return { y, h: batchMajor(graph, hLast, `${p}.Y_h`), c: batchMajor(graph, cLast, `${p}.Y_c`) };
};

/** The constants of a COO matrix that a Scan body reads. */
export interface CooConstants {
  /** `[nnz, 1]` int64 row indices, as `ScatterND` takes them. */
  rows: string;
  /** `[nnz]` column indices. */
  cols: string;
  /** `[nnz, 1]` values. */
  values: string;
  /** The nonzero count. */
  nnz: number;
}

/** Stores a COO matrix as the constants `${name}.rows`, `.cols` and `.values`. */
export function cooConstants(
  graph: GraphBuilder,
  store: WeightStore,
  name: string,
  coo: CooGates,
): CooConstants {
  const nnz = coo.rows.length;
  const rows1 = store.indices(`${name}.rows`, coo.rows, "coo", true);
  const [rows] = graph.addNode(
    "Reshape",
    [rows1, int64Constant(graph, `${name}.rows_shape`, [nnz, 1])],
    [graph.uniqueName(`${name}.rows2d`)],
  );
  const cols = store.indices(`${name}.cols`, coo.cols, "coo");
  const values = store.values(`${name}.values`, coo.values, [nnz, 1], "coo");
  return { rows, cols, values, nnz };
}

/** The batch size as a one-element int64 shape, read from a `[H, B]` (or `[1, B, H]`) value. */
export function batchSize(graph: GraphBuilder, state: string, prefix: string): string {
  return graph.addNode("Shape", [state], [graph.uniqueName(`${prefix}.batch`)], {
    start: intAttr(1),
    end: intAttr(2),
  })[0];
}

/** `[count, 1]` constants expanded to `[count, B]`, `B` from {@link batchSize}. */
export function widenToBatch(
  graph: GraphBuilder,
  batch: string,
  value: string,
  count: number,
  name: string,
): string {
  const [shape] = graph.addNode(
    "Concat",
    [int64Constant(graph, `${name}.rows`, [count]), batch],
    [graph.uniqueName(`${name}.shape`)],
    { axis: intAttr(0) },
  );
  return graph.addNode("Expand", [value, shape], [graph.uniqueName(name)])[0];
}

/** A sparse gate matrix as a Scan body reads it: values and bias widened to the batch. */
export interface SparseGates {
  rows: string;
  cols: string;
  /** `[nnz, B]`. */
  values: string;
  /** `[rows, B]`. */
  bias: string;
}

/**
 * A COO matrix's values and its `[count, 1]` bias widened to the batch, as
 * `${name}.values_b` and `${name}.bias_b`: a same-shape `Mul` is far faster
 * in onnxruntime than one that broadcasts a column.
 */
export function widenGates(
  graph: GraphBuilder,
  batch: string,
  coo: CooConstants,
  bias: string,
  count: number,
  name: string,
): SparseGates {
  return {
    rows: coo.rows,
    cols: coo.cols,
    values: widenToBatch(graph, batch, coo.values, coo.nnz, `${name}.values_b`),
    bias: widenToBatch(graph, batch, bias, count, `${name}.bias_b`),
  };
}

/**
 * `ScatterND(bias, rows, Gather(u, cols) * values, reduction=add)` in a
 * Scan body: gate pre-activations from the nonzeros only. Its values are
 * named `picked` and `products` (each followed by `suffix`), and `out`.
 */
export function addSparseProduct(
  body: GraphBuilder,
  n: (base: string) => string,
  u: string,
  gates: SparseGates,
  suffix: string,
  out: string,
): string {
  const [picked] = body.addNode("Gather", [u, gates.cols], [n(`picked${suffix}`)], {
    axis: intAttr(0),
  });
  const [products] = body.addNode("Mul", [picked, gates.values], [n(`products${suffix}`)]);
  return body.addNode("ScatterND", [gates.bias, gates.rows, products], [n(out)], {
    reduction: { type: "string", value: "add" },
  })[0];
}

/** A `[1, B, H]` state as the `[H, B]` a Scan loop keeps. */
export function featureMajor(graph: GraphBuilder, value: string, name: string): string {
  const axis0 = int64Constant(graph, "axis_0", [0]);
  const [squeezed] = graph.addNode("Squeeze", [value, axis0], [graph.uniqueName(`${name}.bh`)]);
  return graph.addNode("Transpose", [squeezed], [graph.uniqueName(name)], {
    perm: intsAttr([1, 0]),
  })[0];
}

/** A Scan loop's `[H, B]` state as the graph's `[1, B, H]`. */
export function batchMajor(graph: GraphBuilder, value: string, name: string): string {
  const [transposed] = graph.addNode("Transpose", [value], [graph.uniqueName(`${name}.bh`)], {
    perm: intsAttr([1, 0]),
  });
  const axis0 = int64Constant(graph, "axis_0", [0]);
  return graph.addNode("Unsqueeze", [transposed, axis0], [graph.uniqueName(name)])[0];
}

/** `[T, A, B]` as `[T, B, A]`: a sequence between batch-major and feature-major. */
export function swapLastAxes(graph: GraphBuilder, value: string, name: string): string {
  return graph.addNode("Transpose", [value], [graph.uniqueName(name)], {
    perm: intsAttr([0, 2, 1]),
  })[0];
}

/** What {@link addStepScan} loops over. */
export interface StepScan {
  /** Initial states, in the order of the body's state inputs. */
  initial: string[];
  /** The body's next states, in the same order; the first is the layer's output. */
  next: string[];
  /** Base names of the final states. */
  final: string[];
  /** The scan inputs, in the order of the body's scan inputs. */
  scanned: string[];
  /** Base name of the stacked per-step output; none when absent. */
  y?: string;
}

/**
 * Ends a step body (outputs: the next states, then a copy of the first as
 * the per-step output when `scan.y` is given) and adds the `Scan` named
 * `name`. Returns the final states, then the stacked output.
 */
export function addStepScan(
  graph: GraphBuilder,
  name: string,
  body: GraphBuilder,
  n: (base: string) => string,
  scan: StepScan,
): string[] {
  for (const next of scan.next) body.addOutput(next, DataType.FLOAT);
  if (scan.y !== undefined) {
    const [y] = body.addNode("Identity", [scan.next[0]], [n("y")]);
    body.addOutput(y, DataType.FLOAT);
  }
  const outputs = scan.final.map((base) => graph.uniqueName(base));
  if (scan.y !== undefined) outputs.push(graph.uniqueName(scan.y));
  return graph.addNode(
    "Scan",
    [...scan.initial, ...scan.scanned],
    outputs,
    { body: graphAttr(body.buildGraph()), num_scan_inputs: intAttr(scan.scanned.length) },
    { name },
  );
}

/** `[T, B]` bool: step t of sequence b is within its length. */
export function stepMask(graph: GraphBuilder, x: string, lengths: string, prefix: string): string {
  const [steps] = graph.addNode("Shape", [x], [graph.uniqueName(`${prefix}.steps`)], {
    start: intAttr(0),
    end: intAttr(1),
  });
  const [steps32] = graph.addNode("Cast", [steps], [graph.uniqueName(`${prefix}.steps32`)], {
    to: intAttr(DataType.INT32),
  });
  const axis0 = int64Constant(graph, "axis_0", [0]);
  const [limit] = graph.addNode("Squeeze", [steps32, axis0], [graph.uniqueName(`${prefix}.limit`)]);
  const zero = graph.addInitializer(graph.uniqueName("zero_i32"), new Int32Array([0]), []);
  const one = graph.addInitializer(graph.uniqueName("one_i32"), new Int32Array([1]), []);
  const [range] = graph.addNode("Range", [zero, limit, one], [graph.uniqueName(`${prefix}.t`)]);
  const axis1 = int64Constant(graph, "axis_1", [1]);
  const [column] = graph.addNode("Unsqueeze", [range, axis1], [
    graph.uniqueName(`${prefix}.t_col`),
  ]);
  return graph.addNode("Less", [column, lengths], [graph.uniqueName(`${prefix}.valid`)])[0];
}
