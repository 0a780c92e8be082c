/**
 * Sparse weight files for custom runtimes (`deno task export --weights
 * csr|coo|bitmask|ell`): a checkpoint's parameters in one sparrow container
 * (../../src/spec/container.ts), every weight matrix in the chosen sparse
 * format and every bias dense, with the model configuration, vocabulary and
 * labels in the metadata so the file is all a runtime needs.
 *
 * Tensors: a bias `n` is the float32 tensor `n`; part `p` of a weight
 * matrix `n` is the tensor `n/p` (e.g. `lstm.0.W/values`,
 * `lstm.0.W/col_indices`, `lstm.0.W/row_ptr`). The metadata is
 * {@link SparseWeightsMeta}. docs/weights.md specifies the bytes.
 *
 * A matrix with a training mask stores exactly its active connections, so
 * its stored count is the fixed nonzero budget even where a weight is 0; a
 * matrix without one (a dense embedding or decoder) stores its nonzeros.
 *
 * @module
 */

import { UserError } from "../../src/spec/errors.ts";
import { writeFileAtomic } from "../../src/spec/atomic.ts";
import {
  type Container,
  decodeContainer,
  type Dtype,
  encodeContainer,
  readContainer,
} from "../../src/spec/container.ts";
import { paramSpecs, sizeOf } from "../../src/spec/config.ts";
import type { HostParams } from "../../src/spec/params.ts";
import { type Checkpoint, loadCheckpoint } from "../../src/spec/checkpoint.ts";
import { decodeMatrix, encodeMatrix } from "./codec.ts";
import {
  activeFromValues,
  countActiveEntries,
  type MatrixParts,
  parseSparseFormat,
  type SparseFormat,
  tensorError,
} from "./format.ts";
import {
  checkMetadata,
  type ParamEntry,
  sealMetadata,
  SPARSE_WEIGHTS_FORMAT,
  SPARSE_WEIGHTS_VERSION,
  type SparseWeightsMeta,
} from "./metadata.ts";

/** A decoded sparse weights file. */
export interface SparseWeights {
  metadata: SparseWeightsMeta;
  /** Every parameter as dense float32, zero where nothing is stored. */
  params: HostParams;
  /** For every weight matrix, one byte per entry: 1 where the file stores it. */
  active: Record<string, Uint8Array>;
}

/** What {@link exportSparseWeights} wrote. */
export interface SparseWeightsSummary {
  path: string;
  format: SparseFormat;
  /** Size of the written file. */
  bytes: number;
  /** Size of the same parameters as dense float32 values, for comparison. */
  denseBytes: number;
  /** Every weight matrix with its stored count and sparsity. */
  matrices: { name: string; shape: [number, number]; nnz: number; sparsity: number }[];
}

/**
 * Encodes the parameters of `ckpt` as a sparse weights file in `format`.
 * `source` names the checkpoint in the metadata and in errors.
 */
export function encodeSparseWeights(
  ckpt: Checkpoint,
  format: SparseFormat,
  source = "checkpoint",
): Uint8Array {
  const tensors: Container["tensors"] = {};
  const params: Record<string, ParamEntry> = {};
  for (const spec of paramSpecs(ckpt.meta.model)) {
    const param = ckpt.params[spec.name];
    if (spec.shape.length !== 2) {
      tensors[spec.name] = { dtype: "float32", shape: spec.shape, data: param.data };
      params[spec.name] = { layout: "dense", shape: spec.shape };
      continue;
    }
    const [rows, cols] = spec.shape;
    const mask = ckpt.masks[spec.name];
    if (mask) checkMaskedZeros(param.data, mask, spec.name, source);
    const active = mask ?? activeFromValues(param.data);
    const parts = encodeMatrix(format, { rows, cols, data: param.data }, active);
    const dtypes: Record<string, Dtype> = {};
    for (const [part, t] of Object.entries(parts)) {
      tensors[`${spec.name}/${part}`] = t;
      dtypes[part] = t.dtype;
    }
    params[spec.name] = {
      layout: format,
      shape: [rows, cols],
      nnz: countActiveEntries(active),
      masked: mask !== undefined,
      parts: dtypes,
    };
  }
  const { meta } = ckpt;
  const metadata = sealMetadata({
    format: SPARSE_WEIGHTS_FORMAT,
    version: SPARSE_WEIGHTS_VERSION,
    sparseFormat: format,
    model: meta.model,
    vocab: meta.vocab,
    labels: meta.labels,
    tokenizer: meta.tokenizer,
    source,
    params,
  });
  return encodeContainer({ metadata, tensors });
}

/** Refuses a checkpoint whose weights are nonzero where the mask says pruned. */
function checkMaskedZeros(
  data: Float32Array,
  mask: Uint8Array,
  name: string,
  source: string,
): void {
  for (let i = 0; i < data.length; i++) {
    if (mask[i] === 0 && data[i] !== 0) {
      throw new UserError(
        `${source}: parameter ${name} has weight ${data[i]} at index ${i}, where its mask is 0; ` +
          "the checkpoint is inconsistent: train again with `deno task train`",
      );
    }
  }
}

/**
 * Decodes and validates sparse weights file bytes; `source` names the file
 * in errors. Every inconsistency is a UserError naming the file and, where
 * one is at fault, the tensor.
 */
