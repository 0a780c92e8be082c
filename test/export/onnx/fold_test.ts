import assert from "node:assert/strict";
import { GraphBuilder, intAttr } from "../../../export/onnx/builder.ts";
import { optimizedGraph } from "../../../export/onnx/fold.ts";
import { DataType, encodeModel } from "../../../export/onnx/proto.ts";

/** y = x + w, where w is decoded from constants by `decode`. */
function modelWith(decode: (graph: GraphBuilder) => string): Uint8Array {
  const graph = new GraphBuilder("g");
  graph.addInput("x", DataType.FLOAT, [4]);
  graph.addNode("Add", ["x", decode(graph)], ["y"]);
  graph.addOutput("y", DataType.FLOAT, [4]);
  return encodeModel(graph.build({ opsetVersion: 17, producerName: "test" }));
}

Deno.test("a constant decode is folded away at load", async () => {
  const bytes = modelWith((graph) => {
    graph.addInitializer("half", new Float32Array([1, 2, 3, 4]), [4]);
    graph.addInitializer("two", new Float32Array([2]), [1]);
    return graph.addNode("Mul", ["half", "two"], ["w"])[0];
  });
  const optimized = await optimizedGraph(bytes);
  assert.deepEqual(optimized.ops, ["Add"]);
  assert.deepEqual(optimized.unfolded, []);
});

Deno.test("a decode onnxruntime does not fold is reported", async () => {
  // NonZero's output shape depends on its values, so it is left to run on every call.
  const bytes = modelWith((graph) => {
    graph.addInitializer("mask", new Float32Array([0, 1, 0, 1]), [4]);
    const [where] = graph.addNode("NonZero", ["mask"], ["where"]);
    const [count] = graph.addNode("Size", [where], ["count"]);
    return graph.addNode("Cast", [count], ["w"], { to: intAttr(DataType.FLOAT) })[0];
  });
  const optimized = await optimizedGraph(bytes);
  assert.ok(optimized.ops.includes("NonZero"), optimized.ops.join(","));
  assert.ok(optimized.unfolded.some((n) => n.includes("NonZero")), optimized.unfolded.join(";"));
});
