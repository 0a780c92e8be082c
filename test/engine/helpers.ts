/**
 * Random inputs for the engine kernel tests: sparse matrices of a chosen
 * density and strided activations.
 *
 * @module
 */

import type { Rng } from "../../src/core/rng.ts";
import type { CsrN, Vec } from "../../src/engine/oracle.ts";

/** Allocates a float buffer (either the kernels' own or a plain one). */
export type Alloc = (length: number) => Vec;
/** Allocates an int buffer. */
export type AllocInt = (length: number) => Int32Array;

/** A plain float64 buffer, as the oracle's tests allocate. */
export const f64 = (n: number): Float64Array => new Float64Array(n);
/** A plain int32 buffer. */
export const i32 = (n: number): Int32Array => new Int32Array(n);

/** Central differences of `loss` in each entry of `param`. */
export function numericGrad(param: Vec, loss: () => number, eps = 1e-6): Float64Array {
  const g = new Float64Array(param.length);
  for (let i = 0; i < param.length; i++) {
    const saved = param[i];
    param[i] = saved + eps;
    const plus = loss();
    param[i] = saved - eps;
    const minus = loss();
    param[i] = saved;
    g[i] = (plus - minus) / (2 * eps);
  }
  return g;
}

/** Fills `x` with uniform values in [lo, hi). */
export function fillUniform(rng: Rng, x: Vec, lo = -1, hi = 1): Vec {
  for (let i = 0; i < x.length; i++) x[i] = rng.uniform(lo, hi);
  return x;
}

/**
 * A random CSR of `rows × cols` keeping each entry with probability
 * `density` (so 0 gives zero nonzeros), values uniform in [-1, 1).
 */
export function randomCsr(
  rng: Rng,
  rows: number,
  cols: number,
  density: number,
  f32: Alloc,
  i32: AllocInt,
): CsrN {
  const idx: number[] = [];
  const ptr = [0];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) if (rng.next() < density) idx.push(c);
    ptr.push(idx.length);
  }
  const rowPtr = i32(rows + 1);
  rowPtr.set(ptr);
  const colIdx = i32(idx.length);
  colIdx.set(idx);
  const values = fillUniform(rng, f32(idx.length));
  return { rows, cols, rowPtr, colIdx, values };
}

/** Dot product in float64. */
export function dot(a: Vec, b: Vec): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * Asserts `actual ≈ expected` elementwise: `|a − e| ≤ tol·(scale + |e|)`,
 * where `scale` defaults to the largest |e| (sums of many terms cancel, so a
 * purely elementwise relative test would demand more than float32 holds).
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  what: string,
  scale?: number,
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: length ${actual.length} != ${expected.length}`);
  }
  let max = 0;
  for (let i = 0; i < expected.length; i++) max = Math.max(max, Math.abs(expected[i]));
  const s = scale ?? max;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (!(Math.abs(a - e) <= tol * (s + Math.abs(e)))) {
      throw new Error(`${what}[${i}]: ${a} != ${e} (tolerance ${tol}, scale ${s})`);
    }
  }
}
