/**
 * How a weight tensor is stored in an ONNX file, and the graph ops that turn
 * it back into the dense tensor the compute ops read.
 *
 * - `dense`: a plain initializer, every entry stored.
 * - `sparse-init`: a spec sparse tensor, nonzero values plus int64 linear
 *   indices (8 bytes of index per nonzero), as a `Constant` node's
 *   `sparse_value` (a `sparse_initializer` read directly by `Gather` or
 *   `Cast` fails onnx's strict checker: shape inference types it as a
 *   sparse tensor, with no dense shape).
 * - `packed`: the nonzero values plus the gaps between their linear indices
 *   as uint8 or uint16, rebuilt by `Cast → CumSum → ScatterElements` into a
 *   `ConstantOfShape` of zeros. A gap too wide for the code is bridged by a
 *   filler entry whose value is zero.
 * - `bitmask`: one bit per entry plus the nonzero values, rebuilt by
 *   `BitShift → Mod → CumSum → Mul → Gather`.
 *
 * Every op in the `packed` and `bitmask` decodes reads only constants, so
 * onnxruntime folds them into a dense initializer when it loads the model:
 * the file is small, and the running graph is the same as a dense one.
 * `sparse-init` is densified by the runtime itself when it loads the model.
 *
 * Values can be kept as float32, as float16 (cast back to float32 inside the
 * graph, also folded at load) or, for quantized weights, as int8 codes.
 *
 * @module
 */

import { DataType } from "./proto.ts";
import { type GraphBuilder, intAttr, tensorAttr, tensorProto } from "./builder.ts";
import { toFloat16Array } from "./float16.ts";

/** Storage modes of a single tensor. */
export type StorageMode = "dense" | "sparse-init" | "packed" | "bitmask";

/**
 * Storage modes plus `auto` (= `packed`). Every mode stores a tensor dense
 * where its format would not be smaller.
 */
export type StorageChoice = StorageMode | "auto";

/** Every storage mode, in the order documentation lists them. */
export const STORAGE_MODES: readonly StorageMode[] = [
  "dense",
  "sparse-init",
  "packed",
  "bitmask",
];

/** Precision of stored float values. */
export type ValuePrecision = "fp32" | "fp16";

/** Data a tensor can be stored from: float weights or int8 quantized codes. */
export type StorableData = Float32Array | Int8Array;

/** What {@link storeTensor} added. */
export interface StoredTensor {
  /** The graph value holding the dense tensor (float32, or int8 for codes). */
  value: string;
  /** The storage mode used (never `auto`). */
  storage: StorageMode;
  /** Bytes of tensor payload written to the file for this tensor. */
  bytes: number;
}

/** Nonzero positions of a tensor, in ascending linear order. */
function nonzeroPositions(data: StorableData): number[] {
  const positions: number[] = [];
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) positions.push(i);
  return positions;
}

/** Linear positions and gap codes of a packed tensor. */
export interface PackedIndices {
  /** Entries to store: the nonzeros plus zero-valued fillers, ascending. */
  positions: number[];
  /** `positions[0]`, then the gaps between neighbours; each ≤ `maxGap`. */
  gaps: Uint8Array | Uint16Array;
}

/**
 * Codes ascending `nonzeros` as gaps of at most `maxGap` (255 or 65535),
 * inserting filler positions wherever a gap is wider. The first gap is
 * measured from position 0, so a running sum of the gaps gives back every
 * position.
 */
export function packIndices(
  nonzeros: readonly number[],
  maxGap: 255 | 65535,
): PackedIndices {
  const positions: number[] = [];
  const gaps: number[] = [];
  let previous = 0;
  for (const position of nonzeros) {
    while (position - previous > maxGap) {
      previous += maxGap;
      positions.push(previous);
      gaps.push(maxGap);
    }
    positions.push(position);
    gaps.push(position - previous);
    previous = position;
  }
  return {
    positions,
    gaps: maxGap === 255 ? Uint8Array.from(gaps) : Uint16Array.from(gaps),
  };
}

/**
 * The mask of nonzero entries, eight per byte, least significant bit
 * first: entry `i` is bit `i % 8` of byte `floor(i / 8)`.
 */
export function packBits(data: StorableData): Uint8Array {
  const bytes = new Uint8Array(Math.ceil(data.length / 8));
  for (let i = 0; i < data.length; i++) {
    if (data[i] !== 0) bytes[i >> 3] |= 1 << (i & 7);
  }
  return bytes;
}

