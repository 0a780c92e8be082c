import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../src/backend/backend.ts";
import { Rng } from "../../src/core/rng.ts";
import {
  crossEntropy,
  embed,
  languageModelForward,
  zeroState,
} from "../../src/model/language_model.ts";
import type { LstmState } from "../../src/model/lstm.ts";
import { toVariables } from "../../src/model/params.ts";
import type { HostParams } from "../../src/spec/params.ts";
import { referenceLmForward } from "../../src/spec/reference.ts";
import { maxAbsDiff, SMALL_LM } from "../helpers.ts";
import { randomParams } from "../random_params.ts";

await useBackend("wasm");

/** Weights with nonzero biases and some exact zeros, like a trained sparse model. */
function randomWeights(seed: number): HostParams {
  return randomParams(SMALL_LM, new Rng(seed), 0.6, 0.3);
}

function randomTokens(rng: Rng, T: number, B: number): number[][] {
  return Array.from(
    { length: T },
    () => Array.from({ length: B }, () => rng.int(SMALL_LM.vocabSize)),
  );
}

function stateTensors(state: { h: Float32Array; c: Float32Array }, B: number): LstmState[] {
  const { layers: L, hiddenSize: H } = SMALL_LM;
  return Array.from({ length: L }, (_, l) => ({
    h: tf.tensor2d(state.h.subarray(l * B * H, (l + 1) * B * H), [B, H]),
    c: tf.tensor2d(state.c.subarray(l * B * H, (l + 1) * B * H), [B, H]),
  }));
}

async function stateArrays(state: LstmState[]): Promise<{ h: Float32Array; c: Float32Array }> {
  const h = await tf.concat(state.map((s) => tf.reshape(s.h, [-1]))).data();
  const c = await tf.concat(state.map((s) => tf.reshape(s.c, [-1]))).data();
  return { h: h as Float32Array, c: c as Float32Array };
}

Deno.test("languageModelForward equals the float64 reference to 1e-5", async () => {
  const weights = randomWeights(1);
  const vars = toVariables(weights);
  try {
    const rng = new Rng(2);
    const [T, B] = [9, 3];
    const tokens = randomTokens(rng, T, B);
    const { logits, state } = languageModelForward(
      SMALL_LM,
      vars,
      tf.tensor2d(tokens, [T, B], "int32"),
      zeroState(SMALL_LM, B),
    );
    const expected = referenceLmForward(SMALL_LM, weights, tokens);
    assert.deepEqual(logits.shape, [T * B, SMALL_LM.vocabSize]);
    assert.ok(maxAbsDiff(await logits.data(), expected.logits) <= 1e-5);
    const final = await stateArrays(state);
    assert.ok(maxAbsDiff(final.h, expected.state.h) <= 1e-5);
    assert.ok(maxAbsDiff(final.c, expected.state.c) <= 1e-5);
  } finally {
    tf.dispose(Object.values(vars));
  }
});

Deno.test("carrying the state across windows equals one long window and the reference", async () => {
  const weights = randomWeights(3);
  const vars = toVariables(weights);
  try {
    const rng = new Rng(4);
    const B = 2;
    const first = randomTokens(rng, 4, B);
    const second = randomTokens(rng, 5, B);
    const a = languageModelForward(
      SMALL_LM,
      vars,
      tf.tensor2d(first, [4, B], "int32"),
      zeroState(SMALL_LM, B),
    );
    const b = languageModelForward(SMALL_LM, vars, tf.tensor2d(second, [5, B], "int32"), a.state);
    const expected = referenceLmForward(SMALL_LM, weights, [...first, ...second]);
    const V = SMALL_LM.vocabSize;
    assert.ok(maxAbsDiff(await a.logits.data(), expected.logits.subarray(0, 4 * B * V)) <= 1e-5);
    assert.ok(maxAbsDiff(await b.logits.data(), expected.logits.subarray(4 * B * V)) <= 1e-5);

    // Starting from a given nonzero state, too.
    const start = referenceLmForward(SMALL_LM, weights, first).state;
    const fromState = languageModelForward(
      SMALL_LM,
      vars,
      tf.tensor2d(second, [5, B], "int32"),
      stateTensors(start, B),
    );
    const expectedFromState = referenceLmForward(SMALL_LM, weights, second, start);
    assert.ok(maxAbsDiff(await fromState.logits.data(), expectedFromState.logits) <= 1e-5);
  } finally {
    tf.dispose(Object.values(vars));
  }
});

Deno.test("dropout is off without a plan or at rate 0, and seeded when on", async () => {
  const weights = randomWeights(5);
  const vars = toVariables(weights);
  try {
    const tokens = tf.tensor2d(randomTokens(new Rng(6), 6, 2), [6, 2], "int32");
    const run = async (drop?: { rate: number; seed: number }) =>
      await languageModelForward(SMALL_LM, vars, tokens, zeroState(SMALL_LM, 2), drop).logits
        .data();
    const plain = await run();
    assert.deepEqual(Array.from(await run({ rate: 0, seed: 1 })), Array.from(plain));
    const dropped = await run({ rate: 0.5, seed: 1 });
    assert.ok(maxAbsDiff(dropped, plain) > 1e-3);
    assert.deepEqual(Array.from(await run({ rate: 0.5, seed: 1 })), Array.from(dropped));
    assert.ok(maxAbsDiff(await run({ rate: 0.5, seed: 2 }), dropped) > 1e-3);
  } finally {
    tf.dispose(Object.values(vars));
  }
});

Deno.test("embed gathers rows of the embedding for time-major tokens", async () => {
  const weights = randomWeights(7);
  const vars = toVariables(weights);
  try {
    const out = await embed(vars, tf.tensor2d([[3, 0], [22, 3]], [2, 2], "int32")).array();
    const E = SMALL_LM.embedSize;
    const row = (id: number) => Array.from(weights.embedding.data.subarray(id * E, (id + 1) * E));
    assert.deepEqual(out, [[row(3), row(0)], [row(22), row(3)]]);
  } finally {
    tf.dispose(Object.values(vars));
  }
});

Deno.test("crossEntropy is the mean negative log-probability of the targets", async () => {
  const logits = [[0, 0, 0], [Math.log(3), 0, 0], [1, 2, 3]];
  const targets = [1, 0, 2];
  const expected = logits.reduce((sum, row, i) => {
    const z = row.reduce((s, v) => s + Math.exp(v), 0);
    return sum - Math.log(Math.exp(row[targets[i]]) / z);
  }, 0) / logits.length;
  const loss = crossEntropy(tf.tensor2d(logits), tf.tensor1d(targets, "int32"));
  assert.deepEqual(loss.shape, []);
  assert.ok(Math.abs((await loss.data())[0] - expected) < 1e-6);
  // Uniform logits over V classes cost log V.
  const uniform = crossEntropy(tf.zeros([4, 7]) as tf.Tensor2D, tf.tensor1d([0, 1, 2, 6], "int32"));
  assert.ok(Math.abs((await uniform.data())[0] - Math.log(7)) < 1e-6);
});
