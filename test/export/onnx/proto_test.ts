import assert from "node:assert/strict";
import {
  AttributeType,
  DataType,
  decodeModel,
  encodeModel,
  type ModelProto,
} from "../../../export/onnx/proto.ts";

function sampleModel(): ModelProto {
  return {
    ir_version: 8,
    opset_import: [{ domain: "", version: 17 }],
    producer_name: "test",
    doc_string: "round trip",
    metadata_props: [{ key: "kind", value: "lm" }],
    graph: {
      name: "g",
      input: [{
        name: "x",
        type: {
          tensor_type: {
            elem_type: DataType.FLOAT,
            shape: { dim: [{ dim_param: "batch" }, { dim_value: 4 }] },
          },
        },
      }],
      output: [{
        name: "y",
        type: { tensor_type: { elem_type: DataType.FLOAT } },
      }],
      initializer: [{
        name: "w",
        dims: [2, 2],
        data_type: DataType.FLOAT,
        raw_data: new Uint8Array(new Float32Array([1, -2, 3.5, 0]).buffer),
      }],
      sparse_initializer: [{
        values: {
          name: "s",
          dims: [1],
          data_type: DataType.FLOAT,
          raw_data: new Uint8Array(new Float32Array([7]).buffer),
        },
        indices: {
          name: "s.indices",
          dims: [1],
          data_type: DataType.INT64,
          raw_data: new Uint8Array(new BigInt64Array([3n]).buffer),
        },
        dims: [2, 2],
      }],
      node: [{
        name: "n",
        op_type: "Transpose",
        input: ["x"],
        output: ["y"],
        attribute: [
          { name: "perm", type: AttributeType.INTS, ints: [1, 0, -1] },
          { name: "alpha", type: AttributeType.FLOAT, f: 0.25 },
          { name: "axis", type: AttributeType.INT, i: -2 },
          {
            name: "mode",
            type: AttributeType.STRING,
            s: new TextEncoder().encode("linear"),
          },
        ],
      }],
    },
  };
}

Deno.test("a model survives an encode/decode round trip", () => {
  const model = sampleModel();
  const decoded = decodeModel(encodeModel(model));
  assert.equal(decoded.ir_version, 8);
  assert.deepEqual(decoded.opset_import, [{ domain: "", version: 17 }]);
  assert.deepEqual(decoded.metadata_props, [{ key: "kind", value: "lm" }]);
  const graph = decoded.graph!;
  assert.deepEqual(graph.input![0].type!.tensor_type!.shape!.dim, [
    { dim_param: "batch" },
    { dim_value: 4 },
  ]);
  const w = graph.initializer![0];
  assert.deepEqual(w.dims, [2, 2]);
  assert.deepEqual(
    Array.from(new Float32Array(Uint8Array.from(w.raw_data!).buffer)),
    [1, -2, 3.5, 0],
  );
  const sparse = graph.sparse_initializer![0];
  assert.equal(sparse.values!.name, "s");
  assert.deepEqual(sparse.dims, [2, 2]);
  const indices = new BigInt64Array(
    Uint8Array.from(sparse.indices!.raw_data!).buffer,
  );
  assert.deepEqual(Array.from(indices), [3n]);
  const attrs = graph.node![0].attribute!;
  assert.deepEqual(attrs[0].ints, [1, 0, -1]);
  assert.equal(attrs[1].f, 0.25);
  assert.equal(attrs[2].i, -2);
  assert.equal(new TextDecoder().decode(attrs[3].s), "linear");
  assert.equal(graph.node![0].op_type, "Transpose");
});

Deno.test("field numbers match onnx.proto on the wire", () => {
  // ir_version is field 1 (varint): tag 0x08.
  assert.deepEqual(Array.from(encodeModel({ ir_version: 8 })), [0x08, 8]);
  // producer_name is field 2 (length-delimited): tag 0x12.
  assert.deepEqual(Array.from(encodeModel({ producer_name: "a" })), [
    0x12,
    1,
    97,
  ]);
  // metadata_props is field 14: tag 0x72; its key is field 1, value field 2.
  assert.deepEqual(
    Array.from(encodeModel({ metadata_props: [{ key: "k", value: "v" }] })),
    [0x72, 6, 0x0a, 1, 107, 0x12, 1, 118],
  );
  // opset_import is field 8: tag 0x42; version is field 2 (varint).
  assert.deepEqual(
    Array.from(encodeModel({ opset_import: [{ version: 17 }] })),
    [0x42, 2, 0x10, 17],
  );
  // graph is field 7 (0x3a); sparse_initializer is graph field 15 (0x7a);
  // SparseTensorProto.dims is field 3, unpacked as in proto2 (0x18 each).
  assert.deepEqual(
    Array.from(
      encodeModel({ graph: { sparse_initializer: [{ dims: [2, 3] }] } }),
    ),
    [0x3a, 6, 0x7a, 4, 0x18, 2, 0x18, 3],
  );
  // TensorProto: dims 1, data_type 2, name 8, raw_data 9, as an initializer
  // (graph field 5, tag 0x2a).
  assert.deepEqual(
    Array.from(encodeModel({
      graph: {
        initializer: [{
          dims: [1],
          data_type: 1,
          name: "w",
          raw_data: new Uint8Array([9]),
        }],
      },
    })),
    [0x3a, 12, 0x2a, 10, 0x08, 1, 0x10, 1, 0x42, 1, 119, 0x4a, 1, 9],
  );
});

Deno.test("encoding rejects a malformed model object", () => {
  assert.throws(
    () => encodeModel({ ir_version: "eight" as unknown as number }),
    /ir_version/,
  );
});

Deno.test("decoding garbage fails", () => {
  assert.throws(() => decodeModel(new Uint8Array([0x0a, 0xff, 0xff, 0x01])));
});

Deno.test("explicit zeros and empty strings are written, as proto2 requires", () => {
  // An int attribute of 0 (field 3) and a float of 0 (field 2) inside a node
  // (field 5) inside the graph's node list (field 1).
  const bytes = encodeModel({
    graph: { node: [{ attribute: [{ i: 0, f: 0 }] }] },
  });
  assert.deepEqual(
    Array.from(bytes),
    [0x3a, 11, 0x0a, 9, 0x2a, 7, 0x15, 0, 0, 0, 0, 0x18, 0],
  );
  assert.deepEqual(Array.from(encodeModel({ producer_name: "" })), [0x12, 0]);
});