function valueBytes(data: StorableData, precision: ValuePrecision): number {
  if (data instanceof Int8Array) return 1;
  return precision === "fp16" ? 2 : 4;
}

/** The payload bytes of each storage mode for one tensor, without writing it. */
export function storageBytes(
  data: StorableData,
  precision: ValuePrecision,
): Record<StorageMode, number> {
  const positions = nonzeroPositions(data);
  return storageBytesOf(data, positions, precision);
}

function storageBytesOf(
  data: StorableData,
  positions: number[],
  precision: ValuePrecision,
): Record<StorageMode, number> {
  const v = valueBytes(data, precision);
  const nnz = positions.length;
  return {
    dense: data.length * v,
    "sparse-init": nnz * (v + 8),
    packed: packedChoice(positions, v).bytes,
    bitmask: Math.ceil(data.length / 8) + (nnz + 1) * v,
  };
}

/** Which gap width packs `positions` smallest, and its size. */
function packedChoice(
  positions: number[],
  valueSize: number,
): { maxGap: 255 | 65535; bytes: number } {
  const narrow = packedEntries(positions, 255) * (valueSize + 1);
  const wide = packedEntries(positions, 65535) * (valueSize + 2);
  return narrow <= wide ? { maxGap: 255, bytes: narrow } : { maxGap: 65535, bytes: wide };
}

function packedEntries(positions: number[], maxGap: number): number {
  let entries = 0;
  let previous = 0;
  for (const p of positions) {
    entries += 1 + Math.max(0, Math.ceil((p - previous) / maxGap) - 1);
    previous = p;
  }
  return entries;
}

const int64Constants = new WeakMap<GraphBuilder, Map<string, string>>();

/**
 * An int64 constant (a shape, an axis list) named after `base`. Equal
 * constants in one graph share a single initializer.
 */
export function int64Constant(
  graph: GraphBuilder,
  base: string,
  values: readonly number[],
  dims: readonly number[] = [values.length],
): string {
  let known = int64Constants.get(graph);
  if (!known) int64Constants.set(graph, known = new Map());
  const key = `${values.join(",")}:${dims.join(",")}`;
  const existing = known.get(key);
  if (existing) return existing;
  const name = graph.addInitializer(
    graph.uniqueName(base),
    BigInt64Array.from(values, (v) => BigInt(v)),
    dims,
  );
  known.set(key, name);
  return name;
}

/**
 * Adds `values` (already selected entries) as a constant of the model's
 * value type and returns the name of a float32 (or int8) tensor.
 */
function addValues(
  graph: GraphBuilder,
  name: string,
  values: StorableData,
  precision: ValuePrecision,
  dims: readonly number[] = [values.length],
): string {
  if (values instanceof Int8Array || precision === "fp32") {
    return graph.addInitializer(graph.uniqueName(name), values, dims);
  }
  const half = graph.addInitializer(
    graph.uniqueName(`${name}.fp16`),
    toFloat16Array(values),
    dims,
    DataType.FLOAT16,
  );
  return castToFloat(graph, half, name);
}

function castToFloat(graph: GraphBuilder, input: string, name: string): string {
  return graph.addNode("Cast", [input], [graph.uniqueName(name)], {
    to: intAttr(DataType.FLOAT),
  })[0];
}

function select(data: StorableData, positions: number[]): StorableData {
  const out = data instanceof Int8Array
    ? new Int8Array(positions.length)
    : new Float32Array(positions.length);
  positions.forEach((p, k) => out[k] = data[p]);
  return out;
}

/** `ConstantOfShape` zeros of `count` entries, of the data's element type. */
function zeros(graph: GraphBuilder, name: string, count: number, int8: boolean): string {
  const shape = int64Constant(graph, `${name}.size`, [count]);
  const zero = int8
    ? tensorProto("zero", new Int8Array(1), [1])
    : tensorProto("zero", new Float32Array(1), [1]);
  return graph.addNode("ConstantOfShape", [shape], [graph.uniqueName(`${name}.zeros`)], {
    value: tensorAttr(zero),
  })[0];
}

function reshape(
  graph: GraphBuilder,
  input: string,
  dims: readonly number[],
  name: string,
): string {
  const shape = int64Constant(graph, `${name}.shape`, dims);
  return graph.addNode("Reshape", [input, shape], [name])[0];
}

