/**
 * One optimizer step, the inner body of the training loop.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { DropoutPlan } from "../model/language_model.ts";
import type { Params } from "../model/params.ts";
import { clipByGlobalNorm, type Optimizer } from "./optimizer.ts";
import type { SparseWeights } from "./sparse_weights.ts";
import type { Batch, Task } from "./tasks.ts";

/** What a step works on. */
export interface StepContext {
  task: Task;
  params: Params;
  optimizer: Optimizer;
  sparse: SparseWeights;
  /** Global gradient-norm clip (0 = off). */
  clipNorm: number;
  /** Feed dense gradients to the optimizer, so momentum is dense (SNFS). */
  denseMomentum: boolean;
}

/**
 * Loss and gradients of `batch`, clipping, the optimizer update (with the
 * gradients of masked weights zeroed unless momentum must stay dense), and
 * the masks re-applied so masked weights stay exactly zero. Returns the loss
 * and, when `keepGradients` is set, the clipped dense gradients, which the
 * caller disposes (RigL grows by them).
 */
export async function trainStep(
  ctx: StepContext,
  batch: Batch,
  drop: DropoutPlan,
  lr: number,
  keepGradients: boolean,
): Promise<{ loss: number; gradients?: Record<string, tf.Tensor> }> {
  const { value, grads } = tf.variableGrads(() => ctx.task.loss(ctx.params, batch, drop));
  const clipped = clipByGlobalNorm(grads, ctx.clipNorm);
  tf.tidy(() => {
    const update = ctx.denseMomentum ? clipped : ctx.sparse.maskGradients(clipped);
    ctx.optimizer.apply(ctx.params, update, lr);
  });
  ctx.sparse.applyMasks(ctx.params);
  const loss = (await value.data())[0];
  const kept = new Set(keepGradients ? Object.values(clipped) : []);
  tf.dispose(
    [value, ...Object.values(grads), ...Object.values(clipped)].filter((t) => !kept.has(t)),
  );
  return { loss, gradients: keepGradients ? clipped : undefined };
}
