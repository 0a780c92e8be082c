import assert from "node:assert/strict";
import {
  floatAttr,
  floatsAttr,
  graphAttr,
  GraphBuilder,
  intAttr,
  intsAttr,
  irVersionForOpset,
  sparseTensorProto,
  stringAttr,
  stringsAttr,
  tensorAttr,
  tensorProto,
} from "../../../export/onnx/builder.ts";
import { AttributeType, DataType, decodeModel, encodeModel } from "../../../export/onnx/proto.ts";
import * as ort from "onnxruntime-node";

Deno.test("uniqueName hands out each name once", () => {
  const graph = new GraphBuilder("g");
  assert.equal(graph.uniqueName("x"), "x");
  assert.equal(graph.uniqueName("x"), "x_1");
  graph.addInput("y", DataType.FLOAT, [1]);
  assert.equal(graph.uniqueName("y"), "y_1");
  assert.equal(graph.uniqueName("x"), "x_2");
});

Deno.test("defining a value twice throws", () => {
  const graph = new GraphBuilder("g");
  graph.addInput("x", DataType.FLOAT, [1]);
  assert.throws(() => graph.addInitializer("x", new Float32Array(1), [1]), /x/);
  graph.addNode("Relu", ["x"], ["y"]);
  assert.throws(() => graph.addNode("Relu", ["x"], ["y"]), /y/);
  assert.throws(
    () => graph.addNode("Relu", ["x"], ["z"], {}, { name: "Relu" }),
    /Relu/,
  );
});

Deno.test("tensors are stored as little-endian raw bytes", () => {
  const f = tensorProto("f", new Float32Array([1.5]), [1]);
  assert.equal(f.data_type, DataType.FLOAT);
  assert.deepEqual(Array.from(f.raw_data!), [0, 0, 0xc0, 0x3f]);
  const i = tensorProto("i", new BigInt64Array([-2n]), [1, 1]);
  assert.equal(i.data_type, DataType.INT64);
  assert.deepEqual(Array.from(i.raw_data!), [0xfe, ...new Array(7).fill(0xff)]);
  const n = tensorProto("n", new Int32Array([258]), [1]);
  assert.equal(n.data_type, DataType.INT32);
  assert.deepEqual(Array.from(n.raw_data!), [2, 1, 0, 0]);
  assert.throws(() => tensorProto("bad", new Float32Array(3), [2, 2]), /bad/);
});

Deno.test("sparse tensors keep nonzeros with ascending linear indices", () => {
  const dense = new Float32Array([0, 3, 0, 0, -1, 0]);
  const sparse = sparseTensorProto("w", dense, [2, 3]);
  assert.equal(sparse.values!.name, "w");
  assert.deepEqual(sparse.values!.dims, [2]);
  assert.deepEqual(sparse.dims, [2, 3]);
  assert.deepEqual(
    Array.from(new Float32Array(sparse.values!.raw_data!.buffer)),
    [3, -1],
  );
  assert.equal(sparse.indices!.data_type, DataType.INT64);
  assert.deepEqual(
    Array.from(new BigInt64Array(sparse.indices!.raw_data!.buffer)),
    [1n, 4n],
  );
});

Deno.test("attributes carry their declared types", () => {
  const graph = new GraphBuilder("g");
  const body = new GraphBuilder("body").buildGraph();
  graph.addNode("Custom", [], 1, {
    a: intAttr(3),
    b: floatAttr(0.5),
    c: intsAttr([1, 2]),
    d: floatsAttr([0.25]),
    e: stringAttr("hi"),
    f: stringsAttr(["Sigmoid", "Tanh"]),
    g: tensorAttr(tensorProto("t", new Float32Array([1]), [1])),
    h: graphAttr(body),
  }, { domain: "example.custom" });
  const model = decodeModel(
    encodeModel(graph.build({ opsetVersion: 17, producerName: "t" })),
  );
  const node = model.graph!.node![0];
  assert.equal(node.domain, "example.custom");
  const byName = new Map(node.attribute!.map((a) => [a.name, a]));
  assert.equal(byName.get("a")!.type, AttributeType.INT);
  assert.equal(byName.get("a")!.i, 3);
  assert.equal(byName.get("b")!.type, AttributeType.FLOAT);
  assert.equal(byName.get("b")!.f, 0.5);
  assert.deepEqual(byName.get("c")!.ints, [1, 2]);
  assert.deepEqual(byName.get("d")!.floats, [0.25]);
  assert.equal(new TextDecoder().decode(byName.get("e")!.s), "hi");
  assert.deepEqual(
    byName.get("f")!.strings!.map((s) => new TextDecoder().decode(s)),
    ["Sigmoid", "Tanh"],
  );
  assert.equal(byName.get("g")!.type, AttributeType.TENSOR);
  assert.equal(byName.get("g")!.t!.name, "t");
  assert.equal(byName.get("h")!.type, AttributeType.GRAPH);
  assert.equal(byName.get("h")!.g!.name, "body");
  assert.equal(node.output!.length, 1);
});

