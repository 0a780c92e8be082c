/**
 * An LSTM layer as a function of tensors (tfjs). Gate matrices are fused
 * column-wise in the order i, f, c, o; see ./config.ts for the layout.
 *
 * The input projection of all time steps is one large matMul, and the
 * sequence is split with `unstack`, whose gradient is a single `stack`:
 * slicing step by step would make the backward pass quadratic in T.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";

/** The three parameters of one LSTM layer. */
export interface LstmWeights {
  /** `[inputSize, 4H]` */
  W: tf.Tensor2D;
  /** `[H, 4H]` */
  R: tf.Tensor2D;
  /** `[4H]` */
  b: tf.Tensor1D;
}

/** Hidden and cell state, each `[B, H]`. */
export interface LstmState {
  h: tf.Tensor2D;
  c: tf.Tensor2D;
}

/** Runs one LSTM layer over `[T, B, inputSize]` inputs. */
export function lstmLayer(
  inputs: tf.Tensor3D,
  weights: LstmWeights,
  initial: LstmState,
  /**
   * Per step `[B, 1]` of 1 (a real token) or 0 (padding). A padded step
   * keeps the previous state, so the final state is the one after each
   * sequence's last real token.
   */
  stepMasks?: tf.Tensor2D[],
): { outputs: tf.Tensor3D; final: LstmState } {
  const [T, B, inputSize] = inputs.shape;
  const H = weights.R.shape[0];
  const projected = tf.add(
    tf.matMul(tf.reshape(inputs, [T * B, inputSize]), weights.W),
    weights.b,
  );
  const steps = tf.unstack(tf.reshape(projected, [T, B, 4 * H])) as tf.Tensor2D[];
  let { h, c } = initial;
  const outputs: tf.Tensor2D[] = [];
  for (let t = 0; t < T; t++) {
    const z = tf.add(steps[t], tf.matMul(h, weights.R));
    const [zi, zf, zc, zo] = tf.split(z, 4, 1);
    const nextC: tf.Tensor2D = tf.add(
      tf.mul(tf.sigmoid(zf), c),
      tf.mul(tf.sigmoid(zi), tf.tanh(zc)),
    );
    const nextH: tf.Tensor2D = tf.mul(tf.sigmoid(zo), tf.tanh(nextC));
    if (stepMasks) {
      const m = stepMasks[t];
      h = tf.add(h, tf.mul(m, tf.sub(nextH, h)));
      c = tf.add(c, tf.mul(m, tf.sub(nextC, c)));
    } else {
      h = nextH;
      c = nextC;
    }
    outputs.push(h);
  }
  return { outputs: tf.stack(outputs) as tf.Tensor3D, final: { h, c } };
}
