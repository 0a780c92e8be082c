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
import { int64Constant } from "./storage.ts";

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
  const coo = cooGates(weights);
  const nnz = coo.rows.length;

  // Constants, decoded once at load.
  const rows1 = store.indices(`${p}.rows`, coo.rows, "coo", true);
  const rows =
    graph.addNode("Reshape", [rows1, int64Constant(graph, `${p}.rows_shape`, [nnz, 1])], [
      graph.uniqueName(`${p}.rows2d`),
    ])[0];
  const cols = store.indices(`${p}.cols`, coo.cols, "coo");
  const values = store.values(`${p}.values`, coo.values, [nnz, 1], "coo");
  const bias = store.values(`${p}.b`, gateBias(weights.b, H, SCAN_GATE_ORDER), [G, 1], "dense");

  // Per run: the state as [H, B], the input as [T, in, B], and the values
  // and bias widened to the batch (a same-shape Mul is far faster in
  // onnxruntime than one that broadcasts a column).
  const featureMajor = (value: string, name: string) => {
    const axis0 = int64Constant(graph, "axis_0", [0]);
    const [squeezed] = graph.addNode("Squeeze", [value, axis0], [graph.uniqueName(`${name}.bh`)]);
    return graph.addNode("Transpose", [squeezed], [graph.uniqueName(name)], {
      perm: intsAttr([1, 0]),
    })[0];
  };
  const h0 = featureMajor(inputs.h0, `${p}.h0`);
  const c0 = featureMajor(inputs.c0, `${p}.c0`);
  const [xs] = graph.addNode("Transpose", [inputs.x], [graph.uniqueName(`${p}.x_fm`)], {
    perm: intsAttr([0, 2, 1]),
  });
  const [batch] = graph.addNode("Shape", [h0], [graph.uniqueName(`${p}.batch`)], {
    start: intAttr(1),
    end: intAttr(2),
  });
  const widen = (value: string, count: number, name: string) => {
    const [shape] = graph.addNode(
      "Concat",
      [int64Constant(graph, `${name}.rows`, [count]), batch],
      [graph.uniqueName(`${name}.shape`)],
      { axis: intAttr(0) },
    );
    return graph.addNode("Expand", [value, shape], [graph.uniqueName(name)])[0];
  };
  const valuesB = widen(values, nnz, `${p}.values_b`);
  const biasB = widen(bias, G, `${p}.bias_b`);
  const splitGates = int64Constant(graph, `${p}.gate_split`, [3 * H, H]);
  const mask = inputs.lengths ? stepMask(graph, inputs.x, inputs.lengths, p) : undefined;

  const body = new GraphBuilder(`${p}.step`);
  const n = (base: string) => body.uniqueName(`${p}.step.${base}`);
  const h = body.addInput(n("h"), DataType.FLOAT);
  const c = body.addInput(n("c"), DataType.FLOAT);
  const x = body.addInput(n("x"), DataType.FLOAT);
  const valid = mask ? body.addInput(n("valid"), DataType.BOOL) : undefined;
  const [u] = body.addNode("Concat", [x, h], [n("u")], { axis: intAttr(0) });
  const [picked] = body.addNode("Gather", [u, cols], [n("picked")], { axis: intAttr(0) });
  const [products] = body.addNode("Mul", [picked, valuesB], [n("products")]);
  const [z] = body.addNode("ScatterND", [biasB, rows, products], [n("z")], {
    reduction: { type: "string", value: "add" },
  });
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
  body.addOutput(hNext, DataType.FLOAT);
  body.addOutput(cNext, DataType.FLOAT);
  if (needY) {
    const [y] = body.addNode("Identity", [hNext], [n("y")]);
    body.addOutput(y, DataType.FLOAT);
  }

  const outputs = [graph.uniqueName(`${p}.h_fm`), graph.uniqueName(`${p}.c_fm`)];
  if (needY) outputs.push(graph.uniqueName(`${p}.y_fm`));
  const [hLast, cLast, ys] = graph.addNode(
    "Scan",
    mask ? [h0, c0, xs, mask] : [h0, c0, xs],
    outputs,
    { body: graphAttr(body.buildGraph()), num_scan_inputs: intAttr(mask ? 2 : 1) },
    { name: p },
  );
  const batchMajor = (value: string, name: string) => {
    const [transposed] = graph.addNode("Transpose", [value], [graph.uniqueName(`${name}.bh`)], {
      perm: intsAttr([1, 0]),
    });
    const axis0 = int64Constant(graph, "axis_0", [0]);
    return graph.addNode("Unsqueeze", [transposed, axis0], [graph.uniqueName(name)])[0];
  };
  const y = needY
    ? graph.addNode("Transpose", [ys], [graph.uniqueName(`${p}.out`)], {
      perm: intsAttr([0, 2, 1]),
    })[0]
    : undefined;
  return { y, h: batchMajor(hLast, `${p}.Y_h`), c: batchMajor(cLast, `${p}.Y_c`) };
};

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
