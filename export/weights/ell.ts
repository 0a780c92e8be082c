/**
 * ELLPACK (ELL): every row padded to the same width, so a kernel can walk
 * a fixed-size `[rows, width]` block. Parts of a `[rows, cols]` matrix:
 *
 * - `values` float32 `[rows, width]`, `width` = the largest number of stored
 *   entries in any row (0 when nothing is stored);
 * - `col_indices` `[rows, width]`: the smallest unsigned type that holds
 *   `cols - 1`;
 * - `row_nnz` uint32 `[rows]`: how many slots of each row are real.
 *
 * Row `r` stores its entries in slots `0 .. row_nnz[r] - 1`, columns
 * strictly increasing. The remaining slots are padding with value 0 and
 * index 0, so a kernel that ignores `row_nnz` and multiplies every slot still
 * computes the right product, while `row_nnz` tells a real entry in column 0
 * from padding.
 *
 * @module
 */

import {
  checkMatrix,
  countRow,
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

/** The part names of an ELL matrix. */
export const ELL_PARTS = ["values", "col_indices", "row_nnz"] as const;

/** Encodes the `active` entries of `matrix` as ELL. */
export function encodeEll(matrix: DenseMatrix, active: Uint8Array): MatrixParts {
  checkMatrix(matrix, active);
  const { rows, cols, data } = matrix;
  const rowNnz = new Uint32Array(rows);
  let width = 0;
  for (let r = 0; r < rows; r++) {
    rowNnz[r] = countRow(active, r, cols);
    width = Math.max(width, rowNnz[r]);
  }
  const colDtype = indexDtypeFor(cols - 1);
  const values = new Float32Array(rows * width);
  const colIndices = indexArray(colDtype, rows * width);
  for (let r = 0; r < rows; r++) {
    let slot = r * width;
    for (let c = 0; c < cols; c++) {
      if (active[r * cols + c] === 0) continue;
      values[slot] = data[r * cols + c];
      colIndices[slot] = c;
      slot++;
    }
  }
  return {
    values: tensor("float32", [rows, width], values),
    col_indices: tensor(colDtype, [rows, width], colIndices),
    row_nnz: tensor("uint32", [rows], rowNnz),
  };
}

/**
 * Decodes an ELL matrix of shape `[rows, cols]`, after checking that the
 * width is the largest row count, that real slots hold in-range, strictly
 * increasing columns and that every padding slot is exactly value 0, index 0.
 */
export function decodeEll(
  parts: MatrixParts,
  rows: number,
  cols: number,
  ctx: MatrixContext,
): DecodedMatrix {
  rejectExtraParts(parts, ELL_PARTS, ctx);
  const rowNnz = requirePart(parts, "row_nnz", INDEX_DTYPES, ctx, [rows]).data;
  let width = 0;
  for (let r = 0; r < rows; r++) width = Math.max(width, Number(rowNnz[r]));
  if (width > cols) {
    throw partError(ctx, "row_nnz", `claims ${width} entries in a row of ${cols} columns`);
  }
  const values = requirePart(parts, "values", ["float32"], ctx, [rows, width]).data as Float32Array;
  const colIndices = requirePart(parts, "col_indices", INDEX_DTYPES, ctx, [rows, width]).data;
  const data = new Float32Array(rows * cols);
  const active = new Uint8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const count = Number(rowNnz[r]);
    let previous = -1;
    for (let s = 0; s < width; s++) {
      const slot = r * width + s;
      const c = Number(colIndices[slot]);
      if (s >= count) {
        const padding = `at row ${r}, slot ${s}, a padding slot (row_nnz ${count})`;
        if (c !== 0) throw partError(ctx, "col_indices", `is ${c} ${padding}, expected 0`);
        if (values[slot] !== 0) {
          throw partError(ctx, "values", `is ${values[slot]} ${padding}, expected 0`);
        }
        continue;
      }
      if (c >= cols) {
        throw partError(
          ctx,
          "col_indices",
          `has column ${c} at row ${r}, slot ${s}, outside [0, ${cols})`,
        );
      }
      if (c <= previous) {
        throw partError(
          ctx,
          "col_indices",
          `is not strictly increasing within row ${r} at slot ${s}`,
        );
      }
      previous = c;
      data[r * cols + c] = values[slot];
      active[r * cols + c] = 1;
    }
  }
  return { data, active };
}
