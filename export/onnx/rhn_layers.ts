/**
 * One Recurrent Highway Network layer (../../src/spec/rhn_reference.ts) as
 * an ONNX `Scan` over time. ONNX has no RHN operator, so the recurrence is
 * always a `Scan` whose body runs the `D` micro-layers of a step:
 *
 * ```text
 * z_k = s·R_k + b_k (+ x_t·W + b_0 for k = 0, computed for every step before the loop)
 * s   = s + σ(z_k,T)·(tanh(z_k,H) − s)        i.e. h·t + s·(1 − t)
 * ```
 *
 * Two compute modes:
 * - `op` ({@link addRhnDenseLayer}): dense `MatMul`s in the body. The
 *   weights are stored in the export's storage mode and are dense at load,
 *   so every storage mode and value precision applies.
 * - `sparse-scan` ({@link addRhnSparseScanLayer}): each micro-layer's gate
 *   product touches only its nonzeros, `Gather` of the state at their
 *   columns times their values, summed into the gate rows by
 *   `ScatterND(reduction="add")`, as `sparse_scan.ts` does for the LSTM.
 *   Micro-layer 0 reads `[x_t; s]` through one merged COO of `[W; R_0]`.
 *
 * There is no int8 mode: onnxruntime's quantized recurrent op is an LSTM.
 *
 * The RHN has one state vector; it travels as the graph's `state_h`, and
 * `state_c` passes through unchanged. Classifier batches freeze each
 * sequence's state past its length with `Where` (a padded step leaves the
 * state as it was, as in training).
 *
 * @module
 */

import { GraphBuilder, intAttr, intsAttr } from "./builder.ts";
import type { LayerShape, LstmLayerInputs, LstmLayerOutputs } from "./lstm_layers.ts";
import { DataType } from "./proto.ts";
import { int64Constant, type WeightStore } from "./storage.ts";
import {
  addSparseProduct,
  addStepScan,
  batchSize,
  cooConstants,
  type CooGates,
  stepMask,
  swapLastAxes,
  widenGates,
} from "./sparse_scan.ts";

/** One RHN layer's trained parameters, spec layout (`h` columns, then `t`). */
export interface RhnLayerWeights extends LayerShape {
  /** `[inputSize, 2H]`. */
  W: Float32Array;
  /** Per micro-layer, `[H, 2H]`. */
  R: Float32Array[];
  /** Per micro-layer, `[2H]`. */
  b: Float32Array[];
}

/** Builds one RHN layer; `needY` asks for the full output sequence. */
export type RhnLayerBuilder = (
  graph: GraphBuilder,
  store: WeightStore,
  weights: RhnLayerWeights,
  inputs: LstmLayerInputs,
  needY: boolean,
) => LstmLayerOutputs;

/** The highway update `s + t·(h − s)` from pre-activations `zH`, `zT` in `body`. */
function highway(
  body: GraphBuilder,
  n: (base: string) => string,
  s: string,
  zH: string,
  zT: string,
) {
  const [h] = body.addNode("Tanh", [zH], [n("h")]);
  const [t] = body.addNode("Sigmoid", [zT], [n("t")]);
  const [delta] = body.addNode("Sub", [h, s], [n("h_minus_s")]);
  const [moved] = body.addNode("Mul", [t, delta], [n("moved")]);
  return body.addNode("Add", [s, moved], [n("s")])[0];
}

/**
 * The Scan of a layer: `step` adds one step's micro-layers to the body
 * (reading the state and the step's scan input) and returns the new state.
 * `layout` says whether the loop keeps the state batch-major `[B, H]` or
 * feature-major `[H, B]`; `xs` is the per-step scan input in that layout.
 */
function addRhnScan(
  graph: GraphBuilder,
  inputs: LstmLayerInputs,
  p: string,
  layout: "bh" | "hb",
  xs: string,
  needY: boolean,
  step: (body: GraphBuilder, n: (base: string) => string, s: string, x: string) => string,
): LstmLayerOutputs {
  const axis0 = int64Constant(graph, "axis_0", [0]);
  const [s0bh] = graph.addNode("Squeeze", [inputs.h0, axis0], [graph.uniqueName(`${p}.s0_bh`)]);
  const s0 = layout === "bh"
    ? s0bh
    : graph.addNode("Transpose", [s0bh], [graph.uniqueName(`${p}.s0`)], {
      perm: intsAttr([1, 0]),
    })[0];
  // [T, B] validity; batch-major state needs [T, B, 1] so it broadcasts over H.
  let mask = inputs.lengths ? stepMask(graph, inputs.x, inputs.lengths, p) : undefined;
  if (mask && layout === "bh") {
    const axis2 = int64Constant(graph, "axis_2", [2]);
    [mask] = graph.addNode("Unsqueeze", [mask, axis2], [graph.uniqueName(`${p}.valid3`)]);
  }

  const body = new GraphBuilder(`${p}.step`);
  const n = (base: string) => body.uniqueName(`${p}.step.${base}`);
  const s = body.addInput(n("s_in"), DataType.FLOAT);
  const x = body.addInput(n("x"), DataType.FLOAT);
  const valid = mask ? body.addInput(n("valid"), DataType.BOOL) : undefined;
  let next = step(body, n, s, x);
  if (valid) [next] = body.addNode("Where", [valid, next, s], [n("s_kept")]);
  const [sLast, ys] = addStepScan(graph, p, body, n, {
    initial: [s0],
    next: [next],
    final: [`${p}.s_last`],
    scanned: mask ? [xs, mask] : [xs],
    y: needY ? `${p}.ys` : undefined,
  });
  const lastBh = layout === "bh"
    ? sLast
    : graph.addNode("Transpose", [sLast], [graph.uniqueName(`${p}.s_last_bh`)], {
      perm: intsAttr([1, 0]),
    })[0];
  const [h] = graph.addNode("Unsqueeze", [lastBh, axis0], [graph.uniqueName(`${p}.Y_h`)]);
  const y = needY ? (layout === "bh" ? ys : swapLastAxes(graph, ys, `${p}.out`)) : undefined;
  // No cell state: c passes through.
  const [c] = graph.addNode("Identity", [inputs.c0], [graph.uniqueName(`${p}.Y_c`)]);
  return { y, h, c };
}

