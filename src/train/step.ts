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
import type { Batch } from "./tasks.ts";

/** What a step works on. */
export interface StepContext {
  /** Mean loss of a batch as a function of the parameters. */
  loss(params: Params, batch: Batch, drop: DropoutPlan): tf.Scalar;
  params: Params;
  optimizer: Optimizer;
  sparse: SparseWeights;
  /** Global gradient-norm clip (0 = off). */
  clipNorm: number;
  /** Feed dense gradients to the optimizer, so momentum is dense (SNFS). */
  denseMomentum: boolean;
}

/**
 * Loss and gradients of `batch`, the gradients of masked weights zeroed
 * (unless momentum must stay dense), clipping of the gradients the
 * optimizer will apply, the optimizer update, and the masks re-applied so
 * masked weights stay exactly zero. Returns the loss and, when
 * `keepGradients` is set, the dense gradients, which the caller disposes
 * (RigL grows by their magnitude).
 */
export async function trainStep(
  ctx: StepContext,
  batch: Batch,
  drop: DropoutPlan,
  lr: number,
  keepGradients: boolean,
): Promise<{ loss: number; gradients?: Record<string, tf.Tensor> }> {
  const { value, grads } = tf.variableGrads(() => ctx.loss(ctx.params, batch, drop));
  // The norm is that of the update the optimizer applies, as on the sparse engine.
  const applied = ctx.denseMomentum ? grads : ctx.sparse.maskGradients(grads);
  const clipped = clipByGlobalNorm(applied, ctx.clipNorm);
  tf.tidy(() => ctx.optimizer.apply(ctx.params, clipped, lr));
  ctx.sparse.applyMasks(ctx.params);
  const loss = (await value.data())[0];
  const kept = new Set(keepGradients ? Object.values(grads) : []);
  tf.dispose(
    [value, ...Object.values(grads), ...Object.values(applied), ...Object.values(clipped)]
      .filter((t) => !kept.has(t)),
  );
  return { loss, gradients: keepGradients ? grads : undefined };
}
