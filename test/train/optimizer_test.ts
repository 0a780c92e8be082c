import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../src/backend/backend.ts";
import type { Params } from "../../src/model/params.ts";
import { clipByGlobalNorm, Optimizer } from "../../src/train/optimizer.ts";
import { DEFAULT_OPTIMIZER, type OptimizerConfig } from "../../src/spec/optimizer.ts";
import { maxAbsDiff } from "../helpers.ts";

await useBackend("wasm");

function params(values: Record<string, number[]>): Params {
  const out: Params = {};
  for (const [name, v] of Object.entries(values)) out[name] = tf.variable(tf.tensor1d(v));
  return out;
}

async function values(v: tf.Tensor): Promise<number[]> {
  return Array.from(await v.data());
}

function assertClose(actual: number[], expected: number[], what: string, tolerance = 1e-6) {
  const diff = maxAbsDiff(actual, expected);
  assert.ok(diff <= tolerance, `${what}: [${actual}] vs [${expected}] (diff ${diff})`);
}

const G1 = [0.5, -1, 0];
const G2 = [0.2, 0.3, -0.4];

Deno.test("SGD with momentum follows v ← μv + g, w ← w − lr·v", async () => {
  const config: OptimizerConfig = { ...DEFAULT_OPTIMIZER.sgd, momentum: 0.9 };
  const p = params({ w: [1, 2, 3] });
  const opt = new Optimizer(config, p);
  const lr = 0.1;
  opt.apply(p, { w: tf.tensor1d(G1) }, lr);
  opt.apply(p, { w: tf.tensor1d(G2) }, lr);
  const v1 = G1;
  const w1 = [1, 2, 3].map((w, i) => w - lr * v1[i]);
  const v2 = v1.map((v, i) => 0.9 * v + G2[i]);
  const w2 = w1.map((w, i) => w - lr * v2[i]);
  assertClose(await values(p.w), w2, "weights");
  assertClose(await values(opt.slots["v/w"]), v2, "velocity");
  assert.equal(opt.steps, 2);
  assert.equal(opt.momentumSlot("w"), opt.slots["v/w"]);
  tf.dispose([...Object.values(p), ...Object.values(opt.slots)]);
});

Deno.test("plain SGD has no state and applies weight decay to the gradient", async () => {
  const config: OptimizerConfig = { ...DEFAULT_OPTIMIZER.sgd, momentum: 0, weightDecay: 0.01 };
  const p = params({ w: [1, -2, 3] });
  const opt = new Optimizer(config, p);
  assert.deepEqual(Object.keys(opt.slots), []);
  assert.equal(opt.momentumSlot("w"), undefined);
  opt.apply(p, { w: tf.tensor1d(G1) }, 0.5);
  const expected = [1, -2, 3].map((w, i) => w - 0.5 * (G1[i] + 0.01 * w));
  assertClose(await values(p.w), expected, "weights");
  tf.dispose(Object.values(p));
});

Deno.test("Adam matches the bias-corrected update by hand over two steps", async () => {
  const config = DEFAULT_OPTIMIZER.adam;
  const { beta1: b1, beta2: b2, epsilon: eps } = config;
  const p = params({ w: [0.1, -0.2, 0.3], untouched: [5, 6] });
  const opt = new Optimizer(config, p);
  const lr = 0.01;
  let w = [0.1, -0.2, 0.3];
  let m = [0, 0, 0];
  let s = [0, 0, 0];
  for (const [step, g] of [G1, G2].entries()) {
    // A parameter without a gradient is left alone.
    opt.apply(p, { w: tf.tensor1d(g) }, lr);
    const t = step + 1;
    m = m.map((mi, i) => b1 * mi + (1 - b1) * g[i]);
    s = s.map((si, i) => b2 * si + (1 - b2) * g[i] * g[i]);
    w = w.map((wi, i) =>
      wi - lr * (m[i] / (1 - b1 ** t)) / (Math.sqrt(s[i] / (1 - b2 ** t)) + eps)
    );
  }
  assertClose(await values(p.w), w, "weights");
  assertClose(await values(opt.slots["m/w"]), m, "first moment");
  assertClose(await values(opt.slots["s/w"]), s, "second moment", 1e-9);
  assert.deepEqual(await values(p.untouched), [5, 6]);
  assert.equal(opt.momentumSlot("w"), opt.slots["m/w"]);
  tf.dispose([...Object.values(p), ...Object.values(opt.slots)]);
});