/** Options of {@link storeTensor}. */
export interface StoreOptions {
  storage: StorageChoice;
  /** Float values as fp32 or fp16; int8 data is always stored as int8. */
  values: ValuePrecision;
}

/**
 * Adds tensor `data` of shape `dims` to `graph`, stored as `options.storage`
 * says where that is smaller than dense, else dense, and returns the graph value that holds it densely under the name
 * `name` (uniquified if taken).
 */
export function storeTensor(
  graph: GraphBuilder,
  name: string,
  data: StorableData,
  dims: readonly number[],
  options: StoreOptions,
): StoredTensor {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new Error(`Tensor ${name}: ${data.length} values do not fill shape [${dims}]`);
  }
  const positions = nonzeroPositions(data);
  const sizes = storageBytesOf(data, positions, options.values);
  // A format helps only where it is smaller than dense (not a bias, not a
  // dense embedding): elsewhere the tensor is stored dense, in every mode.
  const wanted = options.storage === "auto" ? "packed" : options.storage;
  const storage = sizes[wanted] < sizes.dense ? wanted : "dense";
  const int8 = data instanceof Int8Array;
  const fp16 = !int8 && options.values === "fp16";
  let value: string;
  switch (storage) {
    case "dense":
      value = addValues(graph, name, data, options.values, dims);
      break;
    case "sparse-init": {
      if (fp16) {
        const half = graph.addSparseConstant(
          graph.uniqueName(`${name}.fp16`),
          toFloat16Array(data as Float32Array),
          dims,
          DataType.FLOAT16,
        );
        value = castToFloat(graph, half, name);
      } else {
        value = graph.addSparseConstant(graph.uniqueName(name), data, dims);
      }
      break;
    }
    case "packed":
      value = addPacked(graph, name, data, dims, positions, options.values);
      break;
    case "bitmask":
      value = addBitmask(graph, name, data, dims, positions, options.values);
      break;
  }
  return { value, storage, bytes: sizes[storage] };
}

function addPacked(
  graph: GraphBuilder,
  name: string,
  data: StorableData,
  dims: readonly number[],
  nonzeros: number[],
  precision: ValuePrecision,
): string {
  const int8 = data instanceof Int8Array;
  const empty = zeros(graph, name, data.length, int8);
  if (nonzeros.length === 0) return reshape(graph, empty, dims, graph.uniqueName(name));
  const { maxGap } = packedChoice(nonzeros, valueBytes(data, precision));
  const { positions, gaps } = packIndices(nonzeros, maxGap);
  const gapCodes = graph.addInitializer(graph.uniqueName(`${name}.gaps`), gaps, [gaps.length]);
  // int32 positions (ScatterElements takes them) halve the transient memory of the fold.
  const [wide] = graph.addNode("Cast", [gapCodes], [graph.uniqueName(`${name}.gaps32`)], {
    to: intAttr(DataType.INT32),
  });
  const axis = int64Constant(graph, `${name}.axis`, [0], []);
  const [indices] = graph.addNode("CumSum", [wide, axis], [graph.uniqueName(`${name}.indices`)]);
  const values = addValues(graph, `${name}.values`, select(data, positions), precision);
  const [flat] = graph.addNode(
    "ScatterElements",
    [empty, indices, values],
    [graph.uniqueName(`${name}.flat`)],
    { axis: intAttr(0) },
  );
  return reshape(graph, flat, dims, graph.uniqueName(name));
}

