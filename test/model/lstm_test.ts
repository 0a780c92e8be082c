import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../src/backend/backend.ts";
import { Rng } from "../../src/core/rng.ts";
import { lstmLayer } from "../../src/model/lstm.ts";
import { maxAbsDiff } from "../helpers.ts";

await useBackend("wasm");

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

function random(rng: Rng, shape: number[], scale = 0.5): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Array.from({ length: n }, () => scale * rng.normal()), shape);
}

Deno.test("one step with H=1 matches the LSTM equations with gates in i, f, c, o order", async () => {
  // Distinct pre-activations per gate, so a swapped gate order changes the result.
  const W = [0.3, -0.7, 1.1, 0.4];
  const R = [-0.2, 0.5, 0.6, -0.9];
  const b = [0.1, 0.8, -0.3, 0.2];
  const x = 1.5, h0 = -0.4, c0 = 0.7;
  const z = W.map((w, g) => x * w + h0 * R[g] + b[g]);
  const c1 = sigmoid(z[1]) * c0 + sigmoid(z[0]) * Math.tanh(z[2]);
  const h1 = sigmoid(z[3]) * Math.tanh(c1);

  const { outputs, final } = lstmLayer(
    tf.tensor3d([[[x]]]),
    { W: tf.tensor2d([W]), R: tf.tensor2d([R]), b: tf.tensor1d(b) },
    { h: tf.tensor2d([[h0]]), c: tf.tensor2d([[c0]]) },
  );
  assert.deepEqual(outputs.shape, [1, 1, 1]);
  assert.ok(Math.abs((await final.c.data())[0] - c1) < 1e-6);
  assert.ok(Math.abs((await final.h.data())[0] - h1) < 1e-6);
  assert.ok(Math.abs((await outputs.data())[0] - h1) < 1e-6);
});

Deno.test("outputs are the hidden state of every step and the final state is the last", async () => {
  const rng = new Rng(4);
  const [T, B, I, H] = [5, 3, 4, 6];
  const inputs = random(rng, [T, B, I]) as tf.Tensor3D;
  const weights = {
    W: random(rng, [I, 4 * H]) as tf.Tensor2D,
    R: random(rng, [H, 4 * H]) as tf.Tensor2D,
    b: random(rng, [4 * H]) as tf.Tensor1D,
  };
  const initial = { h: random(rng, [B, H]) as tf.Tensor2D, c: random(rng, [B, H]) as tf.Tensor2D };
  const whole = lstmLayer(inputs, weights, initial);
  assert.deepEqual(whole.outputs.shape, [T, B, H]);
  // Running the steps one at a time, carrying the state, gives the same outputs.
  let state = initial;
  for (let t = 0; t < T; t++) {
    const step = lstmLayer(tf.slice(inputs, [t, 0, 0], [1, B, I]), weights, state);
    const expected = await tf.slice(whole.outputs, [t, 0, 0], [1, B, H]).data();
    assert.ok(maxAbsDiff(await step.outputs.data(), expected) < 1e-6, `step ${t}`);
    state = step.final;
  }
  assert.ok(maxAbsDiff(await state.h.data(), await whole.final.h.data()) < 1e-6);
  assert.ok(maxAbsDiff(await state.c.data(), await whole.final.c.data()) < 1e-6);
  const lastOutput = await tf.slice(whole.outputs, [T - 1, 0, 0], [1, B, H]).data();
  assert.deepEqual(Array.from(lastOutput), Array.from(await whole.final.h.data()));
});

Deno.test("a padded step keeps the previous state; all-real masks change nothing", async () => {
  const rng = new Rng(6);
  const [T, B, I, H] = [4, 2, 3, 5];
  const inputs = random(rng, [T, B, I]) as tf.Tensor3D;
  const weights = {
    W: random(rng, [I, 4 * H]) as tf.Tensor2D,
    R: random(rng, [H, 4 * H]) as tf.Tensor2D,
    b: random(rng, [4 * H]) as tf.Tensor1D,
  };
  const zeros = { h: tf.zeros([B, H]) as tf.Tensor2D, c: tf.zeros([B, H]) as tf.Tensor2D };
  const unmasked = lstmLayer(inputs, weights, zeros);
  const ones = Array.from({ length: T }, () => tf.ones([B, 1]) as tf.Tensor2D);
  const allReal = lstmLayer(inputs, weights, zeros, ones);
  // h + 1·(h' − h) equals h' up to rounding.
  assert.ok(maxAbsDiff(await allReal.outputs.data(), await unmasked.outputs.data()) < 1e-6);

  // Sequence 0 has 2 real tokens, sequence 1 all 4.
  const lengths = [2, 4];
  const masks = Array.from(
    { length: T },
    (_, t) => tf.tensor2d(lengths.map((n) => (t < n ? 1 : 0)), [B, 1]),
  );
  const padded = lstmLayer(inputs, weights, zeros, masks);
  const short = lstmLayer(tf.slice(inputs, [0, 0, 0], [2, B, I]), weights, zeros);
  const rows = async (t: tf.Tensor) => (await t.array()) as number[][];
  const finalH = await rows(padded.final.h);
  const finalC = await rows(padded.final.c);
  assert.ok(maxAbsDiff(finalH[0], (await rows(short.final.h))[0]) < 1e-6);
  assert.ok(maxAbsDiff(finalC[0], (await rows(short.final.c))[0]) < 1e-6);
  assert.ok(maxAbsDiff(finalH[1], (await rows(unmasked.final.h))[1]) < 1e-6);
  // Outputs at padded steps repeat the last real hidden state.
  const outputs = (await padded.outputs.array()) as number[][][];
  assert.deepEqual(outputs[2][0], outputs[1][0]);
  assert.deepEqual(outputs[3][0], outputs[1][0]);
});

