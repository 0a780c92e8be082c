/**
 * A small, general builder for ONNX graphs: typed inputs and outputs with
 * fixed or symbolic dimensions, dense and sparse initializers, and nodes with
 * attributes. It knows nothing about any particular network; model exporters
 * compose it.
 *
 * @module
 */

import {
  type AttributeProto,
  AttributeType,
  DataType,
  type DimensionProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type SparseTensorProto,
  type TensorProto,
  type TensorTypeProto,
  type ValueInfoProto,
} from "./proto.ts";

/** A dimension: a fixed size, or a symbolic name such as `"batch"`. */
export type Dim = number | string;

/**
 * Tensor payloads the builder can store. Each maps to an ONNX type by
 * default (see {@link dataTypeOf}); a `Uint16Array` can also carry float16
 * bit patterns when the element type is given explicitly.
 */
export type TensorData =
  | Float32Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Int8Array
  | Uint16Array;

/** An attribute value, tagged with its ONNX attribute type. */
export type AttributeValue =
  | { type: "int"; value: number }
  | { type: "float"; value: number }
  | { type: "ints"; value: number[] }
  | { type: "floats"; value: number[] }
  | { type: "string"; value: string }
  | { type: "strings"; value: string[] }
  | { type: "tensor"; value: TensorProto }
  | { type: "sparse_tensor"; value: SparseTensorProto }
  | { type: "graph"; value: GraphProto };

/** An integer attribute. */
export function intAttr(value: number): AttributeValue {
  return { type: "int", value };
}

/** A float attribute. */
export function floatAttr(value: number): AttributeValue {
  return { type: "float", value };
}

/** A list-of-integers attribute. */
export function intsAttr(value: number[]): AttributeValue {
  return { type: "ints", value };
}

/** A list-of-floats attribute. */
export function floatsAttr(value: number[]): AttributeValue {
  return { type: "floats", value };
}

/** A string attribute (stored as UTF-8 bytes). */
export function stringAttr(value: string): AttributeValue {
  return { type: "string", value };
}

/** A list-of-strings attribute, e.g. an RNN's `activations`. */
export function stringsAttr(value: string[]): AttributeValue {
  return { type: "strings", value };
}

/** A tensor attribute, e.g. a `Constant`'s `value`. Build it with {@link tensorProto}. */
export function tensorAttr(value: TensorProto): AttributeValue {
  return { type: "tensor", value };
}

/** A sparse tensor attribute: a `Constant`'s `sparse_value`. Build it with {@link sparseTensorProto}. */
export function sparseTensorAttr(value: SparseTensorProto): AttributeValue {
  return { type: "sparse_tensor", value };
}

/** A subgraph attribute, e.g. a `Scan` or `Loop` body from {@link GraphBuilder.buildGraph}. */
export function graphAttr(value: GraphProto): AttributeValue {
  return { type: "graph", value };
}

/** Options for {@link GraphBuilder.build}. */
export interface BuildOptions {
  /** Version of the default `ai.onnx` operator set. */
  opsetVersion: number;
  /** IR version; defaults to the one that introduced `opsetVersion`. */
  irVersion?: number;
  producerName: string;
  producerVersion?: string;
  docString?: string;
  /** Stored in `metadata_props`, readable by any ONNX runtime. */
  metadata?: Record<string, string>;
  /**
   * Operator sets of other domains the graph uses, e.g.
   * `{ domain: "com.microsoft", version: 1 }` for onnxruntime's contrib ops.
   */
  extraOpsets?: { domain: string; version: number }[];
}

/** Options for {@link GraphBuilder.addNode}. */
export interface NodeOptions {
  /** Node name; a unique one derived from the op type by default. */
  name?: string;
  /** Operator domain; the default `ai.onnx` domain when absent. */
  domain?: string;
}

/** The ONNX element type a typed array is stored as by default. */
export function dataTypeOf(data: TensorData): number {
  if (data instanceof Float32Array) return DataType.FLOAT;
  if (data instanceof Int32Array) return DataType.INT32;
  if (data instanceof Uint8Array) return DataType.UINT8;
  if (data instanceof Int8Array) return DataType.INT8;
  if (data instanceof Uint16Array) return DataType.UINT16;
  return DataType.INT64;
}

