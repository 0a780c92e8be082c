/**
 * `deno task bench kernels`: useful GFLOP/s (2·nnz·N per product) of the
 * sparse kernels of the CPU training engine (src/engine/kernels.c) on the
 * LSTM recurrent matrices of the benchmarks (`[4H, H]` times `B` columns),
 * next to a dense tfjs-wasm (XNNPACK) matMul of the same shape, one thread.
 * "dense useful" counts only the nonzeros' work, so it compares directly.
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
const MIN_MS = 150;

/** Seconds per call of `fn`, after one warm-up call. */
function time(fn: () => void): number {
  fn();
  let calls = 0;
  const start = performance.now();
  let now = start;
  while (now - start < MIN_MS) {
    fn();
    calls++;
    now = performance.now();
  }
  return (now - start) / 1000 / calls;
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
    const dense = time(() => tf.matMul(xd, wd).dispose());
    xd.dispose();
    wd.dispose();
    for (const s of SPARSITIES) {
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
  }
  console.log("GFLOP/s, one thread; sparse columns count 2·nnz·B per call.");
}

if (import.meta.main) await main(Deno.args);
