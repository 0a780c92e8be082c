/**
 * Proof that a model's weight decoding happens once, at load: onnxruntime
 * writes the graph it will actually run (after constant folding), and no
 * node of it may compute only from constants. Were one left, it would
 * rebuild a weight on every call instead of once.
 *
 * @module
 */

import * as ort from "onnxruntime-node";
import { decodeModel, type GraphProto } from "./proto.ts";

/** What onnxruntime runs after optimizing a model at load. */
export interface OptimizedGraph {
  /** Op type of every top-level node, in order. */
  ops: string[];
  /** Nodes that still compute only from constants (`name (OpType)`). */
  unfolded: string[];
}

/** Nodes of `graph` whose every input is an initializer. */
function constantOnlyNodes(graph: GraphProto): string[] {
  const constants = new Set<string>([
    ...(graph.initializer ?? []).map((t) => t.name ?? ""),
    ...(graph.sparse_initializer ?? []).map((s) => s.values?.name ?? ""),
  ]);
  const unfolded: string[] = [];
  for (const node of graph.node ?? []) {
    const inputs = (node.input ?? []).filter((i) => i !== "");
    if (inputs.every((i) => constants.has(i))) {
      unfolded.push(`${node.name} (${node.op_type})`);
    }
  }
  return unfolded;
}

/**
 * Loads `model` in onnxruntime with constant folding on, saves the graph it
 * will run, and reports its nodes.
 */
export async function optimizedGraph(model: Uint8Array): Promise<OptimizedGraph> {
  const dir = await Deno.makeTempDir({ prefix: "sparrow-fold-" });
  const path = `${dir}/optimized.onnx`;
  try {
    const session = await ort.InferenceSession.create(model, {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      // "extended" folds constants like "all" does, without the
      // machine-specific layout rewrites that "all" warns about saving.
      graphOptimizationLevel: "extended",
      optimizedModelFilePath: path,
      logSeverityLevel: 3,
    });
    await session.release();
    const graph = decodeModel(await Deno.readFile(path)).graph ?? {};
    return {
      ops: (graph.node ?? []).map((n) => n.op_type ?? ""),
      unfolded: constantOnlyNodes(graph),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
