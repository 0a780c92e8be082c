/**
 * sparrow: train sparse recurrent networks from scratch (ST-RNN, Liu et al.
 * 2021) and ship them as compact ONNX models for onnxruntime.
 *
 * Training, export and inference in a few lines:
 *
 * ```ts
 * import { DEFAULT_LM_CONFIG, exportBundle, openBundle, score, train } from "./mod.ts";
 *
 * const out = await Deno.makeTempDir();
 * const { metrics } = await train({
 *   ...DEFAULT_LM_CONFIG,
 *   data: "fixtures/tinylm",
 *   out: `${out}/checkpoint.sparrow`,
 *   model: { ...DEFAULT_LM_CONFIG.model, embedSize: 16, hiddenSize: 32, layers: 1, dropout: 0 },
 *   epochs: 1,
 *   maxSteps: 5,
 *   logEvery: 0,
 * }, () => {});
 * console.log(metrics.valid_ppl);
 *
 * await exportBundle(`${out}/checkpoint.sparrow`, `${out}/bundle`);
 * const bundle = await openBundle(`${out}/bundle`);
 * const { perplexity } = await score(bundle, "the fund in texas plans to add N jobs\n");
 * console.log(perplexity > 1);
 * await bundle.session.release();
 * ```
 *
 * The sparse-topology core runs on plain typed arrays, with no backend:
 *
 * ```ts
 * import { allocateNonzeros, magnitudePrune, noRedistribution, randomGrow, randomMask, Rng, updateTopology } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const rng = new Rng(1);
 * const [layer] = allocateNonzeros([{ name: "W", shape: [64, 256], gates: 4 }], { sparsity: 0.9 }, "uniform");
 * const mask = randomMask(layer.size, layer.nonzeros, rng);
 * const weights = Float32Array.from(mask, (m) => m * rng.normal());
 * updateTopology([{ name: "W", weights, mask }], {
 *   pruneRate: 0.3,
 *   prune: magnitudePrune,
 *   grow: randomGrow,
 *   redistribute: noRedistribution,
 *   rng,
 * });
 * assert.equal(mask.reduce((a, b) => a + b, 0), layer.nonzeros); // the count never changes
 * ```
 *
 * Training runs on the CPU engine's kernels, which compute only the stored
 * entries of a CSR matrix, with SIMD along the batch:
 *
 * ```ts
 * import { createKernels } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const k = await createKernels();
 * // W = [[1, 0], [0, 2], [3, 0]] maps 3 inputs to 2 outputs; CSR stores Wᵀ, a row per output.
 * const rowPtr = k.i32(3), colIdx = k.i32(3), values = k.f32(3);
 * rowPtr.set([0, 2, 3]), colIdx.set([0, 2, 1]), values.set([1, 3, 2]);
 * const W = { rows: 2, cols: 3, rowPtr, colIdx, values };
 * const x = k.f32(3 * 2), y = k.f32(2 * 2); // inputs and outputs, a row per feature, 2 columns
 * x.set([1, 10, 1, 10, 1, 10]);
 * k.csrForward(W, { data: x, ld: 2 }, { data: y, ld: 2 }, 2, false);
 * assert.deepEqual([...y], [4, 40, 2, 20]);
 * ```
 *
 * @module
 */

// The sparse-topology core: masks, allocation, prune/grow strategies, schedules, FLOPs.
export * from "./src/core/mod.ts";
// Data readers.
export * from "./src/data/mod.ts";
// Models and their configuration.
export * from "./src/spec/config.ts";
export type { HostParams, HostTensor } from "./src/spec/params.ts";
export { initParams } from "./src/core/init.ts";
// Training.
export { type BackendName, BACKENDS, useBackend } from "./src/backend/backend.ts";
export {
  DEFAULT_CLASSIFIER_CONFIG,
  DEFAULT_LM_CONFIG,
  DEFAULT_SPARSE,
  type SparseConfig,
  sparseConfigFor,
  type TrainConfig,
  validateConfig,
} from "./src/train/config.ts";
export { DEFAULT_OPTIMIZER, type OptimizerConfig } from "./src/spec/optimizer.ts";
export { type Log, train, type TrainOptions, type TrainResult } from "./src/train/train.ts";
export { COMPUTE_MODES, type ComputeMode } from "./src/train/compute.ts";
// The CPU training engine.
export {
  createKernels,
  createOracleKernels,
  type Csr,
  EngineTrainer,
  type Kernels,
  Network,
} from "./src/engine/mod.ts";
export { formatReport, type RunReport, runReport } from "./src/train/report.ts";
export { type Checkpoint, loadCheckpoint, saveCheckpoint } from "./src/spec/checkpoint.ts";
// Export and inference.
export { exportBundle, type ExportOptions } from "./export/bundle.ts";
export { chooseCheckpoint, type ChosenCheckpoint } from "./export/select.ts";
export { bestCheckpointPath, type BestEpoch } from "./src/spec/selection.ts";
export {
  type Bundle,
  type BundleMetadata,
  classify,
  generate,
  openBundle,
  score,
  streamStep,
} from "./src/infer/bundle.ts";
export { UserError } from "./src/spec/errors.ts";