/** A layer as a `Scan` with dense `MatMul`s (compute mode `op`). */
export const addRhnDenseLayer: RhnLayerBuilder = (graph, store, weights, inputs, needY) => {
  const { index: l, inputSize: I, hidden: H } = weights;
  const p = `rhn.${l}`;
  const D = weights.R.length;
  const W = store.weight(`${p}.W`, weights.W, [I, 2 * H]);
  const R = weights.R.map((r, k) => store.weight(`${p}.R.${k}`, r, [H, 2 * H]));
  const b = weights.b.map((v, k) => store.weight(`${p}.b.${k}`, v, [2 * H]));
  // The input enters micro-layer 0 only: project every step at once, outside the loop.
  const [xw] = graph.addNode("MatMul", [inputs.x, W], [graph.uniqueName(`${p}.xW`)]);
  const [xs] = graph.addNode("Add", [xw, b[0]], [graph.uniqueName(`${p}.xW_b`)]);
  const split = int64Constant(graph, `${p}.gate_split`, [H, H]);
  return addRhnScan(graph, inputs, p, "bh", xs, needY, (body, n, s0, x) => {
    let s = s0;
    for (let k = 0; k < D; k++) {
      const [sr] = body.addNode("MatMul", [s, R[k]], [n(`sR${k}`)]);
      const [z] = body.addNode("Add", [sr, k === 0 ? x : b[k]], [n(`z${k}`)]);
      const [zH, zT] = body.addNode("Split", [z, split], [n(`zh${k}`), n(`zt${k}`)], {
        axis: intAttr(1),
      });
      s = highway(body, n, s, zH, zT);
    }
    return s;
  });
};

/**
 * The nonzeros of `[M_0; M_1; …]` (each `[in_i, G]`, spec layout) seen as
 * one `[G, Σ in_i]` matrix: row = output, column = input offset by the
 * blocks before it.
 */
function cooOf(blocks: { M: Float32Array; rows: number }[], G: number): CooGates {
  const rows: number[] = [], cols: number[] = [], values: number[] = [];
  for (let r = 0; r < G; r++) {
    let offset = 0;
    for (const { M, rows: inputs } of blocks) {
      for (let i = 0; i < inputs; i++) {
        const w = M[i * G + r];
        if (w !== 0) {
          rows.push(r);
          cols.push(offset + i);
          values.push(w);
        }
      }
      offset += inputs;
    }
  }
  return { rows, cols, values: Float32Array.from(values) };
}

/** A layer as a `Scan` over the nonzeros only (compute mode `sparse-scan`). */
export const addRhnSparseScanLayer: RhnLayerBuilder = (graph, store, weights, inputs, needY) => {
  const { index: l, inputSize: I, hidden: H } = weights;
  const p = `rhn.${l}`;
  const D = weights.R.length;
  const G = 2 * H;
  const batch = batchSize(graph, inputs.h0, p);
  // Per run, values and biases widened to the batch.
  const micro = weights.R.map((R, k) => {
    const name = `${p}.${k}`;
    const blocks = k === 0 ? [{ M: weights.W, rows: I }, { M: R, rows: H }] : [{ M: R, rows: H }];
    const coo = cooConstants(graph, store, name, cooOf(blocks, G));
    const bias = store.values(`${name}.b`, weights.b[k], [G, 1], "dense");
    return widenGates(graph, batch, coo, bias, G, name);
  });
  const xs = swapLastAxes(graph, inputs.x, `${p}.x_fm`);
  const split = int64Constant(graph, `${p}.gate_split`, [H, H]);
  return addRhnScan(graph, inputs, p, "hb", xs, needY, (body, n, s0, x) => {
    let s = s0;
    for (let k = 0; k < D; k++) {
      const m = micro[k];
      const u = k === 0 ? body.addNode("Concat", [x, s], [n("u")], { axis: intAttr(0) })[0] : s;
      const z = addSparseProduct(body, n, u, m, `${k}`, `z${k}`);
      const [zH, zT] = body.addNode("Split", [z, split], [n(`zh${k}`), n(`zt${k}`)], {
        axis: intAttr(0),
      });
      s = highway(body, n, s, zH, zT);
    }
    return s;
  });
};
