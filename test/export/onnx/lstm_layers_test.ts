import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import { GraphBuilder } from "../../../export/onnx/builder.ts";
import {
  addInt8LstmLayer,
  addLstmOpLayer,
  type LstmLayerBuilder,
  type LstmLayerWeights,
} from "../../../export/onnx/lstm_layers.ts";
import { addSparseScanLayer } from "../../../export/onnx/sparse_scan.ts";
import { DataType, encodeModel } from "../../../export/onnx/proto.ts";
import { WeightStore } from "../../../export/onnx/storage.ts";
import { Rng } from "../../../src/core/rng.ts";
import { maxAbsDiff } from "../helpers.ts";

const I = 3;
const H = 4;

function layerWeights(seed: number): LstmLayerWeights {
  const rng = new Rng(seed);
  const fill = (n: number) =>
    Float32Array.from({ length: n }, () => rng.next() < 0.6 ? rng.normal() * 0.5 : 0);
  return {
    index: 0,
    inputSize: I,
    hidden: H,
    W: fill(I * 4 * H),
    R: fill(H * 4 * H),
    b: fill(4 * H),
  };
}

/** One step of the Keras cell (gates i, f, c, o) in float64, for B = 1. */
function referenceStep(w: LstmLayerWeights, x: number[], h: number[], c: number[]) {
  const G = 4 * H;
  const z = Array.from({ length: G }, (_, j) => {
    let sum = w.b[j];
    for (let k = 0; k < I; k++) sum += x[k] * w.W[k * G + j];
    for (let k = 0; k < H; k++) sum += h[k] * w.R[k * G + j];
    return sum;
  });
  const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
  const cNext = c.map((cj, j) => sigmoid(z[H + j]) * cj + sigmoid(z[j]) * Math.tanh(z[2 * H + j]));
  const hNext = cNext.map((cj, j) => sigmoid(z[3 * H + j]) * Math.tanh(cj));
  return { h: hNext, c: cNext };
}

async function runLayer(
  builder: LstmLayerBuilder,
  weights: LstmLayerWeights,
  xs: number[][],
  needY: boolean,
) {
  const graph = new GraphBuilder("layer");
  const x = graph.addInput("x", DataType.FLOAT, ["T", 1, I]);
  const h0 = graph.addInput("h0", DataType.FLOAT, [1, 1, H]);
  const c0 = graph.addInput("c0", DataType.FLOAT, [1, 1, H]);
  const store = new WeightStore(graph, { storage: "dense", values: "fp32" });
  const out = builder(graph, store, weights, { x, h0, c0 }, needY);
  const outputs = needY ? [out.y!, out.h, out.c] : [out.h, out.c];
  for (const name of outputs) graph.addOutput(name, DataType.FLOAT);
  const session = await ort.InferenceSession.create(
    encodeModel(graph.build({
      opsetVersion: 17,
      producerName: "test",
      extraOpsets: [{ domain: "com.microsoft", version: 1 }],
    })),
  );
  const result = await session.run({
    x: new ort.Tensor("float32", Float32Array.from(xs.flat()), [xs.length, 1, I]),
    h0: new ort.Tensor("float32", new Float32Array([0.1, -0.2, 0.3, 0]), [1, 1, H]),
    c0: new ort.Tensor("float32", new Float32Array([0, 0.5, -0.5, 1]), [1, 1, H]),
  });
  await session.release();
  const data = (name: string) => result[name].data as Float32Array;
  return {
    y: needY ? data(out.y!) : undefined,
    h: data(out.h),
    c: data(out.c),
    dims: result[out.h].dims,
  };
}

const xs = [[1, 0, -1], [0.5, 2, 0], [-1, -1, 1]];

function reference(weights: LstmLayerWeights) {
  let state = { h: [0.1, -0.2, 0.3, 0], c: [0, 0.5, -0.5, 1] };
  const ys: number[] = [];
  for (const x of xs) {
    state = referenceStep(weights, x, state.h, state.c);
    ys.push(...state.h);
  }
  return { y: ys, ...state };
}

for (
  const [name, builder, tolerance] of [
    ["LSTM op", addLstmOpLayer, 1e-5],
    ["sparse Scan", addSparseScanLayer, 1e-5],
    // uint8 inputs and state at every step: a few hundredths on outputs in [-1, 1].
    ["int8", addInt8LstmLayer, 0.1],
  ] as const
) {
  Deno.test(`the ${name} layer follows the Keras cell and the layer contract`, async () => {
    const weights = layerWeights(1);
    const want = reference(weights);
    const got = await runLayer(builder, weights, xs, true);
    assert.deepEqual(got.dims, [1, 1, H]);
    assert.ok(maxAbsDiff(got.y!, want.y) <= tolerance, `${maxAbsDiff(got.y!, want.y)}`);
    assert.ok(maxAbsDiff(got.h, want.h) <= tolerance);
    assert.ok(maxAbsDiff(got.c, want.c) <= tolerance);
    // The final hidden state is the last output step.
    assert.deepEqual(Array.from(got.h), Array.from(got.y!.subarray(2 * H)));
    // Without the sequence, only the final state comes out, unchanged.
    const stateOnly = await runLayer(builder, weights, xs, false);
    assert.equal(stateOnly.y, undefined);
    assert.deepEqual(Array.from(stateOnly.h), Array.from(got.h));
  });
}
