import assert from "node:assert/strict";
import { referenceClassifierForward, referenceLmForward } from "../../src/spec/reference.ts";
import type { HostParams } from "../../src/spec/params.ts";
import {
  type ClassifierConfig,
  type LanguageModelConfig,
  type ModelConfig,
  paramSpecs,
} from "../../src/spec/config.ts";
import { Rng } from "../../src/core/rng.ts";
import { UserError } from "../../src/spec/errors.ts";
import { randomParams } from "../random_params.ts";

function randomWeights(config: ModelConfig, seed: number): HostParams {
  return randomParams(config, new Rng(seed), 0.7);
}

const LM: LanguageModelConfig = {
  kind: "lm",
  cell: "gru",
  vocabSize: 13,
  embedSize: 5,
  hiddenSize: 7,
  layers: 2,
  dropout: 0,
};

function closeTo(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-6) {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i] - b[i]) <= tol, `index ${i}: ${a[i]} vs ${b[i]}`);
  }
}

Deno.test("gru parameters: W [in, 3H], R [H, 3H], b [3H] and the candidate's bR [H]", () => {
  const specs = paramSpecs(LM).filter((s) => s.name.startsWith("gru.0."));
  assert.deepEqual(specs.map((s) => [s.name, s.shape, s.role, s.gates]), [
    ["gru.0.W", [5, 21], "gate", 3],
    ["gru.0.R", [7, 21], "gate", 3],
    ["gru.0.b", [21], "bias", 3],
    ["gru.0.bR", [7], "bias", 1],
  ]);
});

Deno.test("one-unit GRU follows the gate equations in z, r, n order", () => {
  const config: LanguageModelConfig = {
    ...LM,
    vocabSize: 2,
    embedSize: 1,
    hiddenSize: 1,
    layers: 1,
  };
  const w = (shape: number[], ...data: number[]) => ({ shape, data: Float32Array.from(data) });
  const weights: HostParams = {
    embedding: w([2, 1], 0.5, -1),
    "gru.0.W": w([1, 3], 0.3, -0.2, 0.9),
    "gru.0.R": w([1, 3], 0.4, 0.6, -0.7),
    "gru.0.b": w([3], 0.1, -0.1, 0.05),
    "gru.0.bR": w([1], 0.2),
    "decoder.W": w([1, 2], 1, -1),
    "decoder.b": w([2], 0, 0),
  };
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  let h = 0.25;
  const { logits, state } = referenceLmForward(config, weights, [[1], [0]], {
    h: Float32Array.of(h),
    c: new Float32Array(0),
  });
  for (const [t, x] of [-1, 0.5].entries()) {
    const z = sig(0.3 * x + 0.4 * h + 0.1);
    const r = sig(-0.2 * x + 0.6 * h - 0.1);
    const n = Math.tanh(0.9 * x + 0.05 + r * (-0.7 * h + 0.2));
    h = (1 - z) * n + z * h;
    closeTo(logits.subarray(2 * t, 2 * t + 2), [h, -h]);
  }
  closeTo(state.h, [h]);
  assert.equal(state.c.length, 0);
});

Deno.test("gru: carrying the state across calls equals one long call", () => {
  const weights = randomWeights(LM, 1);
  const rng = new Rng(2);
  const tokens = Array.from({ length: 6 }, () => [rng.int(13), rng.int(13)]);
  const full = referenceLmForward(LM, weights, tokens);
  const first = referenceLmForward(LM, weights, tokens.slice(0, 4));
  const rest = referenceLmForward(LM, weights, tokens.slice(4), first.state);
  closeTo(full.logits.subarray(0, 4 * 2 * 13), first.logits);
  closeTo(full.logits.subarray(4 * 2 * 13), rest.logits);
  closeTo(full.state.h, rest.state.h);
  // An LSTM-shaped state (with c) is refused: a GRU carries h only.
  assert.throws(
    () =>
      referenceLmForward(LM, weights, tokens, {
        h: first.state.h,
        c: new Float32Array(first.state.h.length),
      }),
    UserError,
  );
});

Deno.test("gru classifier reads the last state of each sequence", () => {
  const config: ClassifierConfig = { ...LM, kind: "classifier", layers: 1, numClasses: 3 };
  const weights = randomWeights(config, 3);
  const both = referenceClassifierForward(config, weights, [[1, 2, 3], [4]]);
  closeTo(both.subarray(0, 3), referenceClassifierForward(config, weights, [[1, 2, 3]]));
  closeTo(both.subarray(3), referenceClassifierForward(config, weights, [[4]]));
});
