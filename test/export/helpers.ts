/**
 * Shared fixtures of the export tests: random weights of a given density,
 * in-memory checkpoints, and a max-abs difference.
 *
 * @module
 */

import {
  type ClassifierConfig,
  type LanguageModelConfig,
  type ModelConfig,
  paramSpecs,
  sizeOf,
} from "../../src/spec/config.ts";
import type { HostParams } from "../../src/spec/params.ts";
import {
  type Checkpoint,
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
} from "../../src/spec/checkpoint.ts";
import { Rng } from "../../src/core/rng.ts";

/** Random weights where each entry is nonzero with probability `density`. */
export function randomWeights(
  config: ModelConfig,
  density: number,
  seed: number,
  scale = 0.8,
): HostParams {
  const rng = new Rng(seed);
  const weights: HostParams = {};
  for (const spec of paramSpecs(config)) {
    const data = new Float32Array(sizeOf(spec.shape));
    for (let i = 0; i < data.length; i++) {
      if (rng.next() < density) data[i] = rng.normal() * scale;
    }
    weights[spec.name] = { shape: spec.shape, data };
  }
  return weights;
}

export { maxAbsDiff } from "../helpers.ts";

/** A tiny two-layer language model for graph tests. */
export const TINY_LM: LanguageModelConfig = {
  kind: "lm",
  cell: "lstm",
  vocabSize: 13,
  embedSize: 5,
  hiddenSize: 7,
  layers: 2,
  dropout: 0,
};

/** A tiny classifier for graph tests, with `layers` LSTM layers. */
export function tinyClassifier(layers = 1): ClassifierConfig {
  return {
    kind: "classifier",
    cell: "lstm",
    vocabSize: 13,
    embedSize: 5,
    hiddenSize: 7,
    layers,
    numClasses: 3,
    dropout: 0,
  };
}

/** A checkpoint in memory, as training would leave it after one epoch. */
export function checkpointOf(config: ModelConfig, weights: HostParams): Checkpoint {
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
        prunedFractionSum: 0,
        history: [{ loss: 1 }],
        done: true,
      },
    },
    params: weights,
    masks: {},
    optimizer: {},
  };
}
