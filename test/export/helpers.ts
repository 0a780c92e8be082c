/**
 * Shared fixtures of the export tests: random weights of a given density,
 * in-memory checkpoints, and a max-abs difference.
 *
 * @module
 */

import { type ModelConfig, paramSpecs, sizeOf } from "../../src/model/config.ts";
import type { Weights } from "../../src/model/reference.ts";
import {
  type Checkpoint,
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
} from "../../src/train/checkpoint.ts";
import { Rng } from "../../src/core/rng.ts";

/** Random weights where each entry is nonzero with probability `density`. */
export function randomWeights(
  config: ModelConfig,
  density: number,
  seed: number,
  scale = 0.8,
): Weights {
  const rng = new Rng(seed);
  const weights: Weights = {};
  for (const spec of paramSpecs(config)) {
    const data = new Float32Array(sizeOf(spec.shape));
    for (let i = 0; i < data.length; i++) {
      if (rng.next() < density) data[i] = rng.normal() * scale;
    }
    weights[spec.name] = { shape: spec.shape, data };
  }
  return weights;
}

/** The largest |a[i] − b[i]|; Infinity when the lengths differ. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** A checkpoint in memory, as training would leave it after one epoch. */
export function checkpointOf(config: ModelConfig, weights: Weights): Checkpoint {
  const vocab = Array.from({ length: config.vocabSize }, (_, i) => i === 0 ? "<unk>" : `w${i}`);
  return {
    meta: {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      model: config,
      training: {},
      vocab,
      labels: config.kind === "classifier"
        ? Array.from({ length: config.numClasses }, (_, i) => `label${i}`)
        : undefined,
      progress: {
        epoch: 1,
        step: 10,
        rngState: 1,
        optimizerSteps: 10,
        tokens: 100,
        sequences: 10,
        topologyUpdates: 1,
        history: [{ loss: 1 }],
        done: true,
      },
    },
    params: weights,
    masks: {},
    optimizer: {},
  };
}
