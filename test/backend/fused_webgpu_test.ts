/**
 * The fused WGSL recurrence (src/model/fused_webgpu.ts) against the op-by-op
 * one on wasm, on lavapipe where there is no GPU. This file switches tfjs's
 * global backend, so it stays separate from other tests and ends on wasm.
 *
 * Tolerance: both sides are float32; they differ in summation order (a dot
 * product of H terms, then T steps of backpropagation), and in WGSL's
 * `exp`, which Vulkan allows a few ulp of error. Over these short sequences
 * that stays below 1e-4 relative; a wrong index or a missing term gives
 * differences of order 1.
 */

import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../src/backend/backend.ts";
import { lstmLayer } from "../../src/model/lstm.ts";
import { gruLayer } from "../../src/model/gru.ts";
import { rhnLayer } from "../../src/model/rhn.ts";
import { fusedRecurrenceActive, setFusedRecurrence } from "../../src/model/fused_webgpu.ts";
import { Rng } from "../../src/core/rng.ts";
import { clipByGlobalNorm } from "../../src/train/optimizer.ts";
import { CELL_TYPES } from "../../src/spec/config.ts";
import { join } from "node:path";
import {
  lmGradients,
  maxRelDiff,
  tinyClassifierConfig,
  tinyLmConfig,
  trainTiny,
  withTempDir,
} from "../helpers.ts";

const TOLERANCE = 1e-4;

interface LayerCase {
  T: number;
  B: number;
  input: number;
  H: number;
  /** Per step, per batch row: 1 real, 0 padding. */
  masks?: number[][];
  /** RHN micro-layers (default 2). */
  depth?: number;
  /** RHN: a variational hidden dropout mask. */
  hiddenMask?: boolean;
}

type Cell = "lstm" | "gru" | "rhn";

/** Loss and gradients of one layer whose every output (and final state) reaches the loss. */
async function layerGradients(c: LayerCase, cell: Cell = "lstm", seed = 5) {
  const G = { lstm: 4, gru: 3, rhn: 2 }[cell];
  const rng = new Rng(seed);
  const rand = (n: number, scale: number) =>
    Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * scale);
  const keep: tf.Tensor[] = [];
  // A variable shares its initial tensor's data; dropping that tensor leaves one owner.
  const variable = <T extends tf.Tensor>(t: T): T & tf.Variable => {
    const v = tf.variable(t);
    t.dispose();
    keep.push(v);
    return v as unknown as T & tf.Variable;
  };
  const matrix = (rows: number) =>
    variable(tf.tensor2d(rand(rows * G * c.H, 0.5), [rows, G * c.H]));
  const vector = (n: number) => variable(tf.tensor1d(rand(n, 0.5)));
  const depth = cell === "rhn" ? c.depth ?? 2 : 1;
  const W = matrix(c.input);
  const Rs = Array.from({ length: depth }, () => matrix(c.H));
  const bs = Array.from({ length: depth }, () => vector(G * c.H));
  const bR = cell === "gru" ? [vector(c.H)] : [];
  const h0 = variable(tf.tensor2d(rand(c.B * c.H, 0.5), [c.B, c.H]));
  // An RHN has no cell state: its final c is zeros, whatever c0 is.
  const c0 = variable(tf.tensor2d(rand(c.B * c.H, 0.5), [c.B, c.H]));
  const x = tf.tensor3d(rand(c.T * c.B * c.input, 1), [c.T, c.B, c.input]);
  const wOut = tf.tensor3d(rand(c.T * c.B * c.H, 1), [c.T, c.B, c.H]);
  const wH = tf.tensor2d(rand(c.B * c.H, 1), [c.B, c.H]);
  const wC = tf.tensor2d(rand(c.B * c.H, 1), [c.B, c.H]);
  const masks = c.masks?.map((m) => tf.tensor2d(m, [c.B, 1]));
  const hiddenMask = c.hiddenMask
    ? tf.tensor2d(Float32Array.from({ length: c.B * c.H }, () => rng.next() < 0.3 ? 0 : 1.4), [
      c.B,
      c.H,
    ])
    : undefined;
  keep.push(x, wOut, wH, wC, ...(masks ?? []), ...(hiddenMask ? [hiddenMask] : []));
  const initial = { h: h0, c: c0 };
  const { value, grads } = tf.variableGrads(() => {
    const out = cell === "lstm"
      ? lstmLayer(x, { W, R: Rs[0], b: bs[0] }, initial, masks)
      : cell === "gru"
      ? gruLayer(x, { W, R: Rs[0], b: bs[0], bR: bR[0] }, initial, masks)
      : rhnLayer(x, { W, R: Rs, b: bs }, initial, masks, hiddenMask);
    return tf.addN([
      tf.sum(tf.mul(out.outputs, wOut)),
      tf.sum(tf.mul(out.final.h, wH)),
      tf.sum(tf.mul(out.final.c, wC)),
    ]) as tf.Scalar;
  }, [W, ...Rs, ...bs, ...bR, h0, ...(cell === "rhn" ? [] : [c0])]);
  const result = { loss: (await value.data())[0], grads: {} as Record<string, Float32Array> };
  for (const [name, g] of Object.entries(grads)) {
    result.grads[name] = (await g.data()) as Float32Array;
  }
  tf.dispose([value, ...Object.values(grads), ...keep]);
  return result;
}

