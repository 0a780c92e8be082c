/**
 * A Recurrent Highway Network layer (Zilly et al. 2017) as a function of
 * tensors (tfjs), the masked compute path's RHN. Layout and equations:
 * ../spec/config.ts and ../spec/rhn_reference.ts. The step-by-step graph is
 * differentiated by tfjs autodiff; this path is the reference the CPU engine
 * is held to, not the fast one. On webgpu the fused WGSL recurrence
 * (./fused_webgpu.ts) replaces it, with one dispatch per micro-layer per step.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { type LstmState, projectInputs, stepSlices } from "./lstm.ts";
import { fusedRecurrence, fusedRecurrenceActive, RHN_CELL } from "./fused_webgpu.ts";

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
  const T = inputs.shape[0];
  // Micro-layer 0 alone sees the input; every micro-layer has its own bias.
  const xW = projectInputs(inputs, weights.W);
  if (T > 0 && fusedRecurrenceActive()) {
    return fusedRhn(xW, weights, initial, stepMasks, hiddenMask);
  }
  const projected = stepSlices(xW);
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

/**
 * The RHN on the fused recurrence: each micro-layer is a micro-step with its
 * own R, whose input term is its bias (plus x·W for micro-layer 0).
 */
function fusedRhn(
  xW: tf.Tensor3D,
  weights: RhnWeights,
  initial: LstmState,
  stepMasks?: tf.Tensor2D[],
  hiddenMask?: tf.Tensor2D,
): { outputs: tf.Tensor3D; final: LstmState } {
  const [T, B, GH] = xW.shape;
  const H = GH / 2, depth = weights.R.length;
  let input: tf.Tensor = tf.reshape(xW, [T, 1, B, GH]);
  if (depth > 1) input = tf.concat([input, tf.zeros([T, depth - 1, B, GH])], 1);
  const P = tf.reshape(
    tf.add(input, tf.reshape(tf.stack(weights.b), [1, depth, 1, GH])),
    [T * depth, B, GH],
  );
  const run = fusedRecurrence(RHN_CELL, stepMasks, { depth, hiddenMask });
  // The RHN's c means nothing; a fresh zero tensor stands in for it.
  const packed = run(P, tf.stack(weights.R), initial.h, tf.zerosLike(initial.h));
  const [micro, h] = tf.split(packed, [T * depth, 1, 1], 0);
  // Each time step's output is its last micro-layer's state.
  const outputs = tf.slice(tf.reshape(micro, [T, depth, B, H]), [0, depth - 1, 0, 0], [
    T,
    1,
    B,
    H,
  ]);
  const s = tf.reshape(h, [B, H]) as tf.Tensor2D;
  return {
    outputs: tf.reshape(outputs, [T, B, H]) as tf.Tensor3D,
    final: { h: s, c: tf.zerosLike(s) },
  };
}