/**
 * A dense `TensorProto` holding `data` as little-endian `raw_data`, which
 * avoids per-element varints and 64-bit number handling in protobufjs.
 * `dataType` overrides the default element type of the array; only a
 * `Uint16Array` holding float16 bit patterns needs it.
 */
export function tensorProto(
  name: string,
  data: TensorData,
  dims: readonly number[],
  dataType: number = dataTypeOf(data),
): TensorProto {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new Error(
      `Tensor ${name}: ${data.length} values do not fill shape [${dims}]`,
    );
  }
  const natural = dataTypeOf(data);
  if (
    dataType !== natural &&
    !(dataType === DataType.FLOAT16 && natural === DataType.UINT16)
  ) {
    throw new Error(
      `Tensor ${name}: a ${data.constructor.name} cannot hold element type ${dataType}`,
    );
  }
  return {
    name,
    dims: [...dims],
    data_type: dataType,
    raw_data: littleEndianBytes(data),
  };
}

/**
 * The sparse form of a dense tensor: its nonzero values (a tensor named
 * `name`) and their ascending linear indices as int64, as `sparse_initializer`
 * entries expect. `dataType` is needed only for float16 bit patterns.
 */
export function sparseTensorProto(
  name: string,
  dense: TensorData,
  dims: readonly number[],
  dataType: number = dataTypeOf(dense),
): SparseTensorProto {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== dense.length) {
    throw new Error(
      `Tensor ${name}: ${dense.length} values do not fill shape [${dims}]`,
    );
  }
  const positions: number[] = [];
  // Float16 bit patterns are nonzero when their magnitude bits are; -0 is zero.
  const isZero = dataType === DataType.FLOAT16
    ? (v: number | bigint) => (Number(v) & 0x7fff) === 0
    : (v: number | bigint) => v == 0;
  for (let i = 0; i < dense.length; i++) {
    if (!isZero(dense[i])) positions.push(i);
  }
  const values = selectEntries(dense, positions);
  const indices = BigInt64Array.from(positions, (i) => BigInt(i));
  return {
    values: tensorProto(name, values, [positions.length], dataType),
    indices: tensorProto(`${name}.indices`, indices, [positions.length]),
    dims: [...dims],
  };
}

/** The entries of `data` at `positions`, in an array of the same type. */
function selectEntries(data: TensorData, positions: number[]): TensorData {
  if (data instanceof BigInt64Array) {
    return BigInt64Array.from(positions, (i) => data[i]);
  }
  const out = new (data.constructor as
    | Float32ArrayConstructor
    | Int32ArrayConstructor
    | Uint8ArrayConstructor
    | Int8ArrayConstructor
    | Uint16ArrayConstructor)(positions.length);
  positions.forEach((p, k) => out[k] = data[p]);
  return out;
}

function littleEndianBytes(data: TensorData): Uint8Array {
  if (data instanceof Uint8Array || data instanceof Int8Array) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      .slice();
  }
  const bytes = new Uint8Array(data.byteLength);
  const view = new DataView(bytes.buffer);
  // DataView pins the byte order, so the file is the same on any host.
  if (data instanceof Float32Array) {
    for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  } else if (data instanceof Int32Array) {
    for (let i = 0; i < data.length; i++) view.setInt32(i * 4, data[i], true);
  } else if (data instanceof Uint16Array) {
    for (let i = 0; i < data.length; i++) view.setUint16(i * 2, data[i], true);
  } else {
    for (let i = 0; i < data.length; i++) {
      view.setBigInt64(i * 8, data[i], true);
    }
  }
  return bytes;
}