function assertClose(
  got: { loss: number; grads: Record<string, Float32Array> },
  want: { loss: number; grads: Record<string, Float32Array> },
  what: string,
) {
  const lossDiff = Math.abs(got.loss - want.loss) / Math.max(1, Math.abs(want.loss));
  assert.ok(lossDiff <= TOLERANCE, `${what}: loss ${got.loss} vs ${want.loss}`);
  assert.equal(Object.keys(got.grads).length, Object.keys(want.grads).length);
  for (const [i, g] of Object.values(want.grads).entries()) {
    const diff = maxRelDiff(Object.values(got.grads)[i], g);
    assert.ok(diff <= TOLERANCE, `${what}: gradient ${i} differs by ${diff}`);
  }
}

const CASES: Record<string, LayerCase> = {
  // B not a multiple of the 4 rows a thread handles, and H not of the workgroup.
  "plain": { T: 5, B: 3, input: 4, H: 6 },
  "padded": {
    T: 4,
    B: 5,
    input: 3,
    H: 7,
    masks: [[1, 1, 1, 1, 1], [1, 0, 1, 1, 0], [1, 0, 0, 1, 0], [1, 0, 0, 0, 0]],
  },
  "one step": { T: 1, B: 2, input: 2, H: 3, depth: 1 },
  // For the RHN, more micro-layers and a hidden dropout mask; other cells ignore both.
  "deep, dropout": { T: 3, B: 4, input: 3, H: 5, depth: 3, hiddenMask: true },
};

for (const cell of ["lstm", "gru", "rhn"] as const) {
  Deno.test(`the fused ${cell} on webgpu matches the op-by-op one on wasm`, async () => {
    try {
      for (const [name, c] of Object.entries(CASES)) {
        await useBackend("wasm");
        assert.equal(fusedRecurrenceActive(), false);
        const want = await layerGradients(c, cell);
        await useBackend("webgpu");
        assert.equal(fusedRecurrenceActive(), true);
        const before = tf.memory().numTensors;
        assertClose(await layerGradients(c, cell), want, `${cell} ${name}`);
        assert.equal(tf.memory().numTensors, before, `${cell} ${name}: tensors left behind`);
      }
    } finally {
      await useBackend("wasm");
    }
  });
}

Deno.test("an LM gradient fused on webgpu matches op-by-op webgpu and wasm", async () => {
  try {
    await useBackend("wasm");
    const wasm = await lmGradients();
    await useBackend("webgpu");
    const fused = await lmGradients();
    setFusedRecurrence(false);
    assert.equal(fusedRecurrenceActive(), false);
    const opByOp = await lmGradients();
    assertClose(fused, wasm, "fused vs wasm");
    // The op-by-op webgpu kernels sum in yet another order (tiled matMuls).
    assert.ok(Math.abs(opByOp.loss - fused.loss) <= 2e-3 * Math.abs(wasm.loss));
  } finally {
    setFusedRecurrence(true);
    await useBackend("wasm");
  }
});

/**
 * Short runs from one seed on wasm and on webgpu (fused): every epoch's
 * losses agree. Measured: 2e-7 relative, float32 rounding; 1e-5 leaves room
 * for another Vulkan driver's `exp` and for a topology update that swaps
 * two near-equal weights, while a wrong gradient moves the losses by 1e-3
 * or more within two steps (before tfjs-webgpu's AddN was avoided in
 * clipping, they differed by 2e-3).
 */
Deno.test("short training runs on webgpu (fused) and wasm give the same losses", async () => {
  try {
    await withTempDir(async (dir) => {
      // Every cell, each on its fused kernel on webgpu.
      for (const cell of CELL_TYPES) {
        for (const kind of ["lm", "classifier"] as const) {
          const histories: Record<string, number>[][] = [];
          for (const backend of ["wasm", "webgpu"] as const) {
            const { result } = await trainTiny(kind, join(dir, `${cell}-${kind}-${backend}`), {
              backend,
              compute: "masked",
              model: {
                ...(kind === "lm" ? tinyLmConfig("") : tinyClassifierConfig("")).model,
                cell,
                // Two RHN micro-layers test the same as ten, in a fifth of the time.
                ...(cell === "rhn" ? { depth: 2 } : {}),
              },
            });
            histories.push(result.checkpoint.meta.progress.history);
          }
          const [wasm, gpu] = histories;
          assert.equal(gpu.length, wasm.length);
          for (const [e, epoch] of wasm.entries()) {
            for (const [key, want] of Object.entries(epoch)) {
              if (!/loss|perplexity/.test(key)) continue;
              const got = gpu[e][key];
              const diff = Math.abs(got - want) / Math.abs(want);
              assert.ok(diff <= 1e-5, `${cell} ${kind} epoch ${e + 1} ${key}: ${got} vs ${want}`);
            }
          }
        }
      }
    });
  } finally {
    await useBackend("wasm");
  }
});

Deno.test("gradient clipping sums every gradient's square on webgpu", async () => {
  // tfjs-webgpu's AddN loses inputs from 8 on, which broke clipping with 9 parameters.
  try {
    await useBackend("webgpu");
    const grads = Object.fromEntries(
      Array.from({ length: 12 }, (_, i) => [`g${i}`, tf.fill([3 + i], i + 1)]),
    );
    let want = 0;
    for (let i = 0; i < 12; i++) want += (3 + i) * (i + 1) ** 2;
    const clipped = clipByGlobalNorm(grads, 1);
    const got = await clipped["g11"].data();
    assert.ok(Math.abs(got[0] - 12 / Math.sqrt(want)) <= 1e-6, `${got[0]}`);
    tf.dispose([...Object.values(grads), ...Object.values(clipped)]);
  } finally {
    await useBackend("wasm");
  }
});