export function decodeSparseWeights(bytes: Uint8Array, source: string): SparseWeights {
  return fromContainer(decodeContainer(bytes, source), source);
}

/** Reads and validates a sparse weights file. */
export async function readSparseWeights(path: string): Promise<SparseWeights> {
  return fromContainer(await readContainer(path), path);
}

function fromContainer(container: Container, source: string): SparseWeights {
  const metadata = checkMetadata(container.metadata, source);
  const unused = new Set(Object.keys(container.tensors));
  const take = (name: string) => {
    unused.delete(name);
    return Object.hasOwn(container.tensors, name) ? container.tensors[name] : undefined;
  };
  const result: SparseWeights = { metadata, params: {}, active: {} };
  for (const spec of paramSpecs(metadata.model)) {
    const entry = metadata.params[spec.name];
    if (entry.layout === "dense") {
      const t = take(spec.name);
      if (!t) throw tensorError(source, spec.name, "is missing");
      if (t.dtype !== "float32" || t.shape.join() !== spec.shape.join()) {
        throw tensorError(
          source,
          spec.name,
          `is ${t.dtype} [${t.shape}], expected float32 [${spec.shape}]`,
        );
      }
      result.params[spec.name] = { shape: spec.shape, data: t.data as Float32Array };
      continue;
    }
    const parts: MatrixParts = {};
    const prefix = `${spec.name}/`;
    for (const name of Object.keys(container.tensors)) {
      if (!name.startsWith(prefix)) continue;
      const part = name.slice(prefix.length);
      if (!Object.hasOwn(entry.parts, part)) {
        throw tensorError(source, name, "is in the file but not in the metadata's parts");
      }
      parts[part] = take(name)!;
    }
    for (const [part, dtype] of Object.entries(entry.parts)) {
      const t = Object.hasOwn(parts, part) ? parts[part] : undefined;
      if (!t) throw tensorError(source, `${prefix}${part}`, "is missing");
      if (t.dtype !== dtype) {
        throw tensorError(
          source,
          `${prefix}${part}`,
          `is ${t.dtype}, but the metadata says ${dtype}`,
        );
      }
    }
    const [rows, cols] = spec.shape;
    const ctx = { source, name: spec.name };
    const decoded = decodeMatrix(entry.layout, parts, rows, cols, ctx);
    const nnz = countActiveEntries(decoded.active);
    if (nnz !== entry.nnz) {
      throw tensorError(
        source,
        `${spec.name}/values`,
        `holds ${nnz} entries, but the metadata says ${entry.nnz}`,
      );
    }
    result.params[spec.name] = { shape: spec.shape, data: decoded.data };
    result.active[spec.name] = decoded.active;
  }
  for (const name of unused) throw tensorError(source, name, "is not part of any parameter");
  return result;
}

/**
 * Writes the weights of checkpoint `checkpointPath` to `outPath` as a
 * sparse weights file in `format` (`csr`, `coo`, `bitmask` or `ell`). The
 * encoded bytes are decoded again and compared with the checkpoint before
 * anything is written; the write is atomic.
 */
export async function exportSparseWeights(
  checkpointPath: string,
  format: string,
  outPath: string,
): Promise<SparseWeightsSummary> {
  const sparseFormat = parseSparseFormat(format);
  const ckpt = await loadCheckpoint(checkpointPath);
  const bytes = encodeSparseWeights(ckpt, sparseFormat, checkpointPath);
  const decoded = decodeSparseWeights(bytes, outPath);
  const matrices: SparseWeightsSummary["matrices"] = [];
  let denseBytes = 0;
  for (const spec of paramSpecs(ckpt.meta.model)) {
    if (!sameValues(ckpt.params[spec.name].data, decoded.params[spec.name].data)) {
      throw new Error(
        `${format} round trip changed parameter ${spec.name}; this is a bug in sparrow`,
      );
    }
    denseBytes += 4 * sizeOf(spec.shape);
    const entry = decoded.metadata.params[spec.name];
    if (entry.layout !== "dense") {
      const sparsity = 1 - entry.nnz / sizeOf(entry.shape);
      matrices.push({ name: spec.name, shape: entry.shape, nnz: entry.nnz, sparsity });
    }
  }
  try {
    await writeFileAtomic(outPath, bytes);
  } catch (error) {
    if (error instanceof UserError) throw error;
    // A full disk or an unwritable place: one line, and nothing half-written is left.
    const reason = (error instanceof Error ? error.message : String(error)).split("\n")[0];
    throw new UserError(
      `cannot write ${outPath}: ${reason}; free disk space or choose another --out`,
    );
  }
  return { path: outPath, format: sparseFormat, bytes: bytes.length, denseBytes, matrices };
}

/**
 * Bit-for-bit equality, except that +0 and -0 count as equal (a pruned weight
 * the trainer zeroed as -0 comes back as +0, which computes the same) and so
 * do any two NaNs (JavaScript may not keep a NaN's payload bits).
 */
export function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) {
    if (x[i] === y[i]) continue;
    const bothZero = ((x[i] | y[i]) & 0x7fffffff) === 0;
    if (!bothZero && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return false;
  }
  return true;
}
