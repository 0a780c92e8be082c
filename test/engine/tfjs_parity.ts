/**
 * The engine's network against tfjs autodiff through the same equations,
 * shared by the cell tests (network_test.ts, rhn_test.ts): random
 * parameters, masks and batches, tfjs's loss and gradients, and the checks
 * that the engine's agree.
 *
 * @module
 */

import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initMasks } from "../../src/core/init.ts";
import { Rng } from "../../src/core/rng.ts";
import { classifierForward } from "../../src/model/classifier.ts";
import { crossEntropy, languageModelForward, zeroState } from "../../src/model/language_model.ts";
import { toVariables } from "../../src/model/params.ts";
import { type ModelConfig, paramSpecs } from "../../src/spec/config.ts";
import type { HostParams } from "../../src/spec/params.ts";
import { randomParams } from "../random_params.ts";
import type { Kernels } from "../../src/engine/kernels.ts";
import { type EngineBatch, Network } from "../../src/engine/network.ts";

/** How one test file draws its cases and how close the engine must come. */
export interface ParitySettings {
  /** Standard deviation of the random parameters. */
  scale: number;
  /** Sparsity of the random masks. */
  sparsity: number;
  /** Relative tolerance of each gradient entry (to the largest of its tensor). */
  tolerance: number;
}

/** Uniform masks of `sparsity`; `all` makes the embedding and decoder sparse too. */
export function sparseMasks(
  model: ModelConfig,
  rng: Rng,
  all: boolean,
  sparsity: number,
): Map<string, Uint8Array> {
  return initMasks(paramSpecs(model), {
    method: "uniform",
    target: { sparsity },
    sparseEmbedding: all,
    sparseDecoder: all,
  }, rng);
}

/** `params` with the entries that `masks` drop set to zero. */
export function masked(params: HostParams, masks: Map<string, Uint8Array>): HostParams {
  const out: HostParams = {};
  for (const [name, p] of Object.entries(params)) {
    const mask = masks.get(name);
    out[name] = { shape: p.shape, data: p.data.map((v, i) => (mask && !mask[i] ? 0 : v)) };
  }
  return out;
}

/** Random tokens and targets; a classifier's sequences have random lengths (the first is full). */
export function randomBatch(model: ModelConfig, T: number, B: number, rng: Rng): EngineBatch {
  const tokens = Int32Array.from({ length: T * B }, () => rng.int(model.vocabSize));
  if (model.kind === "lm") {
    const targets = Int32Array.from({ length: T * B }, () => rng.int(model.vocabSize));
    return { tokens, T, B, targets };
  }
  const lengths = Int32Array.from({ length: B }, (_, b) => (b === 0 ? T : 1 + rng.int(T)));
  const targets = Int32Array.from({ length: B }, () => rng.int(model.numClasses));
  return { tokens, T, B, targets, lengths };
}

/** Loss and dense gradients from tfjs autodiff; `h0` is an LM's initial state, `[H][B]` a layer. */
export function tfjsLossAndGradients(
  model: ModelConfig,
  params: HostParams,
  batch: EngineBatch,
  seed: number,
  h0?: Float32Array[],
): { loss: number; grads: Record<string, Float32Array> } {
  const vars = toVariables(params);
  try {
    const drop = { rate: model.dropout, seed };
    const { value, grads } = tf.variableGrads(() => {
      const tokens = tf.tensor2d(batch.tokens, [batch.T, batch.B], "int32");
      if (model.kind === "lm") {
        const state = zeroState(model, batch.B);
        if (h0) {
          // Engine state is [H][B]; tfjs state is [B, H].
          state.forEach((s, l) => {
            s.h = tf.transpose(tf.tensor2d(h0[l], [model.hiddenSize, batch.B])) as tf.Tensor2D;
          });
        }
        const { logits } = languageModelForward(model, vars, tokens, state, drop);
        return crossEntropy(logits, tf.tensor1d(batch.targets, "int32"));
      }
      const logits = classifierForward(model, vars, tokens, batch.lengths!, drop);
      return crossEntropy(logits, tf.tensor1d(batch.targets, "int32"));
    });
    const out: Record<string, Float32Array> = {};
    for (const [name, g] of Object.entries(grads)) out[name] = g.dataSync() as Float32Array;
    const loss = value.dataSync()[0];
    tf.dispose([value, ...Object.values(grads)]);
    return { loss, grads: out };
  } finally {
    tf.dispose(Object.values(vars));
  }
}

