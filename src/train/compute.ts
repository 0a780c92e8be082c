/**
 * What the training loop needs of a compute path, and how to pick one.
 *
 * - `sparse` (the CPU default): the engine in ../engine, which stores and
 *   computes only the nonzeros of each sparse matrix.
 * - `masked`: tfjs on dense tensors, `W ⊙ M` (./compute_masked.ts); the
 *   reference, and the path for the webgpu backend.
 *
 * Both start from and return the same plain data (weights, masks, optimizer
 * slots in the spec layout), so a checkpoint written by one resumes on the
 * other, and both draw the same dropout masks, so their losses agree.
 *
 * @module
 */

import { countActive } from "../core/mask.ts";
import type { TopologyReport } from "../core/topology.ts";
import { createKernels } from "../engine/mod.ts";
import { EnginePool } from "../engine/pool.ts";
import type { ModelConfig } from "../spec/config.ts";
import type { HostParams } from "../spec/params.ts";
import type { DropoutPlan } from "../model/language_model.ts";
import type { UpdateOptions } from "./sparse_weights.ts";
import type { Batch, EvalTotals, Task } from "./tasks.ts";
import type { OptimizerConfig } from "../spec/optimizer.ts";

/** The compute paths. */
export const COMPUTE_MODES = ["sparse", "masked"] as const;
/** A compute path's name. */
export type ComputeMode = typeof COMPUTE_MODES[number];

/** What a compute path starts from. */
export interface ComputeInit {
  task: Task;
  model: ModelConfig;
  params: HostParams;
  masks: Map<string, Uint8Array>;
  optimizer: OptimizerConfig;
  /** Saved optimizer slots (`slot/param`) and steps, when resuming. */
  optimizerState?: { slots: HostParams; steps: number };
  /** Dense gradients feed the optimizer, so momentum is dense (SNFS). */
  denseMomentum: boolean;
  /** Global gradient-norm clip (0 = off). */
  clipNorm: number;
  /** Threads of the sparse path (the batch's sequences are split between them). */
  threads: number;
}

/** One compute path holding a model's training state. */
export interface Compute {
  /**
   * One optimizer step: returns the mean loss of `batch`. With
   * `keepDenseGradients`, the dense gradients of the sparse matrices are
   * kept for the next topology update (gradient growth).
   */
  step(batch: Batch, drop: DropoutPlan, lr: number, keepDenseGradients: boolean): Promise<number>;
  /** Metrics on a held-out split. */
  evaluate(split: "valid" | "test"): Promise<Record<string, number>>;
  /** What an evaluation of a held-out split adds up, the confusion matrix included. */
  evaluateTotals(split: "valid" | "test"): Promise<EvalTotals>;
  /** One prune-and-regrow update of every sparse parameter. */
  updateTopology(options: UpdateOptions): Promise<TopologyReport>;
  /** Prunes to `sparsity` by magnitude without regrowth (gmp); returns connections removed. */
  pruneToSparsity(sparsity: number): Promise<number>;
  /** Masks of the sparse parameters, spec layout. */
  readonly masks: Map<string, Uint8Array>;
  /** Optimizer steps taken so far. */
  readonly optimizerSteps: number;
  /** Weights and optimizer slots as plain data, for checkpoints. */
  snapshot(): Promise<{ params: HostParams; slots: HostParams }>;
  dispose(): void;
}

/** Active connections and entries over all sparse parameters together. */
export function connections(
  masks: ReadonlyMap<string, Uint8Array>,
): { active: number; size: number } {
  let active = 0, size = 0;
  for (const mask of masks.values()) active += countActive(mask), size += mask.length;
  return { active, size };
}

/** The compute path `mode` holding a model's training state. */
export async function createCompute(mode: ComputeMode, init: ComputeInit): Promise<Compute> {
  if (mode === "masked") {
    const { MaskedCompute } = await import("./compute_masked.ts");
    return new MaskedCompute(init);
  }
  const { SparseCompute } = await import("./compute_sparse.ts");
  const kernels = await createKernels();
  return SparseCompute.start(kernels, await EnginePool.start(kernels, init.threads), init);
}
