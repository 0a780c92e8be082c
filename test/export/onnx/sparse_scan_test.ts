import assert from "node:assert/strict";
import { cooGates } from "../../../export/onnx/sparse_scan.ts";
import { buildOnnx } from "../../../export/onnx_model.ts";
import { decodeModel } from "../../../export/onnx/proto.ts";
import type { ClassifierConfig, LanguageModelConfig } from "../../../src/spec/config.ts";
import { referenceClassifierForward, referenceLmForward } from "../../../src/spec/reference.ts";
import { openSession, runClassifier, runLanguageModel } from "../../../src/infer/onnx_runtime.ts";
import { Rng } from "../../../src/core/rng.ts";
import { maxAbsDiff, randomWeights } from "../helpers.ts";

Deno.test("cooGates lists [W; R] nonzeros row by row in the i, f, o, c order", () => {
  // inputs 1, hidden 1: W and R are [1, 4] with gates i, f, c, o.
  const coo = cooGates({
    index: 0,
    inputSize: 1,
    hidden: 1,
    W: new Float32Array([1, 0, 3, 4]),
    R: new Float32Array([0, 6, 7, 0]),
    b: new Float32Array(4),
  });
  // Rows: 0 = i, 1 = f, 2 = o, 3 = c; column 0 is x, column 1 is h.
  assert.deepEqual(coo.rows, [0, 1, 2, 3, 3]);
  assert.deepEqual(coo.cols, [0, 1, 0, 0, 1]);
  assert.deepEqual(Array.from(coo.values), [1, 6, 4, 3, 7]);
});

const LM: LanguageModelConfig = {
  kind: "lm",
  cell: "lstm",
  vocabSize: 11,
  embedSize: 6,
  hiddenSize: 5,
  layers: 2,
  dropout: 0,
};

Deno.test("the Scan graph carries state across calls like the LSTM op", async () => {
  const weights = randomWeights(LM, 0.25, 3);
  const { bytes } = buildOnnx(LM, weights, { compute: "sparse-scan" });
  const graph = decodeModel(bytes).graph!;
  assert.ok(graph.node!.some((n) => n.op_type === "Scan"));
  assert.ok(!graph.node!.some((n) => n.op_type === "LSTM"));
  const session = await openSession(bytes);
  const rng = new Rng(4);
  const tokens = Array.from({ length: 6 }, () => [rng.int(11), rng.int(11), rng.int(11)]);
  const initial = {
    h: Float32Array.from({ length: 2 * 3 * 5 }, () => rng.normal()),
    c: Float32Array.from({ length: 2 * 3 * 5 }, () => rng.normal()),
  };
  const want = referenceLmForward(LM, weights, tokens, initial);
  let state: { h: Float32Array; c: Float32Array } = initial;
  for (const [t, step] of tokens.entries()) {
    const got = await runLanguageModel(session, [step], state);
    assert.ok(maxAbsDiff(got.logits, want.logits.subarray(t * 33, (t + 1) * 33)) <= 1e-4);
    state = got.state;
  }
  assert.ok(maxAbsDiff(state.h, want.state.h) <= 1e-5);
  assert.ok(maxAbsDiff(state.c, want.state.c) <= 1e-5);
  await session.release();
});

Deno.test("the Scan classifier freezes each sequence's state after its length", async () => {
  const config: ClassifierConfig = { ...LM, kind: "classifier", layers: 1, numClasses: 4 };
  const weights = randomWeights(config, 0.4, 5);
  const session = await openSession(buildOnnx(config, weights, { compute: "sparse-scan" }).bytes);
  const rng = new Rng(6);
  const sequences = [7, 1, 3].map((n) => Array.from({ length: n }, () => rng.int(11)));
  const got = await runClassifier(session, sequences);
  assert.ok(maxAbsDiff(got.logits, referenceClassifierForward(config, weights, sequences)) <= 1e-4);
  await session.release();
});