/**
 * Each `got[i]` within `tolerance` times the largest `|want|` (at least
 * 1e-3) of `want[i]`, or of 0 where `mask` drops entry i (a dropped entry
 * is not stored, so its gradient is zero).
 */
export function assertScaledClose(
  name: string,
  got: ArrayLike<number>,
  want: Float32Array,
  tolerance: number,
  mask?: Uint8Array,
): void {
  const scale = Math.max(1e-3, ...want.map(Math.abs));
  for (let i = 0; i < want.length; i++) {
    const target = mask && !mask[i] ? 0 : want[i];
    assert.ok(
      Math.abs(got[i] - target) <= tolerance * scale,
      `${name}[${i}]: engine ${got[i]}, tfjs ${target}`,
    );
  }
}

/**
 * One training pass of a random `steps × 3` batch (an LM starting from a
 * random carried state) on `kernels`: the engine's loss and every stored
 * gradient equal tfjs autodiff's. `dropSeed` seeds the dropout of both.
 */
export function checkAgainstTfjs(
  settings: ParitySettings,
  model: ModelConfig,
  kernels: Kernels,
  storeNonzerosOnly: boolean,
  seed: number,
  steps: number,
  dropSeed: number,
): Network {
  const rng = new Rng(seed);
  const masks = sparseMasks(model, rng, seed % 2 === 0, settings.sparsity);
  const params = masked(randomParams(model, rng, settings.scale), masks);
  const batch = randomBatch(model, steps, 3, rng);
  const network = new Network(kernels, model, { params, masks, storeNonzerosOnly });
  const state = network.zeroState(batch.B);
  // A nonzero carried state for the LM: the window continues a stream.
  const h0 = model.kind === "lm"
    ? state.h.map((h) => h.map(() => rng.uniform(-0.5, 0.5)))
    : undefined;
  if (h0) state.h.forEach((h, l) => h.set(h0[l]));
  const { nats, count } = network.run(batch, state, { rate: model.dropout, seed: dropSeed }, true);
  const expected = tfjsLossAndGradients(model, params, batch, dropSeed, h0);
  assert.ok(
    Math.abs(nats / count - expected.loss) <= 1e-5 * Math.abs(expected.loss),
    `loss: engine ${nats / count}, tfjs ${expected.loss}`,
  );
  for (const p of network.params) {
    const mask = storeNonzerosOnly ? masks.get(p.name) : undefined;
    assertScaledClose(
      p.name,
      network.hostValues(p, p.grad),
      expected.grads[p.name],
      settings.tolerance,
      mask,
    );
  }
  kernels.reset();
  return network;
}

/**
 * The dense gradients the engine computes for gradient growth (every masked
 * matrix, stored entries or not) after one pass of a random `4 × 2` batch,
 * and tfjs's for the same pass.
 */
export function denseGrowthGradients(
  settings: ParitySettings,
  model: ModelConfig,
  kernels: Kernels,
): {
  masks: Map<string, Uint8Array>;
  dense: Record<string, Float32Array>;
  expected: Record<string, Float32Array>;
} {
  const rng = new Rng(5);
  const masks = sparseMasks(model, rng, true, settings.sparsity);
  const params = masked(randomParams(model, rng, settings.scale), masks);
  const batch = randomBatch(model, 4, 2, rng);
  const network = new Network(kernels, model, { params, masks, storeNonzerosOnly: true });
  network.run(batch, network.zeroState(batch.B), { rate: model.dropout, seed: 9 }, true);
  const dense = network.denseGradients(masks.keys());
  const expected = tfjsLossAndGradients(model, params, batch, 9).grads;
  return { masks, dense, expected };
}