Deno.test("build sets versions, producer, doc string and metadata", () => {
  const graph = new GraphBuilder("g");
  const model = decodeModel(encodeModel(graph.build({
    opsetVersion: 17,
    producerName: "sparrow",
    docString: "doc",
    metadata: { kind: "lm", note: "x" },
  })));
  assert.equal(model.ir_version, irVersionForOpset(17));
  assert.deepEqual(model.opset_import, [{ domain: "", version: 17 }]);
  assert.equal(model.producer_name, "sparrow");
  assert.equal(model.doc_string, "doc");
  assert.deepEqual(model.metadata_props, [
    { key: "kind", value: "lm" },
    { key: "note", value: "x" },
  ]);
});

Deno.test("IR versions grow with the opset", () => {
  const versions = [7, 9, 10, 11, 13, 17, 19, 21, 23].map(irVersionForOpset);
  for (let i = 1; i < versions.length; i++) {
    assert.ok(versions[i] >= versions[i - 1]);
  }
  assert.equal(irVersionForOpset(17), 8);
  assert.ok(irVersionForOpset(11) >= 6, "sparse initializers need IR 6");
});

Deno.test("a built graph with symbolic dims and a sparse initializer runs", async () => {
  // y = alpha * x @ W + b, with W sparse and the batch dimension symbolic.
  const graph = new GraphBuilder("gemm");
  const x = graph.addInput("x", DataType.FLOAT, ["batch", 3]);
  const W = graph.addSparseInitializer(
    "W",
    new Float32Array([1, 0, 0, 0, 0, 2]),
    [3, 2],
  );
  const b = graph.addInitializer("b", new Float32Array([0.5, -0.5]), [2]);
  graph.addNode("Gemm", [x, W, b], ["y"], { alpha: floatAttr(2) });
  graph.addOutput("y", DataType.FLOAT, ["batch", 2]);
  const bytes = encodeModel(
    graph.build({ opsetVersion: 17, producerName: "test" }),
  );
  const input = decodeModel(bytes).graph!.input![0];
  assert.deepEqual(input.type!.tensor_type!.shape!.dim, [
    { dim_param: "batch" },
    { dim_value: 3 },
  ]);
  const session = await ort.InferenceSession.create(bytes);
  const xs = new Float32Array([1, 2, 3, 4, 5, 6]);
  const { y } = await session.run({
    x: new ort.Tensor("float32", xs, [2, 3]),
  });
  const want = [0, 1].flatMap((r) => [
    2 * xs[r * 3] + 0.5,
    2 * 2 * xs[r * 3 + 2] - 0.5,
  ]);
  assert.deepEqual(Array.from(y.data as Float32Array), want);
  await session.release();
});

Deno.test("values declared without dims have no shape", () => {
  const graph = new GraphBuilder("body");
  graph.addInput("x", DataType.FLOAT);
  graph.addOutput("x", DataType.FLOAT, []);
  const built = graph.buildGraph();
  assert.equal(built.input![0].type!.tensor_type!.shape, undefined);
  assert.deepEqual(built.output![0].type!.tensor_type!.shape, { dim: [] });
});

Deno.test("narrow integer and float16 tensors keep their element types", () => {
  assert.equal(tensorProto("u8", new Uint8Array([1, 255]), [2]).data_type, DataType.UINT8);
  assert.deepEqual(Array.from(tensorProto("u8", new Uint8Array([1, 255]), [2]).raw_data!), [
    1,
    255,
  ]);
  const i8 = tensorProto("i8", new Int8Array([-1, 2]), [2]);
  assert.equal(i8.data_type, DataType.INT8);
  assert.deepEqual(Array.from(i8.raw_data!), [0xff, 2]);
  const u16 = tensorProto("u16", new Uint16Array([0x0102]), [1]);
  assert.equal(u16.data_type, DataType.UINT16);
  assert.deepEqual(Array.from(u16.raw_data!), [2, 1]);
  const half = tensorProto("f16", new Uint16Array([0x3c00]), [1], DataType.FLOAT16);
  assert.equal(half.data_type, DataType.FLOAT16);
  assert.deepEqual(Array.from(half.raw_data!), [0x00, 0x3c]);
  assert.throws(() => tensorProto("bad", new Float32Array(1), [1], DataType.FLOAT16), /bad/);
});

Deno.test("sparse tensors of int8 and float16 keep only nonzeros", () => {
  const codes = sparseTensorProto("q", new Int8Array([0, -3, 0, 4]), [4]);
  assert.equal(codes.values!.data_type, DataType.INT8);
  assert.deepEqual(Array.from(codes.values!.raw_data!), [0xfd, 4]);
  // 0x8000 is float16 -0: a zero, so it is left out.
  const half = sparseTensorProto("h", new Uint16Array([0x8000, 0x3c00, 0]), [3], DataType.FLOAT16);
  assert.equal(half.values!.data_type, DataType.FLOAT16);
  assert.deepEqual(Array.from(new BigInt64Array(half.indices!.raw_data!.slice().buffer)), [1n]);
});

Deno.test("extra operator sets are imported alongside the default one", () => {
  const model = decodeModel(encodeModel(new GraphBuilder("g").build({
    opsetVersion: 17,
    producerName: "t",
    extraOpsets: [{ domain: "com.microsoft", version: 1 }],
  })));
  assert.deepEqual(model.opset_import, [
    { domain: "", version: 17 },
    { domain: "com.microsoft", version: 1 },
  ]);
});
