/**
 * One entry point for the four formats: encode a dense matrix's active
 * entries, or decode and validate a matrix's parts, by format name.
 *
 * @module
 */

import { decodeBitmask, encodeBitmask } from "./bitmask.ts";
import { decodeCoo, encodeCoo } from "./coo.ts";
import { decodeCsr, encodeCsr } from "./csr.ts";
import { decodeEll, encodeEll } from "./ell.ts";
import type {
  DecodedMatrix,
  DenseMatrix,
  MatrixContext,
  MatrixParts,
  SparseFormat,
} from "./format.ts";

/** Encodes the entries of `matrix` flagged in `active` (1 = store) in `format`. */
export function encodeMatrix(
  format: SparseFormat,
  matrix: DenseMatrix,
  active: Uint8Array,
): MatrixParts {
  switch (format) {
    case "csr":
      return encodeCsr(matrix, active);
    case "coo":
      return encodeCoo(matrix, active);
    case "bitmask":
      return encodeBitmask(matrix, active);
    case "ell":
      return encodeEll(matrix, active);
  }
}

/**
 * Decodes the parts of a `[rows, cols]` matrix stored in `format`. Any
 * structural inconsistency is a UserError naming `ctx.source` and the
 * tensor; a returned matrix is always exactly what the parts describe.
 */
export function decodeMatrix(
  format: SparseFormat,
  parts: MatrixParts,
  rows: number,
  cols: number,
  ctx: MatrixContext,
): DecodedMatrix {
  switch (format) {
    case "csr":
      return decodeCsr(parts, rows, cols, ctx);
    case "coo":
      return decodeCoo(parts, rows, cols, ctx);
    case "bitmask":
      return decodeBitmask(parts, rows, cols, ctx);
    case "ell":
      return decodeEll(parts, rows, cols, ctx);
  }
}
