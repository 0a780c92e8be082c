import assert from "node:assert/strict";
import {
  cellFlops,
  inferenceFlops,
  meanPrunedFraction,
  parameterReport,
  trainingFlops,
} from "../../src/core/flops.ts";
import type { MethodName } from "../../src/core/methods.ts";
import { Rng } from "../../src/core/rng.ts";
import { UserError } from "../../src/spec/errors.ts";
import type { ClassifierConfig, LanguageModelConfig } from "../../src/spec/config.ts";

/** The worked example of docs/flops.md. */
const tinyLm: LanguageModelConfig = {
  kind: "lm",
  cell: "lstm",
  vocabSize: 10,
  embedSize: 4,
  hiddenSize: 3,
  layers: 1,
  dropout: 0,
};
const tinyNonzeros = { "lstm.0.W": 12, "lstm.0.R": 9 };
const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-6, `${a} vs ${b}`);

Deno.test("parameterReport of the worked example", () => {
  const report = parameterReport(tinyLm, tinyNonzeros);
  assert.deepEqual(report.params.map((p) => [p.name, p.size, p.nonzeros]), [
    ["embedding", 40, 40],
    ["lstm.0.W", 48, 12],
    ["lstm.0.R", 36, 9],
    ["lstm.0.b", 12, 12],
    ["decoder.W", 30, 30],
    ["decoder.b", 10, 10],
  ]);
  assert.equal(report.total, 40 + 48 + 36 + 12 + 30 + 10);
  assert.equal(report.nonzeros, 176 - 36 - 27);
  close(report.sparsity, 63 / 176);
});

Deno.test("parameterReport rejects unknown names and impossible counts", () => {
  assert.throws(() => parameterReport(tinyLm, { "lstm.1.W": 3 }), RangeError);
  assert.throws(() => parameterReport(tinyLm, { "lstm.0.W": 49 }), RangeError);
});

Deno.test("inference FLOPs of the worked example", () => {
  const flops = inferenceFlops(tinyLm, tinyNonzeros);
  assert.equal(cellFlops(3), 8 * 3 + 4 * 3 + 3 * 3 + 2 * 3);
  assert.deepEqual(flops.terms.map((t) => [t.name, t.perToken, t.maskedDensePerToken]), [
    ["embedding", 0, 0],
    ["lstm.0.W", 2 * 12, 2 * 48],
    ["lstm.0.R", 2 * 9, 2 * 36],
    ["lstm.0.cell", 17 * 3, 17 * 3],
    ["decoder.W", 2 * 30, 2 * 30],
    ["decoder.b", 10, 10],
  ]);
  assert.equal(flops.perToken, 24 + 18 + 51 + 60 + 10);
  assert.equal(flops.perToken, 163);
  assert.equal(flops.maskedDensePerToken, 96 + 72 + 51 + 60 + 10);
  assert.equal(flops.maskedDensePerToken, 289);
  assert.equal(flops.perSequence, 0);
  // The dense model needs what the masked-dense one executes.
  assert.equal(inferenceFlops(tinyLm).perToken, 289);
});

Deno.test("training FLOPs of the worked example, method by method", () => {
  const run = { tokens: 1000, steps: 10, topologyUpdates: 2 };
  const flops = (method: MethodName, extra = {}) =>
    trainingFlops(tinyLm, tinyNonzeros, { ...run, method, ...extra });
  const denseReference = 3 * 289 * 1000;
  const strnn = flops("strnn");
  assert.equal(strnn.total, 3 * 163 * 1000);
  assert.equal(strnn.denseReference, denseReference);
  close(strnn.normalized, 489000 / 867000);
  assert.equal(strnn.maskedDense, denseReference);
  assert.equal(strnn.maskedDenseNormalized, 1);
  assert.equal(flops("set").total, 489000);
  // A dense weight gradient costs 2·(48 − 12) + 2·(36 − 9) = 126 more per token.
  assert.equal(flops("rigl").total, 489000 + 126 * 100 * 2);
  assert.equal(flops("rigl").total, 514200);
  assert.equal(flops("snfs").total, 489000 + 126 * 1000);
  assert.equal(flops("dense").total, denseReference);
  const gmp = flops("gmp", {
    gmp: { initialSparsity: 0, finalSparsity: 0.5, startStep: 0, endStep: 10 },
  });
  const fractions = [0, 0.271, 0.488, 0.657, 0.784, 0.875, 0.936, 0.973, 0.992, 0.999];
  const mean = fractions.reduce((a, b) => a + b) / 10;
  close(mean, 0.6975);
  close(gmp.total, 3 * (289 - mean * 126) * 1000);
  close(gmp.total, 603345);
});