/** The LSTM as plain autodiff of the step-by-step graph: the oracle for the hand-written backward. */
function autodiffLstm(
  x: tf.Tensor3D,
  w: { W: tf.Tensor2D; R: tf.Tensor2D; b: tf.Tensor1D },
  h0: tf.Tensor2D,
  c0: tf.Tensor2D,
  masks?: tf.Tensor2D[],
): { outputs: tf.Tensor3D; h: tf.Tensor2D; c: tf.Tensor2D } {
  let h = h0, c = c0;
  const outputs: tf.Tensor2D[] = [];
  for (let t = 0; t < x.shape[0]; t++) {
    const xt = tf.reshape(tf.slice(x, [t, 0, 0], [1, -1, -1]), [x.shape[1], x.shape[2]]);
    const z = tf.add(tf.add(tf.matMul(xt, w.W), tf.matMul(h, w.R)), w.b);
    const [zi, zf, zg, zo] = tf.split(z, 4, 1);
    let nextC: tf.Tensor2D = tf.add(tf.mul(tf.sigmoid(zf), c), tf.mul(tf.sigmoid(zi), tf.tanh(zg)));
    let nextH: tf.Tensor2D = tf.mul(tf.sigmoid(zo), tf.tanh(nextC));
    if (masks) {
      nextH = tf.add(h, tf.mul(masks[t], tf.sub(nextH, h)));
      nextC = tf.add(c, tf.mul(masks[t], tf.sub(nextC, c)));
    }
    h = nextH;
    c = nextC;
    outputs.push(h);
  }
  return { outputs: tf.stack(outputs) as tf.Tensor3D, h, c };
}

Deno.test("the hand-written backward through time equals autodiff, with and without padding", async () => {
  const rng = new Rng(11);
  const [T, B, I, H] = [6, 3, 5, 4];
  const x = random(rng, [T, B, I], 1) as tf.Tensor3D;
  const h0 = random(rng, [B, H], 1) as tf.Tensor2D;
  const c0 = random(rng, [B, H], 1) as tf.Tensor2D;
  const W = random(rng, [I, 4 * H], 1) as tf.Tensor2D;
  const R = random(rng, [H, 4 * H], 1) as tf.Tensor2D;
  const b = random(rng, [4 * H], 1) as tf.Tensor1D;
  // A loss that reaches every output and both final states with different weights.
  const probe = [random(rng, [T, B, H]), random(rng, [B, H]), random(rng, [B, H])];
  const lengths = [6, 2, 4];
  const masks = Array.from(
    { length: T },
    (_, t) => tf.tensor2d(lengths.map((n) => (t < n ? 1 : 0)), [B, 1]),
  );
  for (const stepMasks of [undefined, masks]) {
    const loss = (run: () => { outputs: tf.Tensor; h: tf.Tensor; c: tf.Tensor }) => {
      const r = run();
      return tf.addN([
        tf.sum(tf.mul(r.outputs, probe[0])),
        tf.sum(tf.mul(r.h, probe[1])),
        tf.sum(tf.mul(r.c, probe[2])),
      ]) as tf.Scalar;
    };
    const ours = tf.grads((x_, W_, R_, b_, h_, c_) =>
      loss(() => {
        const r = lstmLayer(
          x_ as tf.Tensor3D,
          { W: W_ as tf.Tensor2D, R: R_ as tf.Tensor2D, b: b_ as tf.Tensor1D },
          { h: h_ as tf.Tensor2D, c: c_ as tf.Tensor2D },
          stepMasks,
        );
        return { outputs: r.outputs, h: r.final.h, c: r.final.c };
      })
    )([x, W, R, b, h0, c0]);
    const oracle = tf.grads((x_, W_, R_, b_, h_, c_) =>
      loss(() =>
        autodiffLstm(
          x_ as tf.Tensor3D,
          { W: W_ as tf.Tensor2D, R: R_ as tf.Tensor2D, b: b_ as tf.Tensor1D },
          h_ as tf.Tensor2D,
          c_ as tf.Tensor2D,
          stepMasks,
        )
      )
    )([x, W, R, b, h0, c0]);
    for (const [k, name] of ["x", "W", "R", "b", "h0", "c0"].entries()) {
      const e = await oracle[k].data();
      const worst = maxAbsDiff(await ours[k].data(), e);
      assert.ok(
        worst < 1e-5,
        `d${name} differs by ${worst} (${stepMasks ? "padded" : "unpadded"})`,
      );
      assert.ok(e.some((v) => v !== 0), `d${name} is not trivially zero`);
    }
  }
});
