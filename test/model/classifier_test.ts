import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../src/backend/backend.ts";
import { Rng } from "../../src/core/rng.ts";
import { classifierForward } from "../../src/model/classifier.ts";
import type { ClassifierConfig } from "../../src/spec/config.ts";
import { toVariables } from "../../src/model/params.ts";
import type { HostParams } from "../../src/spec/params.ts";
import { referenceClassifierForward } from "../../src/spec/reference.ts";
import { maxAbsDiff } from "../helpers.ts";
import { randomParams } from "../random_params.ts";

await useBackend("wasm");

const CLASSIFIER: ClassifierConfig = {
  kind: "classifier",
  cell: "lstm",
  vocabSize: 19,
  embedSize: 5,
  hiddenSize: 6,
  layers: 1,
  numClasses: 3,
  dropout: 0,
};

function randomWeights(seed: number): HostParams {
  return randomParams(CLASSIFIER, new Rng(seed), 0.7, 0.3);
}

/** Time-major padded tokens; padding positions hold random ids that must not matter. */
function pad(sequences: number[][], rng: Rng): { tokens: tf.Tensor2D; lengths: Int32Array } {
  const T = Math.max(...sequences.map((s) => s.length));
  const B = sequences.length;
  const ids = new Int32Array(T * B);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      ids[t * B + b] = t < sequences[b].length ? sequences[b][t] : rng.int(CLASSIFIER.vocabSize);
    }
  }
  return {
    tokens: tf.tensor2d(ids, [T, B], "int32"),
    lengths: Int32Array.from(sequences, (s) => s.length),
  };
}

Deno.test("classifierForward with padded lengths equals the reference on unpadded sequences", async () => {
  const weights = randomWeights(1);
  const vars = toVariables(weights);
  try {
    const rng = new Rng(2);
    const sequences = [7, 1, 4, 7, 2].map((n) =>
      Array.from({ length: n }, () => rng.int(CLASSIFIER.vocabSize))
    );
    const { tokens, lengths } = pad(sequences, rng);
    const logits = classifierForward(CLASSIFIER, vars, tokens, lengths);
    assert.deepEqual(logits.shape, [5, 3]);
    const expected = referenceClassifierForward(CLASSIFIER, weights, sequences);
    assert.ok(maxAbsDiff(await logits.data(), expected) <= 1e-5);

    // Other padding ids give the same logits.
    const again = classifierForward(CLASSIFIER, vars, pad(sequences, rng).tokens, lengths);
    assert.ok(maxAbsDiff(await again.data(), expected) <= 1e-5);
  } finally {
    tf.dispose(Object.values(vars));
  }
});

Deno.test("a sequence's logits do not depend on the batch it is in", async () => {
  const weights = randomWeights(3);
  const vars = toVariables(weights);
  try {
    const rng = new Rng(4);
    const alone = [[4, 8, 15, 16]];
    const batch = [[1, 2], ...alone, [18, 0, 3, 5, 9, 11]];
    const single = classifierForward(CLASSIFIER, vars, pad(alone, rng).tokens, Int32Array.of(4));
    const padded = pad(batch, rng);
    const many = (await classifierForward(CLASSIFIER, vars, padded.tokens, padded.lengths)
      .array()) as number[][];
    assert.ok(maxAbsDiff(many[1], await single.data()) <= 1e-5);
  } finally {
    tf.dispose(Object.values(vars));
  }
});

Deno.test("classifier dropout is seeded and off at evaluation", async () => {
  const weights = randomWeights(5);
  const vars = toVariables(weights);
  try {
    const rng = new Rng(6);
    const { tokens, lengths } = pad([[1, 2, 3], [4, 5]], rng);
    const plain = await classifierForward(CLASSIFIER, vars, tokens, lengths).data();
    const a = await classifierForward(CLASSIFIER, vars, tokens, lengths, { rate: 0.5, seed: 9 })
      .data();
    const b = await classifierForward(CLASSIFIER, vars, tokens, lengths, { rate: 0.5, seed: 9 })
      .data();
    assert.deepEqual(Array.from(a), Array.from(b));
    assert.ok(maxAbsDiff(a, plain) > 1e-4);
  } finally {
    tf.dispose(Object.values(vars));
  }
});
