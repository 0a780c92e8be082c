/**
 * A GRU layer as an ONNX `Scan` whose gate products touch only the nonzero
 * weights: `--compute sparse-scan` for a GRU, built like the LSTM's
 * (`sparse_scan.ts`), whose module doc explains the gather, multiply and
 * `ScatterND` of each step.
 *
 * The reset gate scales only the candidate's recurrent term, so the
 * candidate's input and recurrent products must stay apart: the COO matrix
 * has `4H` rows over `[x_t; h]` columns, rows `[0, 2H)` z and r (`W` and `R`
 * merged), `[2H, 3H)` the candidate's input part `W_n`, `[3H, 4H)` its
 * recurrent part `R_n`. Its bias is `[b; bR]`. Each step:
 *
 * ```text
 * a        = ScatterND([b; bR], rows, Gather([x_t; h], cols) * values, reduction=add)
 * z, r     = Sigmoid(a[0:2H])
 * n        = tanh(a[2H:3H] + r * a[3H:4H])
 * h'       = n + z * (h − n)
 * ```
 *
 * @module
 */

import { GraphBuilder, intAttr } from "./builder.ts";
import type { GruLayerBuilder, GruLayerWeights } from "./gru_layers.ts";
import { DataType } from "./proto.ts";
import {
  addSparseProduct,
  addStepScan,
  batchMajor,
  batchSize,
  cooConstants,
  type CooGates,
  featureMajor,
  stepMask,
  swapLastAxes,
  widenGates,
} from "./sparse_scan.ts";
import { int64Constant } from "./storage.ts";

/** The nonzeros of a GRU layer as the Scan cell's `4H` rows (see the module doc), rows ascending. */
export function gruCooGates(weights: GruLayerWeights): CooGates {
  const { inputSize: I, hidden: H } = weights;
  const G = 3 * H;
  const rows: number[] = [];
  const cols: number[] = [];
  const values: number[] = [];
  const add = (row: number, col: number, w: number) => {
    if (w === 0) return;
    rows.push(row);
    cols.push(col);
    values.push(w);
  };
  for (let r = 0; r < 4 * H; r++) {
    // The Keras column of this row, and which of x and h it reads.
    const column = r < 3 * H ? r : r - H;
    const readsX = r < 3 * H, readsH = r < 2 * H || r >= 3 * H;
    if (readsX) { for (let k = 0; k < I; k++) add(r, k, weights.W[k * G + column]); }
    if (readsH) { for (let k = 0; k < H; k++) add(r, I + k, weights.R[k * G + column]); }
  }
  return { rows, cols, values: Float32Array.from(values) };
}

/** A GRU layer as a `Scan` over sparse gate products (see the module doc). */
export const addGruScanLayer: GruLayerBuilder = (graph, store, weights, inputs, needY) => {
  const { index: l, hidden: H } = weights;
  const p = `gru.${l}`;
  const coo = cooConstants(graph, store, p, gruCooGates(weights));
  const biasData = new Float32Array(4 * H);
  biasData.set(weights.b);
  biasData.set(weights.bR, 3 * H);
  const bias = store.values(`${p}.b`, biasData, [4 * H, 1], "dense");

  // The state as [H, B] and the input as [T, in, B], as in the LSTM's Scan.
  const h0 = featureMajor(graph, inputs.h0, `${p}.h0`);
  const xs = swapLastAxes(graph, inputs.x, `${p}.x_fm`);
  const gates = widenGates(graph, batchSize(graph, h0, p), coo, bias, 4 * H, p);
  const split = int64Constant(graph, `${p}.gate_split`, [2 * H, H, H]);
  const mask = inputs.lengths ? stepMask(graph, inputs.x, inputs.lengths, p) : undefined;

  const body = new GraphBuilder(`${p}.step`);
  const n = (base: string) => body.uniqueName(`${p}.step.${base}`);
  const h = body.addInput(n("h"), DataType.FLOAT);
  const x = body.addInput(n("x"), DataType.FLOAT);
  const valid = mask ? body.addInput(n("valid"), DataType.BOOL) : undefined;
  const [u] = body.addNode("Concat", [x, h], [n("u")], { axis: intAttr(0) });
  const a = addSparseProduct(body, n, u, gates, "", "a");
  const [aZr, aXn, aHn] = body.addNode("Split", [a, split], [n("a_zr"), n("a_xn"), n("a_hn")], {
    axis: intAttr(0),
  });
  const [zr] = body.addNode("Sigmoid", [aZr], [n("zr")]);
  const [z, r] = body.addNode("Split", [zr], [n("z"), n("r")], { axis: intAttr(0) });
  const [reset] = body.addNode("Mul", [r, aHn], [n("r_hn")]);
  const [preN] = body.addNode("Add", [aXn, reset], [n("n_pre")]);
  const [cand] = body.addNode("Tanh", [preN], [n("n")]);
  const [diff] = body.addNode("Sub", [h, cand], [n("h_minus_n")]);
  const [kept] = body.addNode("Mul", [z, diff], [n("z_diff")]);
  let [hNext] = body.addNode("Add", [cand, kept], [n("h_next")]);
  if (valid) [hNext] = body.addNode("Where", [valid, hNext, h], [n("h_kept")]);

  const [hLast, ys] = addStepScan(graph, p, body, n, {
    initial: [h0],
    next: [hNext],
    final: [`${p}.h_fm`],
    scanned: mask ? [xs, mask] : [xs],
    y: needY ? `${p}.y_fm` : undefined,
  });
  const hOut = batchMajor(graph, hLast, `${p}.Y_h`);
  const y = needY ? swapLastAxes(graph, ys, `${p}.out`) : undefined;
  return { y, h: hOut };
};