Deno.test("small-dense is normalised by the full-size dense model", () => {
  const small = { ...tinyLm, hiddenSize: 2 };
  // W [4, 8]: 64, R [2, 8]: 32, cell 17·2 = 34, decoder [2, 10]: 40 + 10.
  assert.equal(inferenceFlops(small).perToken, 64 + 32 + 34 + 40 + 10);
  const flops = trainingFlops(
    small,
    {},
    { method: "small-dense", tokens: 1000, steps: 10 },
    tinyLm,
  );
  assert.equal(flops.total, 3 * 180 * 1000);
  assert.equal(flops.denseReference, 867000);
  close(flops.normalized, 540000 / 867000);
});

Deno.test("a classifier runs its head once per sequence", () => {
  const config: ClassifierConfig = {
    kind: "classifier",
    cell: "lstm",
    vocabSize: 10,
    embedSize: 4,
    hiddenSize: 3,
    layers: 1,
    numClasses: 2,
    dropout: 0,
  };
  const nonzeros = { "lstm.0.W": 12, "lstm.0.R": 9, "decoder.W": 3 };
  const inference = inferenceFlops(config, nonzeros);
  assert.equal(inference.perToken, 24 + 18 + 51);
  assert.equal(inference.perSequence, 2 * 3 + 2);
  assert.equal(inference.maskedDensePerToken, 96 + 72 + 51);
  assert.equal(inference.maskedDensePerSequence, 2 * 6 + 2);
  const run = { tokens: 1000, sequences: 50, steps: 5, topologyUpdates: 1 };
  const strnn = trainingFlops(config, nonzeros, { ...run, method: "strnn" });
  assert.equal(strnn.total, 3 * (93 * 1000 + 8 * 50));
  assert.equal(strnn.denseReference, 3 * (219 * 1000 + 14 * 50));
  // Dense gradient extra: (219 − 93)·1000 + (14 − 8)·50 = 126,300 per run,
  // paid on one step of five.
  assert.equal(trainingFlops(config, nonzeros, { ...run, method: "rigl" }).total, 280200 + 25260);
  assert.throws(
    () => trainingFlops(config, nonzeros, { tokens: 10, steps: 1, method: "strnn" }),
    UserError,
  );
});

Deno.test("training FLOPs order the methods as expected on random models", () => {
  const rng = new Rng(101);
  for (let trial = 0; trial < 50; trial++) {
    const config: LanguageModelConfig = {
      ...tinyLm,
      vocabSize: 5 + rng.int(100),
      embedSize: 1 + rng.int(30),
      hiddenSize: 1 + rng.int(30),
      layers: 1 + rng.int(3),
    };
    const nonzeros: Record<string, number> = {};
    for (const p of parameterReport(config).params) {
      if (p.role === "gate") nonzeros[p.name] = rng.int(p.size + 1);
    }
    const run = { tokens: 1 + rng.int(10000), steps: 1 + rng.int(100) };
    const cost = (method: MethodName) =>
      trainingFlops(config, nonzeros, {
        ...run,
        method,
        topologyUpdates: rng.int(run.steps + 1),
        gmp: { initialSparsity: 0, finalSparsity: 0.9, startStep: 0, endStep: run.steps },
      }).total;
    const dense = cost("dense");
    const strnn = cost("strnn");
    assert.ok(strnn <= cost("rigl"));
    assert.ok(cost("rigl") <= cost("snfs") + 1e-6);
    assert.ok(cost("snfs") <= dense + 1e-6);
    assert.ok(strnn <= cost("gmp") + 1e-6 && cost("gmp") <= dense + 1e-6);
  }
});

Deno.test("meanPrunedFraction averages the cubic schedule", () => {
  const schedule = { initialSparsity: 0, finalSparsity: 0.9, startStep: 0, endStep: 2 };
  // s(0)/s_f = 0, s(1)/s_f = 1 − 0.5³ = 0.875, s(2)/s_f = 1.
  close(meanPrunedFraction(schedule, 3), (0 + 0.875 + 1) / 3);
  assert.equal(meanPrunedFraction({ ...schedule, finalSparsity: 0 }, 3), 0);
});
