/**
 * A Recurrent Highway Network layer (Zilly et al. 2017) as a function of
 * tensors (tfjs), the masked compute path's RHN. Layout and equations:
 * ../spec/config.ts and ../spec/rhn_reference.ts. The step-by-step graph is
 * differentiated by tfjs autodiff; this path is the reference the CPU engine
 * is held to, not the fast one.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { LstmState } from "./lstm.ts";

/** The parameters of one RHN layer. */
export interface RhnWeights {
  /** `[inputSize, 2H]`, into micro-layer 0. */
  W: tf.Tensor2D;
  /** Per micro-layer, `[H, 2H]`. */
  R: tf.Tensor2D[];
  /** Per micro-layer, `[2H]`. */
  b: tf.Tensor1D[];
}

/**
 * Runs one RHN layer over `[T, B, inputSize]` inputs. The state rides in
 * `h` (the RHN has no cell state; `c` is passed through as zeros).
 * `stepMasks` (per step `[B, 1]`, 1 for a real token) keep the state
 * through padding, as in the engine: in every micro-layer. `hiddenMask`
 * (`[B, H]`, variational hidden dropout) multiplies the state entering each
 * micro-layer's recurrent product.
 */
export function rhnLayer(
  inputs: tf.Tensor3D,
  weights: RhnWeights,
  initial: LstmState,
  stepMasks?: tf.Tensor2D[],
  hiddenMask?: tf.Tensor2D,
): { outputs: tf.Tensor3D; final: LstmState } {
  const [T, B, inputSize] = inputs.shape;
  const H = weights.R[0].shape[0];
  const projected = tf.unstack(
    tf.reshape(tf.matMul(tf.reshape(inputs, [T * B, inputSize]), weights.W), [T, B, 2 * H]),
  ) as tf.Tensor2D[];
  let s = initial.h;
  const outputs: tf.Tensor2D[] = [];
  for (let t = 0; t < T; t++) {
    for (let k = 0; k < weights.R.length; k++) {
      const sIn = hiddenMask ? tf.mul(s, hiddenMask) : s;
      let z: tf.Tensor2D = tf.add(tf.matMul(sIn, weights.R[k]), weights.b[k]);
      if (k === 0) z = tf.add(z, projected[t]);
      const [zh, zt] = tf.split(z, 2, 1) as tf.Tensor2D[];
      const h = tf.tanh(zh), g = tf.sigmoid(zt);
      let next: tf.Tensor2D = tf.add(tf.mul(h, g), tf.mul(s, tf.sub(1, g)));
      if (stepMasks) next = tf.add(s, tf.mul(stepMasks[t], tf.sub(next, s)));
      s = next;
    }
    outputs.push(s);
  }
  return {
    outputs: tf.stack(outputs) as tf.Tensor3D,
    final: { h: s, c: tf.zerosLike(s) },
  };
}
