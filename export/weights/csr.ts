/**
 * Compressed sparse row (CSR). Parts of a `[rows, cols]` matrix with `nnz`
 * stored entries:
 *
 * - `values` float32 `[nnz]`: the stored entries, row by row, columns ascending;
 * - `col_indices` `[nnz]`: the column of each value, the smallest unsigned
 *   type that holds `cols - 1` (uint8, uint16 or uint32);
 * - `row_ptr` uint32 `[rows + 1]`: row `r` is entries `row_ptr[r]` up to
 *   (not including) `row_ptr[r + 1]`; `row_ptr[0] = 0`, `row_ptr[rows] = nnz`.
 *
 * @module
 */

import {
  checkMatrix,
  countActiveEntries,
  type DecodedMatrix,
  type DenseMatrix,
  INDEX_DTYPES,
  indexArray,
  indexDtypeFor,
  type MatrixContext,
  type MatrixParts,
  partError,
  rejectExtraParts,
  requirePart,
  tensor,
} from "./format.ts";

/** The part names of a CSR matrix. */
export const CSR_PARTS = ["values", "col_indices", "row_ptr"] as const;

/** Encodes the `active` entries of `matrix` as CSR. */
export function encodeCsr(matrix: DenseMatrix, active: Uint8Array): MatrixParts {
  checkMatrix(matrix, active);
  const { rows, cols, data } = matrix;
  const nnz = countActiveEntries(active);
  const colDtype = indexDtypeFor(cols - 1);
  const values = new Float32Array(nnz);
  const colIndices = indexArray(colDtype, nnz);
  const rowPtr = new Uint32Array(rows + 1);
  let k = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      if (active[i] === 0) continue;
      values[k] = data[i];
      colIndices[k] = c;
      k++;
    }
    rowPtr[r + 1] = k;
  }
  return {
    values: tensor("float32", [nnz], values),
    col_indices: tensor(colDtype, [nnz], colIndices),
    row_ptr: tensor("uint32", [rows + 1], rowPtr),
  };
}

/**
 * Decodes a CSR matrix of shape `[rows, cols]`, after checking that the row
 * pointers run from 0 to nnz without decreasing and that each row's columns
 * are in range and strictly increasing (so no entry is stored twice).
 */
export function decodeCsr(
  parts: MatrixParts,
  rows: number,
  cols: number,
  ctx: MatrixContext,
): DecodedMatrix {
  rejectExtraParts(parts, CSR_PARTS, ctx);
  const values = requirePart(parts, "values", ["float32"], ctx).data as Float32Array;
  const nnz = values.length;
  const colIndices = requirePart(parts, "col_indices", INDEX_DTYPES, ctx, [nnz]).data;
  const rowPtr = requirePart(parts, "row_ptr", INDEX_DTYPES, ctx, [rows + 1]).data;
  if (rowPtr[0] !== 0) throw partError(ctx, "row_ptr", `starts at ${rowPtr[0]}, expected 0`);
  if (rowPtr[rows] !== nnz) {
    throw partError(ctx, "row_ptr", `ends at ${rowPtr[rows]}, expected nnz = ${nnz}`);
  }
  // Monotone pointers from 0 to nnz keep every later read inside the arrays.
  for (let r = 0; r < rows; r++) {
    if (rowPtr[r + 1] < rowPtr[r]) {
      throw partError(
        ctx,
        "row_ptr",
        `decreases after row ${r} (${rowPtr[r]} then ${rowPtr[r + 1]})`,
      );
    }
  }
  const data = new Float32Array(rows * cols);
  const active = new Uint8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const begin = Number(rowPtr[r]);
    const end = Number(rowPtr[r + 1]);
    let previous = -1;
    for (let k = begin; k < end; k++) {
      const c = Number(colIndices[k]);
      if (c >= cols) {
        throw partError(ctx, "col_indices", `has column ${c} at entry ${k}, outside [0, ${cols})`);
      }
      if (c <= previous) {
        throw partError(
          ctx,
          "col_indices",
          `is not strictly increasing within row ${r} at entry ${k}`,
        );
      }
      previous = c;
      data[r * cols + c] = values[k];
      active[r * cols + c] = 1;
    }
  }
  return { data, active };
}
