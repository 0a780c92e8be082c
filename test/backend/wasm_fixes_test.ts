/**
 * The fixed wasm kernels must compute exactly what tfjs's reference cpu
 * backend computes. This file switches the global tfjs backend between cpu
 * and wasm, so it stays separate from other tests and ends on wasm.
 */

import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { type BackendName, useBackend } from "../../src/backend/backend.ts";
import { Rng } from "../../src/core/rng.ts";
import { lmGradients, maxRelDiff } from "../helpers.ts";

type Dtype = "float32" | "int32" | "bool";

interface HostTensor {
  values: number[];
  shape: number[];
}

/** Runs `build` on `backend` and downloads every tensor it returns. */
async function runOn(
  backend: BackendName,
  build: () => tf.Tensor | tf.Tensor[],
): Promise<HostTensor[]> {
  await useBackend(backend);
  const result = tf.tidy(build);
  const tensors = Array.isArray(result) ? result : [result];
  const out: HostTensor[] = [];
  for (const t of tensors) out.push({ values: Array.from(await t.data()), shape: t.shape });
  tf.dispose(tensors);
  return out;
}

/** `build` on cpu and on wasm must agree: exactly unless `tolerance` is given. */
async function assertSameOnWasm(
  what: string,
  build: () => tf.Tensor | tf.Tensor[],
  tolerance = 0,
): Promise<void> {
  const expected = await runOn("cpu", build);
  const actual = await runOn("wasm", build);
  assert.equal(actual.length, expected.length, what);
  actual.forEach((a, i) => {
    assert.deepEqual(a.shape, expected[i].shape, `${what}: output ${i} shape`);
    if (tolerance === 0) assert.deepEqual(a.values, expected[i].values, `${what}: output ${i}`);
    else {
      const diff = maxRelDiff(a.values, expected[i].values);
      assert.ok(diff <= tolerance, `${what}: output ${i} differs by ${diff}`);
    }
  });
}

function randomTensor(rng: Rng, shape: number[], dtype: Dtype): () => tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = Array.from(
    { length: n },
    () => dtype === "float32" ? rng.normal() : dtype === "int32" ? rng.int(1000) - 500 : rng.int(2),
  );
  return () => tf.tensor(values, shape, dtype);
}

function randomShape(rng: Rng, rank: number): number[] {
  return Array.from({ length: rank }, () => 1 + rng.int(5));
}

Deno.test("wasm slice equals cpu for random boxes of rank 1-4, contiguous or not", async () => {
  const rng = new Rng(11);
  for (let trial = 0; trial < 40; trial++) {
    const rank = 1 + (trial % 4);
    const shape = randomShape(rng, rank);
    const dtype: Dtype = (["float32", "int32", "bool"] as const)[trial % 3];
    const x = randomTensor(rng, shape, dtype);
    const begin = shape.map((d) => rng.int(d));
    // Every fourth trial uses -1 ("to the end") in one dimension.
    const size = shape.map((d, i) =>
      trial % 4 === 3 && i === rank - 1 ? -1 : 1 + rng.int(d - begin[i])
    );
    await assertSameOnWasm(
      `slice [${shape}] ${dtype} begin [${begin}] size [${size}]`,
      () => tf.slice(x(), begin, size),
    );
  }
});

Deno.test("wasm slice handles the time-step cut of a [T, B, H] sequence", async () => {
  const x = randomTensor(new Rng(2), [6, 3, 4], "float32");
  await assertSameOnWasm(
    "time steps",
    () => Array.from({ length: 6 }, (_, t) => tf.slice(x(), [t, 0, 0], [1, 3, 4])),
  );
  // A middle dimension cut: neither leading nor trailing dimensions whole.
  await assertSameOnWasm("middle", () => tf.slice(x(), [1, 1, 0], [4, 1, 4]));
  await assertSameOnWasm("inner", () => tf.slice(x(), [0, 0, 1], [6, 3, 2]));
});

Deno.test("wasm split equals cpu for sizes, counts and every axis", async () => {
  const rng = new Rng(5);
  for (let trial = 0; trial < 24; trial++) {
    const rank = 1 + (trial % 4);
    const shape = randomShape(rng, rank).map((d) => d + 1);
    const axis = rng.int(rank);
    const dtype: Dtype = trial % 2 === 0 ? "float32" : "int32";
    const x = randomTensor(rng, shape, dtype);
    // Random sizes that add up to the axis length.
    const sizes: number[] = [];
    for (let left = shape[axis]; left > 0;) {
      const s = 1 + rng.int(left);
      sizes.push(s);
      left -= s;
    }
    await assertSameOnWasm(
      `split [${shape}] axis ${axis} into [${sizes}]`,
      () => tf.split(x(), sizes, axis),
    );
    await assertSameOnWasm(
      `split [${shape}] axis ${axis - rank} into ${shape[axis]}`,
      () => tf.split(x(), shape[axis], axis - rank),
    );
  }
  // The LSTM cuts its fused gates this way.
  const z = randomTensor(rng, [3, 4 * 5], "float32");
  await assertSameOnWasm("gates", () => tf.split(z(), 4, 1));
});

