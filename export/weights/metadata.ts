/**
 * The metadata of a sparse weights file: what format it uses, the model it
 * belongs to (configuration, vocabulary, labels, tokenizer), and the shape,
 * layout and nonzero count of every parameter, so the file is
 * self-contained.
 *
 * The container's CRC covers the data section only, so the metadata carries
 * its own: `metadataCrc32` is the CRC-32 of the metadata serialised by
 * `JSON.stringify` without that key. A flipped byte in the vocabulary or the
 * configuration is then an error instead of a silently different model.
 *
 * @module
 */

import { UserError } from "../../src/spec/errors.ts";
import { crc32, type Dtype } from "../../src/spec/container.ts";
import { CELL_TYPES, type ModelConfig, paramSpecs } from "../../src/spec/config.ts";
import { SPARSE_FORMATS, type SparseFormat } from "./format.ts";

/** The `format` value of every sparse weights file. */
export const SPARSE_WEIGHTS_FORMAT = "sparrow-sparse-weights";
/** Bumped when the layout changes incompatibly. */
export const SPARSE_WEIGHTS_VERSION = 1;

/** A parameter stored as one dense float32 tensor named after it (biases). */
export interface DenseParamEntry {
  layout: "dense";
  shape: number[];
}

/** A weight matrix stored in the file's sparse format, as tensors `<name>/<part>`. */
export interface SparseParamEntry {
  layout: SparseFormat;
  /** `[rows, cols]`, row-major, `[inputs, outputs]`. */
  shape: [number, number];
  /** Number of stored entries. */
  nnz: number;
  /**
   * True when the stored entries are the training mask's active
   * connections (some may hold exactly 0, e.g. just regrown); false when the
   * parameter had no mask and the stored entries are its nonzero values.
   */
  masked: boolean;
  /** The dtype of each part, e.g. `{values: "float32", col_indices: "uint16", row_ptr: "uint32"}`. */
  parts: Record<string, Dtype>;
}

/** How one parameter is stored. */
export type ParamEntry = DenseParamEntry | SparseParamEntry;

/** Metadata of a sparse weights file (the container's `metadata`). */
export interface SparseWeightsMeta {
  format: typeof SPARSE_WEIGHTS_FORMAT;
  version: number;
  /** The layout of every weight matrix in the file. */
  sparseFormat: SparseFormat;
  model: ModelConfig;
  /** Vocabulary in id order. */
  vocab: string[];
  /** Class labels in id order (classifiers only). */
  labels?: string[];
  /** Tokenizer settings, so a runtime tokenises like training. */
  tokenizer?: Record<string, unknown>;
  /** The checkpoint the weights came from. */
  source: string;
  /** Every parameter of the model, in {@link paramSpecs} order. */
  params: Record<string, ParamEntry>;
  /** CRC-32 of `JSON.stringify` of this object without this key. */
  metadataCrc32: number;
}

/** Metadata before its checksum is added. */
export type UnsealedMeta = Omit<SparseWeightsMeta, "metadataCrc32">;

function metadataChecksum(meta: UnsealedMeta): number {
  return crc32(new TextEncoder().encode(JSON.stringify(meta)));
}

/** Adds the checksum, as the last key, to finished metadata. */
export function sealMetadata(meta: UnsealedMeta): SparseWeightsMeta {
  return { ...meta, metadataCrc32: metadataChecksum(meta) };
}

const isObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === "object" && x !== null && !Array.isArray(x);

const isPositiveInteger = (x: unknown): x is number => Number.isInteger(x) && (x as number) > 0;

const isStringArray = (x: unknown): x is string[] =>
  Array.isArray(x) && x.every((s) => typeof s === "string");

/**
 * Checks the metadata of a sparse weights file read from `source` and
 * narrows its type: format and version, checksum, sparse format, model
 * configuration, vocabulary and labels, and one entry per model parameter
 * with the expected shape and layout. It does not look at tensors.
 */