Deno.test("zeroAt zeroes every slot of one parameter at the given positions only", async () => {
  const p = params({ "lstm.0.W": [1, 2, 3, 4], "lstm.0.R": [1, 2, 3, 4] });
  const opt = new Optimizer(DEFAULT_OPTIMIZER.adam, p);
  const g = () => ({
    "lstm.0.W": tf.tensor1d([1, 2, 3, 4]),
    "lstm.0.R": tf.tensor1d([1, 2, 3, 4]),
  });
  opt.apply(p, g(), 0.1);
  const before = await values(opt.slots["m/lstm.0.W"]);
  await opt.zeroAt("lstm.0.W", Int32Array.of(0, 2));
  for (const slot of ["m", "s"]) {
    const after = await values(opt.slots[`${slot}/lstm.0.W`]);
    assert.equal(after[0], 0);
    assert.equal(after[2], 0);
    assert.ok(after[1] !== 0 && after[3] !== 0, `${slot} kept other positions`);
    assert.ok((await values(opt.slots[`${slot}/lstm.0.R`])).every((v) => v !== 0), "R untouched");
  }
  assert.equal((await values(opt.slots["m/lstm.0.W"]))[1], before[1]);
  // Zeroing nothing is a no-op.
  await opt.zeroAt("lstm.0.R", new Int32Array(0));
  assert.ok((await values(opt.slots["m/lstm.0.R"])).every((v) => v !== 0));
  tf.dispose([...Object.values(p), ...Object.values(opt.slots)]);
});

Deno.test("optimizer state round-trips through toHost and load", async () => {
  const p = params({ w: [1, 2, 3] });
  const opt = new Optimizer(DEFAULT_OPTIMIZER.adam, p);
  opt.apply(p, { w: tf.tensor1d(G1) }, 0.1);
  opt.apply(p, { w: tf.tensor1d(G2) }, 0.1);
  const saved = await opt.toHost();
  assert.deepEqual(Object.keys(saved).sort(), ["m/w", "s/w"]);

  const q = params({ w: await values(p.w) });
  const restored = new Optimizer(DEFAULT_OPTIMIZER.adam, q);
  restored.load(saved, opt.steps);
  assert.equal(restored.steps, 2);
  // The next step is identical from the original and the restored optimizer.
  opt.apply(p, { w: tf.tensor1d(G1) }, 0.1);
  restored.apply(q, { w: tf.tensor1d(G1) }, 0.1);
  assert.deepEqual(await values(q.w), await values(p.w));
  tf.dispose([...Object.values(p), ...Object.values(q)]);
});

Deno.test("clipByGlobalNorm scales to the norm only when it is exceeded", async () => {
  const grads = { a: tf.tensor1d([3, 0]), b: tf.tensor2d([[0, 4]]) };
  // Global norm 5.
  const clipped = clipByGlobalNorm(grads, 1);
  assertClose(await values(clipped.a), [0.6, 0], "a");
  assertClose(await values(clipped.b), [0, 0.8], "b");
  assert.deepEqual(clipped.b.shape, [1, 2]);
  const loose = clipByGlobalNorm(grads, 10);
  assertClose(await values(loose.a), [3, 0], "a unclipped");
  assertClose(await values(loose.b), [0, 4], "b unclipped");
  // 0 switches clipping off and returns the gradients as they are.
  assert.equal(clipByGlobalNorm(grads, 0), grads);
});
