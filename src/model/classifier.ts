/**
 * The LSTM (or GRU or RHN) text classifier as a function of its parameters:
 * embedding → dropout → recurrent layers over the real tokens of each
 * sequence → dropout on the last state → linear head.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { ClassifierConfig } from "../spec/config.ts";
import { dropout, type DropoutPlan, embed, zeroState } from "./language_model.ts";
import { recurrentLayer } from "./cell.ts";
import type { Params } from "./params.ts";

/**
 * Class logits `[B, C]` for time-major padded `[T, B]` int32 tokens, where
 * sequence b has `lengths[b]` real tokens.
 */
export function classifierForward(
  config: ClassifierConfig,
  params: Params,
  tokens: tf.Tensor2D,
  lengths: Int32Array,
  drop?: DropoutPlan,
): tf.Tensor2D {
  const [T, B] = tokens.shape;
  const stepMasks: tf.Tensor2D[] = [];
  for (let t = 0; t < T; t++) {
    const m = new Float32Array(B);
    for (let b = 0; b < B; b++) m[b] = t < lengths[b] ? 1 : 0;
    stepMasks.push(tf.tensor2d(m, [B, 1]));
  }
  let x = dropout(embed(params, tokens), drop, 0);
  let state = zeroState(config, B);
  for (let l = 0; l < config.layers; l++) {
    const layer = recurrentLayer(config, params, l, x as tf.Tensor3D, state[l], stepMasks);
    state = [...state.slice(0, l), layer.final, ...state.slice(l + 1)];
    x = layer.outputs;
  }
  const last = dropout(state[config.layers - 1].h, drop, 1);
  return tf.add(tf.matMul(last, params["decoder.W"]), params["decoder.b"]) as tf.Tensor2D;
}