export function checkMetadata(metadata: unknown, source: string): SparseWeightsMeta {
  const bad = (why: string): never => {
    throw new UserError(
      `${source} is not a usable sparse weights file (${why}): ` +
        "export it again with `deno task export --weights <format>`",
    );
  };
  if (!isObject(metadata) || metadata.format !== SPARSE_WEIGHTS_FORMAT) {
    return bad(`its metadata format is not "${SPARSE_WEIGHTS_FORMAT}"`);
  }
  if (metadata.version !== SPARSE_WEIGHTS_VERSION) {
    bad(`version ${metadata.version}, expected ${SPARSE_WEIGHTS_VERSION}`);
  }
  const { metadataCrc32, ...unsealed } = metadata;
  if (metadataCrc32 !== metadataChecksum(unsealed as unknown as UnsealedMeta)) {
    bad("metadata checksum mismatch: the header is corrupt");
  }
  const meta = metadata as unknown as SparseWeightsMeta;
  if (!(SPARSE_FORMATS as readonly unknown[]).includes(meta.sparseFormat)) {
    bad(
      `unknown sparse format "${meta.sparseFormat}", expected one of ${SPARSE_FORMATS.join(", ")}`,
    );
  }
  checkModelConfig(meta.model, bad);
  if (!isStringArray(meta.vocab) || meta.vocab.length !== meta.model.vocabSize) {
    bad(`the vocabulary is not ${meta.model.vocabSize} strings`);
  }
  if (meta.model.kind === "classifier") {
    if (!isStringArray(meta.labels) || meta.labels.length !== meta.model.numClasses) {
      bad(`the labels are not ${meta.model.numClasses} strings`);
    }
  }
  if (typeof meta.source !== "string") bad("the source is not a string");
  if (!isObject(meta.params)) return bad("it has no parameter table");
  const specs = paramSpecs(meta.model);
  const expected = new Set(specs.map((s) => s.name));
  for (const name of Object.keys(meta.params)) {
    if (!expected.has(name)) bad(`it lists parameter ${name}, which the model does not have`);
  }
  for (const spec of specs) {
    const entry: unknown = meta.params[spec.name];
    if (!isObject(entry)) return bad(`parameter ${spec.name} is missing`);
    const shape = entry.shape;
    const sameShape = Array.isArray(shape) && shape.length === spec.shape.length &&
      shape.every((d, i) => d === spec.shape[i]);
    if (!sameShape) {
      bad(`parameter ${spec.name} has shape [${shape}], expected [${spec.shape}]`);
    }
    const layout = spec.shape.length === 2 ? meta.sparseFormat : "dense";
    if (entry.layout !== layout) {
      bad(`parameter ${spec.name} has layout ${entry.layout}, expected ${layout}`);
    }
    if (layout === "dense") continue;
    if (!Number.isInteger(entry.nnz) || (entry.nnz as number) < 0) {
      bad(`parameter ${spec.name} has no valid nnz`);
    }
    if (typeof entry.masked !== "boolean") bad(`parameter ${spec.name} has no masked flag`);
    if (!isObject(entry.parts)) bad(`parameter ${spec.name} has no parts table`);
  }
  return meta;
}

function checkModelConfig(
  model: unknown,
  bad: (why: string) => never,
): asserts model is ModelConfig {
  if (!isObject(model)) return bad("it has no model configuration");
  if (model.kind !== "lm" && model.kind !== "classifier") bad(`unknown model kind "${model.kind}"`);
  if (!(CELL_TYPES as readonly unknown[]).includes(model.cell)) bad(`unknown cell "${model.cell}"`);
  if (model.depth !== undefined && !isPositiveInteger(model.depth)) {
    bad(`model depth is ${model.depth}, expected a positive integer`);
  }
  const sizes = ["vocabSize", "embedSize", "hiddenSize", "layers"];
  if (model.kind === "classifier") sizes.push("numClasses");
  for (const key of sizes) {
    if (!isPositiveInteger(model[key])) {
      bad(`model ${key} is ${model[key]}, expected a positive integer`);
    }
  }
}
