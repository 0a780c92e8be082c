/**
 * `deno task bench kernels`: useful GFLOP/s (2·nnz·N per product) of the
 * sparse kernels of the CPU training engine (src/engine/kernels.c) on the
 * LSTM recurrent matrices of the benchmarks (`[4H, H]` times `B` columns),
 * next to a dense tfjs-wasm (XNNPACK) matMul of the same shape, one thread.
 * "dense useful" counts only the nonzeros' work, so it compares directly.
 * Each time is the fastest of several batches of calls, since the machine may
 * be shared; the numbers are still rough.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../src/backend/backend.ts";
import { Rng } from "../src/core/rng.ts";
import type { Csr, Kernels } from "../src/engine/kernels.ts";
import { createWasmKernels } from "../src/engine/wasm.ts";

const SHAPES = [{ H: 200, B: 20 }, { H: 256, B: 64 }];
const SPARSITIES = [0.67, 0.8, 0.9, 0.95, 0.99];
/** Each measurement repeats its call for at least this long. */
const MIN_MS = 200;
/** ...in batches of about this long, of which the fastest counts (the machine is shared). */
const BATCH_MS = 10;

/** Seconds per call of `fn`: the fastest batch of calls, after a warm-up call. */
function time(fn: () => void): number {
  let start = performance.now();
  fn();
  const once = performance.now() - start;
  const calls = Math.max(1, Math.ceil(BATCH_MS / Math.max(once, 0.001)));
  let best = Infinity;
  start = performance.now();
  do {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) fn();
    best = Math.min(best, (performance.now() - t0) / calls);
  } while (performance.now() - start < MIN_MS);
  return best / 1000;
}

/** A `rows × cols` CSR with exactly round((1-s)·rows·cols) nonzeros at random places. */
function exactCsr(k: Kernels, rng: Rng, rows: number, cols: number, sparsity: number): Csr {
  const size = rows * cols;
  const nnz = Math.round((1 - sparsity) * size);
  const picked = new Uint8Array(size);
  for (let i = 0; i < nnz; i++) picked[i] = 1;
  rng.shuffle(picked);
  const rowPtr = k.i32(rows + 1);
  const colIdx = k.i32(nnz);
  const values = k.f32(nnz);
  let n = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      if (picked[r * cols + c]) {
        colIdx[n] = c;
        values[n++] = rng.uniform(-0.1, 0.1);
      }
    }
    rowPtr[r + 1] = n;
  }
  return { rows, cols, rowPtr, colIdx, values };
}

function random(x: Float32Array): Float32Array {
  for (let i = 0; i < x.length; i++) x[i] = Math.random() * 2 - 1;
  return x;
}

const gf = (flops: number, seconds: number) => (flops / seconds / 1e9).toFixed(1);

/** Prints the table. */
export async function main(_args: string[]): Promise<void> {
  await useBackend("wasm");
  const k = await createWasmKernels();
  const rng = new Rng(1);
  console.log(
    "| shape | sparsity | csrForward | csrBackwardInput | csrWeightGrad | dense matMul | " +
      "dense useful | forward vs dense |",
  );
  console.log("|---|---|---|---|---|---|---|---|");
  for (const { H, B } of SHAPES) {
    const rows = 4 * H;
    // Dense: x [B, H] · W [H, 4H], all of W's work counted.
    const xd = tf.randomUniform([B, H]);
    const wd = tf.randomUniform([H, rows]);
    for (const s of SPARSITIES) {
      // Timed again for each row, next to the sparse kernels, under the same load.
      const dense = time(() => tf.matMul(xd, wd).dispose());
      k.reset();
      const W = exactCsr(k, rng, rows, H, s);
      const x = { data: random(k.f32(H * B)), ld: B };
      const y = { data: random(k.f32(rows * B)), ld: B };
      const dx = { data: k.f32(H * B), ld: B };
      const grad = k.f32(W.values.length);
      const useful = 2 * W.values.length * B;
      const fwd = time(() => k.csrForward(W, x, y, B, false));
      const bwd = time(() => k.csrBackwardInput(W, y, dx, B));
      const wg = time(() => k.csrWeightGrad(W, y, x, B, grad));
      console.log(
        `| 4H ${rows} × H ${H}, B ${B} | ${s} | ${gf(useful, fwd)} | ${gf(useful, bwd)} | ` +
          `${gf(useful, wg)} | ${gf(2 * rows * H * B, dense)} | ${gf(useful, dense)} | ` +
          `${(dense / fwd).toFixed(1)}x |`,
      );
    }
    xd.dispose();
    wd.dispose();
  }
  console.log("GFLOP/s, one thread; sparse columns count 2·nnz·B per call.");

  // Whole recurrent layers, one call each way, as the engine runs them.
  console.log("\n| layer | sparsity | lstmForward ms | lstmBackward ms | tokens/s (fwd+bwd) |");
  console.log("|---|---|---|---|---|");
  for (const { H, B, T } of [{ H: 200, B: 20, T: 35 }, { H: 256, B: 64, T: 100 }]) {
    for (const s of [0.8, 0.95]) {
      k.reset();
      const R = exactCsr(k, rng, 4 * H, H, s);
      const TB = T * B;
      const zx = random(k.f32(4 * H * TB));
      const h0 = k.f32(H * B), c0 = k.f32(H * B), hT = k.f32(H * B), cT = k.f32(H * B);
      const h = k.f32(H * TB);
      const cache = { gates: k.f32(4 * H * TB), c: k.f32(H * TB), tanhC: k.f32(H * TB) };
      const dh = k.f32(H * TB), dz = k.f32(4 * H * TB), dR = k.f32(R.values.length);
      const dh0 = k.f32(H * B), dc0 = k.f32(H * B);
      const fwd = time(() => k.lstmForward(R, zx, h0, c0, T, B, null, h, cache, hT, cT));
      const bwd = time(() =>
        k.lstmBackward(R, h0, c0, T, B, null, h, cache, dh, hT, cT, dz, dh0, dc0, dR)
      );
      console.log(
        `| H ${H}, B ${B}, T ${T} | ${s} | ${(fwd * 1e3).toFixed(2)} | ${
          (bwd * 1e3).toFixed(2)
        } | ` +
          `${Math.round(TB / (fwd + bwd))} |`,
      );
    }
  }
}

if (import.meta.main) await main(Deno.args);
