/**
 * The stacked-LSTM (or GRU or RHN) language model as a function of its parameters:
 * embedding → dropout → LSTM layers (dropout between) → dropout → decoder.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { dropoutMask } from "../core/dropout.ts";
import { sequenceMask, variationalSeed, wordMask } from "../core/variational_dropout.ts";
import type { LanguageModelConfig } from "../spec/config.ts";
import { recurrentLayer } from "./cell.ts";
import type { LstmState } from "./lstm.ts";
import type { Params } from "./params.ts";

/** Dropout for one training step; `undefined` at evaluation. */
export interface DropoutPlan {
  rate: number;
  /** Seed of this step's dropout masks, drawn from the run's Rng. */
  seed: number;
}

/** Zero state for every layer. */
export function zeroState(
  config: { layers: number; hiddenSize: number },
  batch: number,
): LstmState[] {
  return Array.from({ length: config.layers }, () => ({
    h: tf.zeros([batch, config.hiddenSize]) as tf.Tensor2D,
    c: tf.zeros([batch, config.hiddenSize]) as tf.Tensor2D,
  }));
}

/**
 * Inverted dropout on `[..., F]` activations with the mask of
 * ../core/dropout.ts, so the CPU engine drops the same units. `salt` tells
 * apart the dropout sites of one step.
 */
export function dropout(x: tf.Tensor, plan: DropoutPlan | undefined, salt: number): tf.Tensor {
  if (!plan || plan.rate === 0) return x;
  const features = x.shape[x.shape.length - 1]!;
  const mask = dropoutMask(plan.seed + salt, plan.rate, x.size / features, features);
  return tf.mul(x, tf.tensor(mask, x.shape));
}

/** Gathers embeddings for time-major `[T, B]` token ids: `[T, B, E]`. */
export function embed(params: Params, tokens: tf.Tensor2D): tf.Tensor3D {
  const [T, B] = tokens.shape;
  const rows = tf.gather(params["embedding"], tf.reshape(tokens, [T * B]));
  return tf.reshape(rows, [T, B, params["embedding"].shape[1]!]);
}

/**
 * Logits `[T·B, V]` for time-major `[T, B]` int32 tokens, and the final state
 * of every layer (carry it into the next BPTT window).
 */
export function languageModelForward(
  config: LanguageModelConfig,
  params: Params,
  tokens: tf.Tensor2D,
  state: LstmState[],
  drop?: DropoutPlan,
): { logits: tf.Tensor2D; state: LstmState[] } {
  const [T, B] = tokens.shape;
  const v = drop ? config.variational : undefined;
  // A per-sequence [B, F] mask, broadcast over the steps of [T, B, F] activations.
  const perSequence = (site: "input" | "hidden" | "output", l: number, rate: number, F: number) =>
    tf.tensor2d(sequenceMask(variationalSeed(drop!.seed, site, l), rate, B, F), [B, F]);
  let x = dropout(embed(params, tokens), drop, 0) as tf.Tensor3D;
  if (v && v.embedding > 0) {
    const seed = variationalSeed(drop!.seed, "embedding");
    const scales = wordMask(seed, v.embedding, tokens.dataSync(), B, config.vocabSize);
    x = tf.mul(x, tf.tensor3d(scales, [T, B, 1]));
  }
  const finals: LstmState[] = [];
  for (let l = 0; l < config.layers; l++) {
    if (v && v.input > 0) x = tf.mul(x, perSequence("input", l, v.input, x.shape[2]));
    const hiddenMask = v && v.hidden > 0 && config.cell === "rhn"
      ? perSequence("hidden", l, v.hidden, config.hiddenSize)
      : undefined;
    const layer = recurrentLayer(config, params, l, x, state[l], undefined, hiddenMask);
    finals.push(layer.final);
    x = dropout(layer.outputs, drop, l + 1) as tf.Tensor3D;
    if (v && v.output > 0) x = tf.mul(x, perSequence("output", l, v.output, config.hiddenSize));
  }
  const flat = tf.reshape(x, [T * B, config.hiddenSize]);
  // A tied decoder is the embedding's transpose.
  const product = config.tieWeights
    ? tf.matMul(flat, params["embedding"], false, true)
    : tf.matMul(flat, params["decoder.W"]);
  const logits = tf.add(product, params["decoder.b"]);
  return { logits: logits as tf.Tensor2D, state: finals };
}

/** Mean cross-entropy (nats) of `[N, C]` logits against `[N]` int32 targets. */
export function crossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Scalar {
  const logProbs = tf.logSoftmax(logits);
  const picked = tf.mul(logProbs, tf.oneHot(targets, logits.shape[1]));
  return tf.neg(tf.div(tf.sum(picked), logits.shape[0])) as tf.Scalar;
}
