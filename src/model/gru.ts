/**
 * A GRU layer as a function of tensors (tfjs). Gate matrices are fused
 * column-wise in the order z, r, n; the reset gate scales the candidate's
 * recurrent term `h·R_n + bR` (see ../spec/config.ts). The recurrence is
 * plain tfjs ops, differentiated by autodiff: the GRU runs on this path only
 * for `--compute masked`, where clarity matters more than speed; on webgpu
 * the fused WGSL recurrence (./fused_webgpu.ts) replaces it.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { type LstmState, projectInputs, stepSlices, unpackRecurrence } from "./lstm.ts";
import { fusedRecurrence, fusedRecurrenceActive, GRU_CELL } from "./fused_webgpu.ts";

/** The four parameters of one GRU layer. */
export interface GruWeights {
  /** `[inputSize, 3H]` */
  W: tf.Tensor2D;
  /** `[H, 3H]` */
  R: tf.Tensor2D;
  /** `[3H]` */
  b: tf.Tensor1D;
  /** `[H]`, the candidate's recurrent bias. */
  bR: tf.Tensor1D;
}

/**
 * Runs one GRU layer over `[T, B, inputSize]` inputs. The state has the
 * LSTM's shape so that both cells share the callers' code; a GRU passes `c`
 * through unchanged.
 */
export function gruLayer(
  inputs: tf.Tensor3D,
  weights: GruWeights,
  initial: LstmState,
  /** Per step `[B, 1]` of 1 (a real token) or 0 (padding: the state is kept). */
  stepMasks?: tf.Tensor2D[],
): { outputs: tf.Tensor3D; final: LstmState } {
  const [T, B] = inputs.shape;
  const H = weights.R.shape[0];
  const projected = projectInputs(inputs, weights.W, weights.b);
  if (T > 0 && fusedRecurrenceActive()) {
    // The fused kernel takes a recurrent bias for every gate; only n's is a parameter.
    const bR = tf.concat([tf.zeros([2 * H]), weights.bR]);
    const packed = fusedRecurrence(GRU_CELL, stepMasks)(
      projected,
      weights.R,
      initial.h,
      initial.c,
      bR,
    );
    // The final c is initial.c's values, but a new tensor: callers dispose the state they replace.
    return unpackRecurrence(packed, T, B, H);
  }
  const steps = stepSlices(projected);
  let h = initial.h;
  const outputs: tf.Tensor2D[] = [];
  for (let t = 0; t < T; t++) {
    const [xz, xr, xn] = tf.split(steps[t], 3, 1) as tf.Tensor2D[];
    const [az, ar, an] = tf.split(tf.matMul(h, weights.R), 3, 1) as tf.Tensor2D[];
    const z = tf.sigmoid(tf.add(xz, az));
    const r = tf.sigmoid(tf.add(xr, ar));
    const n = tf.tanh(tf.add(xn, tf.mul(r, tf.add(an, weights.bR))));
    let next: tf.Tensor2D = tf.add(n, tf.mul(z, tf.sub(h, n)));
    if (stepMasks) next = tf.add(h, tf.mul(stepMasks[t], tf.sub(next, h)));
    h = next;
    outputs.push(h);
  }
  const stacked = T > 0 ? tf.stack(outputs) : tf.zeros([0, B, H]);
  return { outputs: stacked as tf.Tensor3D, final: { h, c: initial.c } };
}