Deno.test("wasm unstack equals cpu on every axis of rank 2-4 tensors", async () => {
  const rng = new Rng(8);
  for (let rank = 2; rank <= 4; rank++) {
    for (let axis = -rank; axis < rank; axis++) {
      const shape = randomShape(rng, rank);
      const x = randomTensor(rng, shape, axis % 2 === 0 ? "float32" : "int32");
      await assertSameOnWasm(`unstack [${shape}] axis ${axis}`, () => tf.unstack(x(), axis));
    }
  }
});

Deno.test("wasm unsortedSegmentSum exists and equals cpu", async () => {
  const rng = new Rng(13);
  for (const [shape, segments] of [[[9], 4], [[7, 3], 5], [[6, 2, 3], 3], [[1, 4], 6]] as const) {
    const x = randomTensor(rng, [...shape], "float32");
    const ids = Array.from({ length: shape[0] }, () => rng.int(segments));
    await assertSameOnWasm(
      `segment sum [${shape}] into ${segments}`,
      () => tf.unsortedSegmentSum(x(), tf.tensor1d(ids, "int32"), segments),
      1e-6,
    );
  }
  // The gradient of an embedding lookup, with repeated ids.
  const table = randomTensor(rng, [10, 4], "float32");
  await assertSameOnWasm(
    "gather gradient",
    () => tf.grad((t: tf.Tensor) => tf.sum(tf.square(tf.gather(t, [3, 1, 3, 3, 9]))))(table()),
    1e-6,
  );
});

Deno.test("wasm matMul with transpose flags equals cpu, plain and batched", async () => {
  const rng = new Rng(17);
  for (const batch of [[], [3]]) {
    for (const transposeA of [false, true]) {
      for (const transposeB of [false, true]) {
        const [m, k, n] = [4, 7, 5];
        const a = randomTensor(rng, [...batch, ...(transposeA ? [k, m] : [m, k])], "float32");
        const b = randomTensor(rng, [...batch, ...(transposeB ? [n, k] : [k, n])], "float32");
        await assertSameOnWasm(
          `matMul batch [${batch}] tA ${transposeA} tB ${transposeB}`,
          () => tf.matMul(a(), b(), transposeA, transposeB),
          1e-5,
        );
      }
    }
  }
});

Deno.test("the fixed wasm kernels free their intermediate buffers", async () => {
  await useBackend("wasm");
  const backend = tf.engine().backend;
  const before = backend.numDataIds();
  tf.tidy(() => {
    const x = tf.randomNormal([5, 4, 3]);
    tf.slice(x, [1, 1, 0], [3, 2, 3]);
    tf.split(x, [1, 3], 1);
    tf.unstack(x, 2);
    tf.matMul(tf.randomNormal([3, 4]), tf.randomNormal([5, 4]), false, true);
    tf.matMul(tf.randomNormal([4, 3]), tf.randomNormal([4, 5]), true, false);
    tf.unsortedSegmentSum(x, tf.tensor1d([0, 2, 2, 1, 0], "int32"), 3);
  });
  assert.equal(backend.numDataIds(), before);
});

Deno.test("an LM gradient on wasm matches the cpu backend to 1e-4 relative", async () => {
  await useBackend("cpu");
  const cpu = await lmGradients();
  await useBackend("wasm");
  const wasm = await lmGradients();
  assert.ok(Math.abs(wasm.loss - cpu.loss) <= 1e-5 * Math.abs(cpu.loss));
  assert.deepEqual(Object.keys(wasm.grads).sort(), Object.keys(cpu.grads).sort());
  for (const [name, g] of Object.entries(cpu.grads)) {
    assert.ok(g.some((v) => v !== 0), `${name} has a nonzero gradient`);
    const diff = maxRelDiff(wasm.grads[name], g);
    assert.ok(diff <= 1e-4, `${name}: wasm differs from cpu by ${diff}`);
  }
  assert.equal(tf.getBackend(), "wasm");
});
