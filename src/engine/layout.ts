/**
 * Moving parameters between the spec layout (dense, row-major `[in, out]`,
 * ../spec/config.ts) and the engine's CSR over output rows. A pattern (a
 * mask) decides which entries the CSR holds; without one every entry is
 * present, which is how the engine runs dense and masked-dense matrices.
 *
 * @module
 */

import type { Csr, Kernels } from "./kernels.ts";

/**
 * How a spec matrix maps onto CSR rows: weight matrices `[in, out]` are
 * stored transposed (one row per output); the embedding `[vocab, embed]` is
 * stored as it is (one row per token).
 */
export type Orientation = "transposed" | "as-is";

/** The CSR shape of a spec matrix `[rows, cols]`. */
function csrShape(shape: readonly number[], orientation: Orientation): [number, number] {
  const [r, c] = shape;
  return orientation === "transposed" ? [c, r] : [r, c];
}

/** Index into the spec-layout array of CSR entry (row, col). */
function specIndex(
  row: number,
  col: number,
  shape: readonly number[],
  orientation: Orientation,
): number {
  return orientation === "transposed" ? col * shape[1] + row : row * shape[1] + col;
}

/**
 * A CSR structure (with zero values) holding the entries of `pattern` (all
 * entries without one), in buffers from `kernels`.
 */
export function csrPattern(
  kernels: Kernels,
  shape: readonly number[],
  orientation: Orientation,
  pattern: Uint8Array | undefined,
): Csr {
  const [rows, cols] = csrShape(shape, orientation);
  const rowPtr = kernels.i32(rows + 1);
  for (let r = 0; r < rows; r++) {
    let n = 0;
    if (pattern) {
      for (let c = 0; c < cols; c++) n += pattern[specIndex(r, c, shape, orientation)];
    } else n = cols;
    rowPtr[r + 1] = rowPtr[r] + n;
  }
  const nnz = rowPtr[rows];
  const colIdx = kernels.i32(nnz);
  let k = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      if (!pattern || pattern[specIndex(r, c, shape, orientation)]) colIdx[k++] = c;
    }
  }
  return { rows, cols, rowPtr, colIdx, values: kernels.f32(nnz) };
}

/**
 * For each CSR entry, its index in the spec-layout array: the map between
 * the two layouts, used to gather into CSR order and scatter back.
 */
export function specIndices(
  csr: Csr,
  shape: readonly number[],
  orientation: Orientation,
): Int32Array {
  const out = new Int32Array(csr.colIdx.length);
  for (let r = 0; r < csr.rows; r++) {
    for (let k = csr.rowPtr[r]; k < csr.rowPtr[r + 1]; k++) {
      out[k] = specIndex(r, csr.colIdx[k], shape, orientation);
    }
  }
  return out;
}

/** `into[k] = dense[index[k]]`: spec layout to CSR order. */
export function gather(dense: Float32Array, index: Int32Array, into: Float32Array): void {
  for (let k = 0; k < index.length; k++) into[k] = dense[index[k]];
}

/** A dense spec-layout array with `values[k]` at `index[k]` and zeros elsewhere. */
export function scatter(values: Float32Array, index: Int32Array, size: number): Float32Array {
  const dense = new Float32Array(size);
  for (let k = 0; k < index.length; k++) dense[index[k]] = values[k];
  return dense;
}
