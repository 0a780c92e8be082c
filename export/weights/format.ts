/**
 * What the four sparse weight formats share: their names, the in-memory
 * shape of an encoded matrix (named parts, each a container tensor), the
 * index types, and the checks every decoder runs on its parts before it
 * trusts a single index.
 *
 * A matrix is `[rows, cols]`, row-major, as in ../../src/spec/config.ts.
 * Its active set is one byte per entry (1 = stored, 0 = not stored), the
 * same convention as a training mask.
 *
 * @module
 */

import { UserError } from "../../src/spec/errors.ts";
import type { Dtype, StoredTensor, TypedArray } from "../../src/spec/container.ts";

/** The sparse weight formats, as `deno task export --weights` names them. */
export const SPARSE_FORMATS = ["csr", "coo", "bitmask", "ell"] as const;

/** One of {@link SPARSE_FORMATS}. */
export type SparseFormat = typeof SPARSE_FORMATS[number];

/** Checks a format name from user input or a file and narrows its type. */
export function parseSparseFormat(name: string): SparseFormat {
  if (!(SPARSE_FORMATS as readonly string[]).includes(name)) {
    throw new UserError(
      `unknown sparse weight format "${name}": use one of ${SPARSE_FORMATS.join(", ")}`,
    );
  }
  return name as SparseFormat;
}

/** Unsigned integer types an index or count part may use. */
export type IndexDtype = "uint8" | "uint16" | "uint32";

/** The integer dtypes a reader accepts for index and count parts. */
export const INDEX_DTYPES: readonly IndexDtype[] = ["uint8", "uint16", "uint32"];

/** A dense matrix: `data` holds `rows * cols` values, row-major. */
export interface DenseMatrix {
  rows: number;
  cols: number;
  data: Float32Array;
}

/**
 * An encoded matrix: its parts by name (`values`, `col_indices`, ...). In a
 * file, part `p` of parameter `n` is the container tensor `n/p`.
 */
export type MatrixParts = Record<string, StoredTensor>;

/** A decoded matrix: dense values and which entries the file stored. */
export interface DecodedMatrix {
  /** `rows * cols` values, row-major; zero where nothing is stored. */
  data: Float32Array;
  /** One byte per entry: 1 where the file stores the entry. */
  active: Uint8Array;
}

/** Names a matrix in error messages: the file and the parameter. */
export interface MatrixContext {
  /** The file (or other source) being read. */
  source: string;
  /** The parameter name, e.g. `lstm.0.W`. */
  name: string;
}

/**
 * The smallest unsigned type that holds every integer in `[0, maxValue]`.
 * Indices into a dimension of size `n` need `maxValue = n - 1`.
 */
export function indexDtypeFor(maxValue: number): IndexDtype {
  if (maxValue <= 0xff) return "uint8";
  if (maxValue <= 0xffff) return "uint16";
  if (maxValue <= 0xffffffff) return "uint32";
  throw new UserError(
    `a sparse weight index of ${maxValue} does not fit in 32 bits: the matrix is too large to export`,
  );
}

/** A zeroed array of `length` elements of an index dtype. */
export function indexArray(
  dtype: IndexDtype,
  length: number,
): Uint8Array | Uint16Array | Uint32Array {
  switch (dtype) {
    case "uint8":
      return new Uint8Array(length);
    case "uint16":
      return new Uint16Array(length);
    case "uint32":
      return new Uint32Array(length);
  }
}

/** Wraps a typed array as a container tensor. */
export function tensor(dtype: Dtype, shape: number[], data: TypedArray): StoredTensor {
  return { dtype, shape, data };
}

/** The active set implied by the values alone: 1 wherever the value is not zero. */
export function activeFromValues(data: Float32Array): Uint8Array {
  const active = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) active[i] = data[i] !== 0 ? 1 : 0;
  return active;
}

/** Counts the active entries of one row. */
export function countRow(active: Uint8Array, row: number, cols: number): number {
  let count = 0;
  const end = (row + 1) * cols;
  for (let i = row * cols; i < end; i++) count += active[i] !== 0 ? 1 : 0;
  return count;
}

/** Counts all active entries. */
export function countActiveEntries(active: Uint8Array): number {
  let count = 0;
  for (let i = 0; i < active.length; i++) count += active[i] !== 0 ? 1 : 0;
  return count;
}

/**
 * The error for a structurally wrong tensor in a file: it names the file and
 * the container tensor, and says how to get a good file.
 */
export function tensorError(source: string, tensorName: string, why: string): UserError {
  return new UserError(
    `${source}: tensor "${tensorName}" ${why}; the file is corrupt or was not ` +
      "written by sparrow: export it again with `deno task export --weights <format>`",
  );
}

/** {@link tensorError} for part `part` of the matrix `ctx` names. */
export function partError(ctx: MatrixContext, part: string, why: string): UserError {
  return tensorError(ctx.source, `${ctx.name}/${part}`, why);
}

/**
 * The part `part` of a matrix, checked to exist, to have one of `dtypes` and
 * to be one-dimensional or of exactly `shape` when given.
 */
export function requirePart(
  parts: MatrixParts,
  part: string,
  dtypes: readonly Dtype[],
  ctx: MatrixContext,
  shape?: readonly number[],
): StoredTensor {
  const found = Object.hasOwn(parts, part) ? parts[part] : undefined;
  if (!found) throw partError(ctx, part, "is missing");
  if (!dtypes.includes(found.dtype)) {
    throw partError(ctx, part, `has dtype ${found.dtype}, expected ${dtypes.join(" or ")}`);
  }
  const expected = shape ?? [found.data.length];
  if (found.shape.length !== expected.length || found.shape.some((d, i) => d !== expected[i])) {
    throw partError(ctx, part, `has shape [${found.shape}], expected [${expected}]`);
  }
  return found;
}

/** Rejects parts a format does not define, so no stored data is silently ignored. */
export function rejectExtraParts(
  parts: MatrixParts,
  known: readonly string[],
  ctx: MatrixContext,
): void {
  for (const part of Object.keys(parts)) {
    if (!known.includes(part)) throw partError(ctx, part, "is not part of this format");
  }
}

/** Throws unless `active` and `matrix.data` both have `rows * cols` entries. */
export function checkMatrix(matrix: DenseMatrix, active: Uint8Array): void {
  const size = matrix.rows * matrix.cols;
  if (matrix.data.length !== size || active.length !== size) {
    throw new RangeError(
      `a [${matrix.rows}, ${matrix.cols}] matrix needs ${size} values and active flags, ` +
        `got ${matrix.data.length} and ${active.length}`,
    );
  }
}