function valueInfo(
  name: string,
  elemType: number,
  dims: readonly Dim[] | undefined,
): ValueInfoProto {
  // No shape at all means "unknown rank", which subgraph values may need.
  const tensorType: TensorTypeProto = { elem_type: elemType };
  if (dims) {
    const dim: DimensionProto[] = dims.map((d) =>
      typeof d === "number" ? { dim_value: d } : { dim_param: d }
    );
    tensorType.shape = { dim };
  }
  return { name, type: { tensor_type: tensorType } };
}

function attributeProto(name: string, attr: AttributeValue): AttributeProto {
  const utf8 = new TextEncoder();
  switch (attr.type) {
    case "int":
      return { name, type: AttributeType.INT, i: attr.value };
    case "float":
      return { name, type: AttributeType.FLOAT, f: attr.value };
    case "ints":
      return { name, type: AttributeType.INTS, ints: attr.value };
    case "floats":
      return { name, type: AttributeType.FLOATS, floats: attr.value };
    case "string":
      return { name, type: AttributeType.STRING, s: utf8.encode(attr.value) };
    case "strings":
      return {
        name,
        type: AttributeType.STRINGS,
        strings: attr.value.map((s) => utf8.encode(s)),
      };
    case "tensor":
      return { name, type: AttributeType.TENSOR, t: attr.value };
    case "sparse_tensor":
      return { name, type: AttributeType.SPARSE_TENSOR, sparse_tensor: attr.value };
    case "graph":
      return { name, type: AttributeType.GRAPH, g: attr.value };
  }
}

/**
 * The IR version that accompanies an opset of the default domain, per the
 * ONNX versioning table; runtimes reject models whose IR is too old for their
 * opset.
 */
export function irVersionForOpset(opsetVersion: number): number {
  if (opsetVersion <= 8) return 3;
  if (opsetVersion === 9) return 4;
  if (opsetVersion === 10) return 5;
  if (opsetVersion === 11) return 6;
  if (opsetVersion <= 14) return 7;
  if (opsetVersion <= 18) return 8;
  if (opsetVersion <= 20) return 9;
  if (opsetVersion <= 22) return 10;
  return 11;
}

function freshName(taken: ReadonlySet<string>, base: string): string {
  if (!taken.has(base)) return base;
  let n = 1;
  while (taken.has(`${base}_${n}`)) n++;
  return `${base}_${n}`;
}

/**
 * Accumulates one ONNX graph. Every value name must be unique within the
 * graph; {@link GraphBuilder.uniqueName} hands out fresh ones.
 */
export class GraphBuilder {
  readonly name: string;
  #inputs: ValueInfoProto[] = [];
  #outputs: ValueInfoProto[] = [];
  #initializers: TensorProto[] = [];
  #sparseInitializers: SparseTensorProto[] = [];
  #nodes: NodeProto[] = [];
  /** Names handed out by uniqueName or defined, so never handed out again. */
  #valueNames = new Set<string>();
  /** Names some input, initializer or node output already defines. */
  #definedNames = new Set<string>();
  #nodeNames = new Set<string>();

  constructor(name: string) {
    this.name = name;
  }

