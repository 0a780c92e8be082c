import assert from "node:assert/strict";
import {
  checkWeights,
  referenceClassifierForward,
  referenceLmForward,
} from "../../src/spec/reference.ts";
import type { HostParams } from "../../src/spec/params.ts";
import type { ClassifierConfig, LanguageModelConfig, ModelConfig } from "../../src/spec/config.ts";
import { Rng } from "../../src/core/rng.ts";
import { UserError } from "../../src/spec/errors.ts";
import { randomParams } from "../random_params.ts";

function randomWeights(config: ModelConfig, seed: number): HostParams {
  return randomParams(config, new Rng(seed), 0.7);
}

function lm(layers: number, vocabSize = 13): LanguageModelConfig {
  return {
    kind: "lm",
    cell: "lstm",
    vocabSize,
    embedSize: 5,
    hiddenSize: 7,
    layers,
    dropout: 0,
  };
}

function closeTo(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-6) {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i] - b[i]) <= tol, `index ${i}: ${a[i]} vs ${b[i]}`);
  }
}

Deno.test("one-unit LSTM follows the gate equations in i, f, c, o order", () => {
  const config: LanguageModelConfig = {
    kind: "lm",
    cell: "lstm",
    vocabSize: 2,
    embedSize: 1,
    hiddenSize: 1,
    layers: 1,
    dropout: 0,
  };
  const W = [0.3, -0.4, 0.9, 0.2];
  const R = [0.5, 0.7, -0.6, 0.1];
  const b = [0.05, 0.1, -0.2, 0.3];
  const embedding = [0.8, -1.5];
  const weights: HostParams = {
    embedding: { shape: [2, 1], data: new Float32Array(embedding) },
    "lstm.0.W": { shape: [1, 4], data: new Float32Array(W) },
    "lstm.0.R": { shape: [1, 4], data: new Float32Array(R) },
    "lstm.0.b": { shape: [4], data: new Float32Array(b) },
    "decoder.W": { shape: [1, 2], data: new Float32Array([1.2, -0.7]) },
    "decoder.b": { shape: [2], data: new Float32Array([0.01, 0.02]) },
  };
  const f32 = (v: number) => Math.fround(v);
  const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
  let h = 0;
  let c = 0;
  const expected: number[] = [];
  for (const token of [1, 0, 1]) {
    const x = f32(embedding[token]);
    const z = [0, 1, 2, 3].map((g) => x * f32(W[g]) + h * f32(R[g]) + f32(b[g]));
    const i = sigmoid(z[0]);
    const f = sigmoid(z[1]);
    const g = Math.tanh(z[2]);
    const o = sigmoid(z[3]);
    c = f * c + i * g;
    h = o * Math.tanh(c);
    expected.push(h * f32(1.2) + f32(0.01), h * f32(-0.7) + f32(0.02));
  }
  const result = referenceLmForward(config, weights, [[1], [0], [1]]);
  closeTo(result.logits, expected);
  closeTo(result.state.h, [h]);
  closeTo(result.state.c, [c]);
});

Deno.test("carrying the state across calls equals one long call", () => {
  const config = lm(2);
  const weights = randomWeights(config, 1);
  const rng = new Rng(2);
  const tokens = Array.from({ length: 6 }, () => [rng.int(13), rng.int(13)]);
  const full = referenceLmForward(config, weights, tokens);
  const first = referenceLmForward(config, weights, tokens.slice(0, 4));
  const rest = referenceLmForward(
    config,
    weights,
    tokens.slice(4),
    first.state,
  );
  closeTo(full.logits.subarray(0, 4 * 2 * 13), first.logits);
  closeTo(full.logits.subarray(4 * 2 * 13), rest.logits);
  closeTo(full.state.h, rest.state.h);
  closeTo(full.state.c, rest.state.c);
});

Deno.test("batch columns are independent", () => {
  const config = lm(2);
  const weights = randomWeights(config, 3);
  const tokens = [[1, 4], [2, 5], [3, 6]];
  const both = referenceLmForward(config, weights, tokens);
  for (const column of [0, 1]) {
    const alone = referenceLmForward(
      config,
      weights,
      tokens.map((row) => [row[column]]),
    );
    for (let t = 0; t < 3; t++) {
      closeTo(
        both.logits.subarray((t * 2 + column) * 13, (t * 2 + column + 1) * 13),
        alone.logits.subarray(t * 13, (t + 1) * 13),
      );
    }
  }
});

Deno.test("the classifier reads the last state of each sequence", () => {
  // With as many classes as words, the same weights also form an LM whose
  // logits at step t are what the classifier gives for the prefix ending at t.
  const classifier: ClassifierConfig = {
    kind: "classifier",
    cell: "lstm",
    vocabSize: 4,
    embedSize: 5,
    hiddenSize: 7,
    layers: 2,
    numClasses: 4,
    dropout: 0,
  };
  const weights = randomWeights(classifier, 4);
  const sequences = [[1, 2, 3, 0, 2], [3], [0, 1]];
  const got = referenceClassifierForward(classifier, weights, sequences);
  sequences.forEach((sequence, b) => {
    const asLm = referenceLmForward(
      lm(2, 4),
      weights,
      sequence.map((token) => [token]),
    );
    const last = sequence.length - 1;
    closeTo(
      got.subarray(b * 4, (b + 1) * 4),
      asLm.logits.subarray(last * 4, (last + 1) * 4),
    );
  });
});

Deno.test("bad weights, tokens and states raise UserError", () => {
  const config = lm(1);
  const weights = randomWeights(config, 5);
  assert.throws(() => referenceLmForward(config, weights, [[13]]), UserError);
  assert.throws(() => referenceLmForward(config, weights, [[1.5]]), UserError);
  assert.throws(
    () => referenceLmForward(config, weights, [[1, 2], [3]]),
    UserError,
  );
  assert.throws(
    () =>
      referenceLmForward(config, weights, [[1]], {
        h: new Float32Array(2),
        c: new Float32Array(2),
      }),
    /State must hold/,
  );
  const missing = { ...weights };
  delete missing["lstm.0.R"];
  assert.throws(() => checkWeights(config, missing), /lstm\.0\.R/);
  const misshapen = {
    ...weights,
    "decoder.W": { shape: [13, 7], data: new Float32Array(91) },
  };
  assert.throws(() => checkWeights(config, misshapen), /decoder\.W/);
});
