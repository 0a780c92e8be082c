/**
 * The subset of `onnx.proto` that sparrow writes and reads, as a protobufjs
 * schema built in code (no `.proto` file to ship or parse at run time).
 *
 * Field names keep the snake_case spelling of `onnx.proto`, so a decoded model
 * reads the same as the spec and as the Python `onnx` package. Field numbers
 * follow `onnx/onnx.proto`; only the wire numbers matter to readers, so
 * leaving out messages and fields we never write is harmless.
 *
 * 64-bit integers are plain numbers here: every int64 we write (dims, opset
 * and IR versions, attribute ints) is far below 2^53. Tensor payloads travel
 * as little-endian `raw_data` bytes, never as repeated numeric fields.
 *
 * @module
 */

import protobuf from "protobufjs";

/** `TensorProto.DataType` values that sparrow uses. */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
} as const;

/** `AttributeProto.AttributeType` values. */
export const AttributeType = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
  SPARSE_TENSOR: 11,
  SPARSE_TENSORS: 12,
} as const;

/** `StringStringEntryProto`: one key/value pair (metadata, external data). */
export interface StringStringEntryProto {
  key?: string;
  value?: string;
}

/** `OperatorSetIdProto`: an operator set a model imports. */
export interface OperatorSetIdProto {
  /** Empty or absent means the default `ai.onnx` domain. */
  domain?: string;
  version?: number;
}

/** `TensorProto`: a dense tensor value. */
export interface TensorProto {
  dims?: number[];
  data_type?: number;
  float_data?: number[];
  int32_data?: number[];
  string_data?: Uint8Array[];
  int64_data?: number[];
  name?: string;
  raw_data?: Uint8Array;
  double_data?: number[];
  uint64_data?: number[];
  doc_string?: string;
  external_data?: StringStringEntryProto[];
  data_location?: number;
}

/** `SparseTensorProto`: nonzero values plus their indices into a dense shape. */
export interface SparseTensorProto {
  values?: TensorProto;
  /** Either `[nnz]` linear indices or `[nnz, rank]` coordinates, ascending. */
  indices?: TensorProto;
  dims?: number[];
}

/** `TensorShapeProto.Dimension`: a fixed size or a symbolic name. */
export interface DimensionProto {
  dim_value?: number;
  dim_param?: string;
  denotation?: string;
}

/** `TensorShapeProto`. */
export interface TensorShapeProto {
  dim?: DimensionProto[];
}

/** `TypeProto.Tensor`: element type and (optional) shape. */
export interface TensorTypeProto {
  elem_type?: number;
  shape?: TensorShapeProto;
}

/** `TypeProto`, restricted to tensor types. */
export interface TypeProto {
  tensor_type?: TensorTypeProto;
  denotation?: string;
}

/** `ValueInfoProto`: a named, typed value (graph input, output, or hint). */
export interface ValueInfoProto {
  name?: string;
  type?: TypeProto;
  doc_string?: string;
}

/** `AttributeProto`: one named attribute of a node. */
export interface AttributeProto {
  name?: string;
  ref_attr_name?: string;
  doc_string?: string;
  type?: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  sparse_tensor?: SparseTensorProto;
  floats?: number[];
  ints?: number[];
  strings?: Uint8Array[];
  tensors?: TensorProto[];
  graphs?: GraphProto[];
  sparse_tensors?: SparseTensorProto[];
}

/** `NodeProto`: one operator application. */
export interface NodeProto {
  input?: string[];
  output?: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  attribute?: AttributeProto[];
  doc_string?: string;
}

/** `GraphProto`: nodes, constants, inputs and outputs. */
export interface GraphProto {
  node?: NodeProto[];
  name?: string;
  initializer?: TensorProto[];
  sparse_initializer?: SparseTensorProto[];
  doc_string?: string;
  input?: ValueInfoProto[];
  output?: ValueInfoProto[];
  value_info?: ValueInfoProto[];
}

/** `ModelProto`: the top-level message of an `.onnx` file. */
export interface ModelProto {
  ir_version?: number;
  opset_import?: OperatorSetIdProto[];
  producer_name?: string;
  producer_version?: string;
  domain?: string;
  model_version?: number;
  doc_string?: string;
  graph?: GraphProto;
  metadata_props?: StringStringEntryProto[];
}

// proto2 repeated scalars are unpacked unless the field says otherwise; the
// explicit options keep the wire format identical to onnx.proto's.
const UNPACKED = { packed: false };
const PACKED = { packed: true };