  /**
   * A value name not yet used in this graph (`base` itself when free). It is
   * reserved, so later calls never return it again, until an input,
   * initializer or node output defines it.
   */
  uniqueName(base: string): string {
    const name = freshName(this.#valueNames, base);
    this.#valueNames.add(name);
    return name;
  }

  /**
   * Declares a graph input and returns its name. Omitting `dims` leaves the
   * shape unknown.
   */
  addInput(name: string, elemType: number, dims?: readonly Dim[]): string {
    this.#define(name);
    this.#inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  /**
   * Declares a graph output. The value `name` must be produced by a node
   * (or be an input or initializer) by the time the graph runs. Omitting
   * `dims` leaves the shape unknown.
   */
  addOutput(name: string, elemType: number, dims?: readonly Dim[]): string {
    this.#outputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  /**
   * Adds a dense constant tensor and returns its name. `dataType` is needed
   * only for float16 bit patterns in a `Uint16Array`.
   */
  addInitializer(
    name: string,
    data: TensorData,
    dims: readonly number[],
    dataType?: number,
  ): string {
    this.#define(name);
    this.#initializers.push(tensorProto(name, data, dims, dataType));
    return name;
  }

  /**
   * Adds a constant stored as a `sparse_initializer` (only its nonzero
   * entries and their linear indices); runtimes densify it at load time.
   * `dataType` is needed only for float16 bit patterns in a `Uint16Array`.
   */
  addSparseInitializer(
    name: string,
    dense: TensorData,
    dims: readonly number[],
    dataType?: number,
  ): string {
    this.#define(name);
    this.#sparseInitializers.push(
      sparseTensorProto(name, dense, dims, dataType),
    );
    return name;
  }

  /**
   * Adds a constant stored sparsely (its nonzero entries and their int64
   * linear indices) as a `Constant` node's `sparse_value`, whose output is
   * a dense tensor. Unlike a `sparse_initializer`, which shape inference
   * types as a sparse tensor that ops such as `Gather` cannot take, it
   * passes onnx's strict checker. `dataType` as in {@link addSparseInitializer}.
   */
  addSparseConstant(
    name: string,
    dense: TensorData,
    dims: readonly number[],
    dataType?: number,
  ): string {
    const [value] = this.addNode("Constant", [], [name], {
      sparse_value: sparseTensorAttr(sparseTensorProto(`${name}.sparse`, dense, dims, dataType)),
    });
    return value;
  }

  /**
   * Adds a node. `outputs` is either explicit names or a count, in which
   * case fresh names derived from the node name are made. An empty string
   * in `inputs` marks an omitted optional input. Returns the output names.
   */
  addNode(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[] | number,
    attributes: Record<string, AttributeValue> = {},
    options: NodeOptions = {},
  ): string[] {
    const nodeName = options.name ?? freshName(this.#nodeNames, opType);
    if (this.#nodeNames.has(nodeName)) {
      throw new Error(
        `ONNX node name ${nodeName} is already used in this graph`,
      );
    }
    this.#nodeNames.add(nodeName);
    const outputNames = typeof outputs === "number"
      ? Array.from(
        { length: outputs },
        (_, i) => this.#define(this.uniqueName(`${nodeName}_out${i}`)),
      )
      : outputs.map((o) => o === "" ? o : this.#define(o));
    const node: NodeProto = {
      name: nodeName,
      op_type: opType,
      input: [...inputs],
      output: outputNames,
      attribute: Object.entries(attributes).map(([k, v]) => attributeProto(k, v)),
    };
    if (options.domain) node.domain = options.domain;
    this.#nodes.push(node);
    return outputNames;
  }

  /** The graph alone, e.g. as the body of a `Scan` or `Loop` node. */
  buildGraph(docString?: string): GraphProto {
    const graph: GraphProto = {
      name: this.name,
      node: [...this.#nodes],
      initializer: [...this.#initializers],
      sparse_initializer: [...this.#sparseInitializers],
      input: [...this.#inputs],
      output: [...this.#outputs],
    };
    if (docString) graph.doc_string = docString;
    return graph;
  }

  /** A complete model around this graph; encode it with `encodeModel`. */
  build(options: BuildOptions): ModelProto {
    const model: ModelProto = {
      ir_version: options.irVersion ?? irVersionForOpset(options.opsetVersion),
      opset_import: [
        { domain: "", version: options.opsetVersion },
        ...(options.extraOpsets ?? []),
      ],
      producer_name: options.producerName,
      graph: this.buildGraph(),
      metadata_props: Object.entries(options.metadata ?? {}).map((
        [key, value],
      ) => ({ key, value })),
    };
    if (options.producerVersion) {
      model.producer_version = options.producerVersion;
    }
    if (options.docString) model.doc_string = options.docString;
    return model;
  }

  #define(name: string): string {
    if (name === "") throw new Error("ONNX value names must not be empty");
    if (this.#definedNames.has(name)) {
      throw new Error(`ONNX value name ${name} is already used in this graph`);
    }
    this.#definedNames.add(name);
    this.#valueNames.add(name);
    return name;
  }
}
