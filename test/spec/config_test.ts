import assert from "node:assert/strict";
import {
  type ClassifierConfig,
  gateCount,
  type LanguageModelConfig,
  outputSize,
  paramSpecs,
  sizeOf,
} from "../../src/spec/config.ts";

const LM: LanguageModelConfig = {
  kind: "lm",
  cell: "lstm",
  vocabSize: 50,
  embedSize: 6,
  hiddenSize: 7,
  layers: 2,
  dropout: 0.1,
};

const CLASSIFIER: ClassifierConfig = {
  kind: "classifier",
  cell: "lstm",
  vocabSize: 30,
  embedSize: 4,
  hiddenSize: 5,
  layers: 1,
  numClasses: 3,
  dropout: 0,
};

Deno.test("paramSpecs lists a stacked LM's parameters in order with x@W shapes", () => {
  const specs = paramSpecs(LM);
  assert.deepEqual(
    specs.map((s) => [s.name, s.shape, s.role, s.gates]),
    [
      ["embedding", [50, 6], "embedding", 1],
      ["lstm.0.W", [6, 28], "gate", 4],
      ["lstm.0.R", [7, 28], "gate", 4],
      ["lstm.0.b", [28], "bias", 4],
      // Layer 1 reads layer 0's hidden state, not the embedding.
      ["lstm.1.W", [7, 28], "gate", 4],
      ["lstm.1.R", [7, 28], "gate", 4],
      ["lstm.1.b", [28], "bias", 4],
      ["decoder.W", [7, 50], "decoder", 1],
      ["decoder.b", [50], "bias", 1],
    ],
  );
});

Deno.test("paramSpecs gives a classifier a head over its classes", () => {
  const specs = paramSpecs(CLASSIFIER);
  assert.deepEqual(specs.map((s) => s.name), [
    "embedding",
    "lstm.0.W",
    "lstm.0.R",
    "lstm.0.b",
    "decoder.W",
    "decoder.b",
  ]);
  assert.deepEqual(specs.find((s) => s.name === "decoder.W")!.shape, [5, 3]);
  assert.deepEqual(specs.find((s) => s.name === "decoder.b")!.shape, [3]);
  assert.deepEqual(specs.find((s) => s.name === "embedding")!.shape, [30, 4]);
});

Deno.test("total parameter count follows the LSTM formula", () => {
  for (const config of [LM, CLASSIFIER]) {
    const H = config.hiddenSize, E = config.embedSize, V = config.vocabSize;
    const out = outputSize(config);
    let expected = V * E + H * out + out;
    for (let l = 0; l < config.layers; l++) {
      const input = l === 0 ? E : H;
      expected += 4 * H * (input + H) + 4 * H;
    }
    const total = paramSpecs(config).reduce((n, s) => n + sizeOf(s.shape), 0);
    assert.equal(total, expected, config.kind);
  }
});

Deno.test("gateCount, outputSize and sizeOf", () => {
  assert.equal(gateCount("lstm"), 4);
  assert.equal(outputSize(LM), 50);
  assert.equal(outputSize(CLASSIFIER), 3);
  assert.equal(sizeOf([2, 3, 4]), 24);
  assert.equal(sizeOf([7]), 7);
  assert.equal(sizeOf([]), 1);
  assert.equal(sizeOf([0, 5]), 0);
});