const messages = {
  AttributeProto: {
    fields: {
      name: { type: "string", id: 1 },
      ref_attr_name: { type: "string", id: 21 },
      doc_string: { type: "string", id: 13 },
      type: { type: "int32", id: 20 },
      f: { type: "float", id: 2 },
      i: { type: "int64", id: 3 },
      s: { type: "bytes", id: 4 },
      t: { type: "TensorProto", id: 5 },
      g: { type: "GraphProto", id: 6 },
      sparse_tensor: { type: "SparseTensorProto", id: 22 },
      floats: {
        rule: "repeated",
        type: "float",
        id: 7,
        options: UNPACKED,
      },
      ints: { rule: "repeated", type: "int64", id: 8, options: UNPACKED },
      strings: { rule: "repeated", type: "bytes", id: 9 },
      tensors: { rule: "repeated", type: "TensorProto", id: 10 },
      graphs: { rule: "repeated", type: "GraphProto", id: 11 },
      sparse_tensors: {
        rule: "repeated",
        type: "SparseTensorProto",
        id: 23,
      },
    },
  },
  ValueInfoProto: {
    fields: {
      name: { type: "string", id: 1 },
      type: { type: "TypeProto", id: 2 },
      doc_string: { type: "string", id: 3 },
    },
  },
  NodeProto: {
    fields: {
      input: { rule: "repeated", type: "string", id: 1 },
      output: { rule: "repeated", type: "string", id: 2 },
      name: { type: "string", id: 3 },
      op_type: { type: "string", id: 4 },
      domain: { type: "string", id: 7 },
      attribute: { rule: "repeated", type: "AttributeProto", id: 5 },
      doc_string: { type: "string", id: 6 },
    },
  },
  ModelProto: {
    fields: {
      ir_version: { type: "int64", id: 1 },
      opset_import: {
        rule: "repeated",
        type: "OperatorSetIdProto",
        id: 8,
      },
      producer_name: { type: "string", id: 2 },
      producer_version: { type: "string", id: 3 },
      domain: { type: "string", id: 4 },
      model_version: { type: "int64", id: 5 },
      doc_string: { type: "string", id: 6 },
      graph: { type: "GraphProto", id: 7 },
      metadata_props: {
        rule: "repeated",
        type: "StringStringEntryProto",
        id: 14,
      },
    },
  },
  StringStringEntryProto: {
    fields: {
      key: { type: "string", id: 1 },
      value: { type: "string", id: 2 },
    },
  },
  GraphProto: {
    fields: {
      node: { rule: "repeated", type: "NodeProto", id: 1 },
      name: { type: "string", id: 2 },
      initializer: { rule: "repeated", type: "TensorProto", id: 5 },
      sparse_initializer: {
        rule: "repeated",
        type: "SparseTensorProto",
        id: 15,
      },
      doc_string: { type: "string", id: 10 },
      input: { rule: "repeated", type: "ValueInfoProto", id: 11 },
      output: { rule: "repeated", type: "ValueInfoProto", id: 12 },
      value_info: { rule: "repeated", type: "ValueInfoProto", id: 13 },
    },
  },
  TensorProto: {
    fields: {
      dims: { rule: "repeated", type: "int64", id: 1, options: UNPACKED },
      data_type: { type: "int32", id: 2 },
      float_data: {
        rule: "repeated",
        type: "float",
        id: 4,
        options: PACKED,
      },
      int32_data: {
        rule: "repeated",
        type: "int32",
        id: 5,
        options: PACKED,
      },
      string_data: { rule: "repeated", type: "bytes", id: 6 },
      int64_data: {
        rule: "repeated",
        type: "int64",
        id: 7,
        options: PACKED,
      },
      name: { type: "string", id: 8 },
      doc_string: { type: "string", id: 12 },
      raw_data: { type: "bytes", id: 9 },
      external_data: {
        rule: "repeated",
        type: "StringStringEntryProto",
        id: 13,
      },
      data_location: { type: "int32", id: 14 },
      double_data: {
        rule: "repeated",
        type: "double",
        id: 10,
        options: PACKED,
      },
      uint64_data: {
        rule: "repeated",
        type: "uint64",
        id: 11,
        options: PACKED,
      },
    },
  },
  SparseTensorProto: {
    fields: {
      values: { type: "TensorProto", id: 1 },
      indices: { type: "TensorProto", id: 2 },
      dims: { rule: "repeated", type: "int64", id: 3, options: UNPACKED },
    },
  },
  TensorShapeProto: {
    fields: {
      dim: { rule: "repeated", type: "Dimension", id: 1 },
    },
    nested: {
      Dimension: {
        oneofs: { value: { oneof: ["dim_value", "dim_param"] } },
        fields: {
          dim_value: { type: "int64", id: 1 },
          dim_param: { type: "string", id: 2 },
          denotation: { type: "string", id: 3 },
        },
      },
    },
  },
  TypeProto: {
    oneofs: { value: { oneof: ["tensor_type"] } },
    fields: {
      tensor_type: { type: "Tensor", id: 1 },
      denotation: { type: "string", id: 6 },
    },
    nested: {
      Tensor: {
        fields: {
          elem_type: { type: "int32", id: 1 },
          shape: { type: "TensorShapeProto", id: 2 },
        },
      },
    },
  },
  OperatorSetIdProto: {
    fields: {
      domain: { type: "string", id: 1 },
      version: { type: "int64", id: 2 },
    },
  },
};

// protobufjs treats JSON-defined messages as proto3 unless told otherwise,
// which would drop explicitly set zeros and empty strings (an int attribute
// of 0, the default opset domain ""); onnx.proto is proto2.
const schema = {
  nested: {
    onnx: {
      nested: Object.fromEntries(
        Object.entries(messages).map((
          [name, message],
        ) => [name, { edition: "proto2", ...message }]),
      ),
    },
  },
};

const root = protobuf.Root.fromJSON(schema);
const modelType = root.lookupType("onnx.ModelProto");

/** Serializes a model to the bytes of an `.onnx` file. */
export function encodeModel(model: ModelProto): Uint8Array {
  const problem = modelType.verify(model);
  if (problem) throw new Error(`Invalid ONNX model object: ${problem}`);
  return modelType.encode(model).finish();
}

/**
 * Parses the bytes of an `.onnx` file. Int64 fields come back as numbers,
 * bytes as `Uint8Array`, and absent repeated fields as empty arrays.
 */
export function decodeModel(bytes: Uint8Array): ModelProto {
  const message = modelType.decode(bytes);
  return modelType.toObject(message, {
    longs: Number,
    arrays: true,
    oneofs: false,
  }) as ModelProto;
}
