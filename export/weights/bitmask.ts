/**
 * Bitmask: one bit per entry plus the stored values. Parts of a
 * `[rows, cols]` matrix with `nnz` stored entries:
 *
 * - `mask` uint8 `[ceil(rows * cols / 8)]`: entry `i` (row-major,
 *   `i = r * cols + c`) is stored when bit `i % 8` of byte `floor(i / 8)` is
 *   set, least significant bit first (`mask[i >> 3] >> (i & 7) & 1`). Rows
 *   are not padded to bytes; the unused high bits of the last byte are 0.
 * - `values` float32 `[nnz]`: the stored entries in row-major order, so
 *   `nnz` equals the number of set bits.
 *
 * @module
 */

import {
  checkMatrix,
  countActiveEntries,
  type DecodedMatrix,
  type DenseMatrix,
  type MatrixContext,
  type MatrixParts,
  partError,
  rejectExtraParts,
  requirePart,
  tensor,
} from "./format.ts";

/** The part names of a bitmask matrix. */
export const BITMASK_PARTS = ["mask", "values"] as const;

/** Encodes the `active` entries of `matrix` as a bitmask plus values. */
export function encodeBitmask(matrix: DenseMatrix, active: Uint8Array): MatrixParts {
  checkMatrix(matrix, active);
  const size = matrix.rows * matrix.cols;
  const mask = new Uint8Array(Math.ceil(size / 8));
  const values = new Float32Array(countActiveEntries(active));
  let k = 0;
  for (let i = 0; i < size; i++) {
    if (active[i] === 0) continue;
    mask[i >> 3] |= 1 << (i & 7);
    values[k++] = matrix.data[i];
  }
  return {
    mask: tensor("uint8", [mask.length], mask),
    values: tensor("float32", [values.length], values),
  };
}

/**
 * Decodes a bitmask matrix of shape `[rows, cols]`, after checking that the
 * mask has the right length, that its unused bits are 0 and that it has
 * exactly as many set bits as there are values.
 */
export function decodeBitmask(
  parts: MatrixParts,
  rows: number,
  cols: number,
  ctx: MatrixContext,
): DecodedMatrix {
  rejectExtraParts(parts, BITMASK_PARTS, ctx);
  const size = rows * cols;
  const mask = requirePart(parts, "mask", ["uint8"], ctx, [Math.ceil(size / 8)]).data as Uint8Array;
  const values = requirePart(parts, "values", ["float32"], ctx).data as Float32Array;
  const tailBits = size % 8;
  if (tailBits !== 0 && mask[mask.length - 1] >> tailBits !== 0) {
    throw partError(ctx, "mask", `has bits set past the last of the ${size} entries`);
  }
  let setBits = 0;
  for (let j = 0; j < mask.length; j++) {
    for (let byte = mask[j]; byte !== 0; byte &= byte - 1) setBits++;
  }
  if (setBits !== values.length) {
    throw partError(
      ctx,
      "values",
      `has ${values.length} values but the mask has ${setBits} set bits`,
    );
  }
  const data = new Float32Array(size);
  const active = new Uint8Array(size);
  let k = 0;
  for (let i = 0; i < size; i++) {
    if ((mask[i >> 3] >> (i & 7) & 1) === 0) continue;
    data[i] = values[k++];
    active[i] = 1;
  }
  return { data, active };
}
