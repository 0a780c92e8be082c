/**
 * Coordinate list (COO). Parts of a `[rows, cols]` matrix with `nnz` stored
 * entries, in row-major order (by row, then column), each entry once:
 *
 * - `values` float32 `[nnz]`;
 * - `row_indices` `[nnz]`: the smallest unsigned type that holds `rows - 1`;
 * - `col_indices` `[nnz]`: the smallest unsigned type that holds `cols - 1`.
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

/** The part names of a COO matrix. */
export const COO_PARTS = ["values", "row_indices", "col_indices"] as const;

/** Encodes the `active` entries of `matrix` as COO. */
export function encodeCoo(matrix: DenseMatrix, active: Uint8Array): MatrixParts {
  checkMatrix(matrix, active);
  const { rows, cols, data } = matrix;
  const nnz = countActiveEntries(active);
  const rowDtype = indexDtypeFor(rows - 1);
  const colDtype = indexDtypeFor(cols - 1);
  const values = new Float32Array(nnz);
  const rowIndices = indexArray(rowDtype, nnz);
  const colIndices = indexArray(colDtype, nnz);
  let k = 0;
  for (let i = 0; i < active.length; i++) {
    if (active[i] === 0) continue;
    values[k] = data[i];
    rowIndices[k] = Math.floor(i / cols);
    colIndices[k] = i % cols;
    k++;
  }
  return {
    values: tensor("float32", [nnz], values),
    row_indices: tensor(rowDtype, [nnz], rowIndices),
    col_indices: tensor(colDtype, [nnz], colIndices),
  };
}

/**
 * Decodes a COO matrix of shape `[rows, cols]`, after checking that every
 * coordinate is in range and that entries are in strictly increasing
 * row-major order (so no entry is stored twice).
 */
export function decodeCoo(
  parts: MatrixParts,
  rows: number,
  cols: number,
  ctx: MatrixContext,
): DecodedMatrix {
  rejectExtraParts(parts, COO_PARTS, ctx);
  const values = requirePart(parts, "values", ["float32"], ctx).data as Float32Array;
  const nnz = values.length;
  const rowIndices = requirePart(parts, "row_indices", INDEX_DTYPES, ctx, [nnz]).data;
  const colIndices = requirePart(parts, "col_indices", INDEX_DTYPES, ctx, [nnz]).data;
  const data = new Float32Array(rows * cols);
  const active = new Uint8Array(rows * cols);
  let previous = -1;
  for (let k = 0; k < nnz; k++) {
    const r = Number(rowIndices[k]);
    const c = Number(colIndices[k]);
    if (r >= rows) {
      throw partError(ctx, "row_indices", `has row ${r} at entry ${k}, outside [0, ${rows})`);
    }
    if (c >= cols) {
      throw partError(ctx, "col_indices", `has column ${c} at entry ${k}, outside [0, ${cols})`);
    }
    const i = r * cols + c;
    if (i <= previous) {
      throw partError(
        ctx,
        "row_indices",
        `and col_indices are not in strictly increasing row-major order at entry ${k}`,
      );
    }
    previous = i;
    data[i] = values[k];
    active[i] = 1;
  }
  return { data, active };
}