function addBitmask(
  graph: GraphBuilder,
  name: string,
  data: StorableData,
  dims: readonly number[],
  nonzeros: number[],
  precision: ValuePrecision,
): string {
  const int8 = data instanceof Int8Array;
  // A leading zero value lets every masked-out entry gather index 0.
  const padded = int8 ? new Int8Array(nonzeros.length + 1) : new Float32Array(nonzeros.length + 1);
  nonzeros.forEach((p, k) => padded[k + 1] = data[p]);
  const values = addValues(graph, `${name}.values`, padded, precision);
  const bytes = packBits(data);
  const mask = graph.addInitializer(graph.uniqueName(`${name}.mask`), bytes, [bytes.length, 1]);
  const shifts = graph.addInitializer(
    graph.uniqueName(`${name}.shifts`),
    Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7]),
    [1, 8],
  );
  const [shifted] = graph.addNode(
    "BitShift",
    [mask, shifts],
    [graph.uniqueName(`${name}.shifted`)],
    {
      direction: { type: "string", value: "RIGHT" },
    },
  );
  const two = graph.addInitializer(graph.uniqueName(`${name}.two`), Uint8Array.from([2]), []);
  const [bits8] = graph.addNode("Mod", [shifted, two], [graph.uniqueName(`${name}.bits8`)]);
  let flatBits = reshape(graph, bits8, [bytes.length * 8], graph.uniqueName(`${name}.bitrow`));
  if (bytes.length * 8 !== data.length) {
    const start = int64Constant(graph, `${name}.start`, [0]);
    const end = int64Constant(graph, `${name}.end`, [data.length]);
    [flatBits] = graph.addNode("Slice", [flatBits, start, end], [
      graph.uniqueName(`${name}.bitcut`),
    ]);
  }
  const [bits] = graph.addNode("Cast", [flatBits], [graph.uniqueName(`${name}.bits`)], {
    to: intAttr(DataType.INT32),
  });
  const axis = int64Constant(graph, `${name}.axis`, [0], []);
  const [counts] = graph.addNode("CumSum", [bits, axis], [graph.uniqueName(`${name}.counts`)]);
  // Entry i takes value number counts[i] (1-based) when its bit is set, else the leading zero.
  const [slots] = graph.addNode("Mul", [counts, bits], [graph.uniqueName(`${name}.slots`)]);
  const [flat] = graph.addNode("Gather", [values, slots], [graph.uniqueName(`${name}.flat`)], {
    axis: intAttr(0),
  });
  return reshape(graph, flat, dims, graph.uniqueName(name));
}

/** A stored tensor of an export, as the bundle metadata lists it. */
export interface TensorRecord {
  /** Parameter-derived name, e.g. `lstm.0.W` or `lstm.0.cols`. */
  name: string;
  /** A {@link StorageMode}, or the compute mode's own layout (e.g. `coo`). */
  storage: string;
  /** Payload bytes in the file. */
  bytes: number;
}

/**
 * Adds an export's tensors to one graph under one set of storage options
 * and keeps a record of what each took, for the bundle metadata.
 */
export class WeightStore {
  /** One entry per stored tensor, in the order they were added. */
  readonly records: TensorRecord[] = [];

  constructor(readonly graph: GraphBuilder, readonly options: StoreOptions) {}

  /** Stores a weight (float or int8 codes) in the export's storage mode. */
  weight(name: string, data: StorableData, dims: number[]): string {
    const stored = storeTensor(this.graph, name, data, dims, this.options);
    this.records.push({ name, storage: stored.storage, bytes: stored.bytes });
    return stored.value;
  }

  /**
   * Stores float values densely at the export's value precision (for
   * tensors that are already compact, such as a sparse layout's values).
   */
  values(name: string, data: Float32Array, dims: number[], layout: string): string {
    const value = addValues(this.graph, name, data, this.options.values, dims);
    this.records.push({
      name,
      storage: layout,
      bytes: data.length * valueBytes(data, this.options.values),
    });
    return value;
  }

  /**
   * Stores non-negative integers in the narrowest unsigned type that holds
   * them and returns an int64 `[n]` value (the widening `Cast` folds at load).
   * `ascending` indices are stored as gaps from their predecessor, which
   * keeps them narrow (a row index of sorted entries, say).
   */
  indices(name: string, values: readonly number[], layout: string, ascending = false): string {
    const codes = ascending ? values.map((v, i) => i === 0 ? v : v - values[i - 1]) : values;
    const largest = codes.reduce((a, b) => Math.max(a, b), 0);
    const data = largest <= 0xff
      ? Uint8Array.from(codes)
      : largest <= 0xffff
      ? Uint16Array.from(codes)
      : Int32Array.from(codes);
    const stored = this.graph.addInitializer(
      this.graph.uniqueName(`${name}.codes`),
      data,
      [data.length],
    );
    this.records.push({ name, storage: layout, bytes: data.byteLength });
    let [wide] = this.graph.addNode("Cast", [stored], [this.graph.uniqueName(`${name}.int64`)], {
      to: intAttr(DataType.INT64),
    });
    if (ascending) {
      const axis = int64Constant(this.graph, `${name}.axis`, [0], []);
      [wide] = this.graph.addNode("CumSum", [wide, axis], [this.graph.uniqueName(name)]);
    }
    return wide;
  }
}
