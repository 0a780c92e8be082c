/**
 * The two training tasks as plain data, each as the few things the training
 * loop needs: its model configuration, the batches of an epoch, the batches
 * of an evaluation and the metrics they give. How a batch is computed is the
 * compute path's business (./compute.ts); the loop knows neither task.
 *
 * @module
 */

import { join } from "node:path";
import { Rng } from "../core/rng.ts";
import {
  batchCount,
  type ClassificationBatch,
  classificationBatches,
  type ClassificationData,
  describeClassificationData,
  holdOut,
  readClassificationData,
} from "../data/classification.ts";
import { exists } from "../data/files.ts";
import { readImdb } from "../data/imdb.ts";
import {
  type Batchified,
  batchify,
  bpttWindows,
  type LanguageModelData,
  readLanguageModelData,
  windowCount,
} from "../data/lm.ts";
import type { ClassifierConfig, LanguageModelConfig, ModelConfig } from "../spec/config.ts";
import type { TrainConfig } from "./config.ts";
import { classificationMetrics, type Confusion } from "../core/metrics.ts";

/** One batch of either task: time-major `[T, B]` inputs. */
export interface Batch {
  tokens: Int32Array;
  T: number;
  B: number;
  /** Next-token targets `[T·B]` (LM) or class ids `[B]` (classifier). */
  targets: Int32Array;
  /** Real tokens per sequence (classifier). */
  lengths?: Int32Array;
  /** The first window of a pass over the LM streams: start from the zero state. */
  reset?: boolean;
}

/** What an evaluation adds up over its batches. */
export interface EvalTotals {
  /** Summed loss (nats) over all predictions. */
  nats: number;
  /** Predictions: tokens (LM) or sequences (classifier). */
  count: number;
  /** Correct argmax predictions (classifier). */
  correct: number;
  /** Counts of (true label, argmax prediction) pairs (classifier). */
  confusion?: Confusion;
}

/** What the training loop needs to know about a task. */
export interface Task {
  model: ModelConfig;
  vocab: string[];
  labels?: string[];
  tokenizer?: Record<string, unknown>;
  /** Lines describing the data (sizes, classes and their counts, anything the reader noted). */
  summary: string[];
  stepsPerEpoch: number;
  /**
   * The batches of one epoch, in training order. An LM carries its state
   * from one window to the next, from the zero state at `reset`.
   */
  batches(rng: Rng): Iterable<Batch>;
  /** The batches of a held-out split in order (none when the data has no such split). */
  evalBatches(split: "valid" | "test"): Iterable<Batch>;
  /** Metrics from an evaluation's totals, e.g. `{ valid_ppl }` or `{ valid_acc, valid_loss }`. */
  metrics(split: "valid" | "test", totals: EvalTotals): Record<string, number>;
}

/** Builds the task a config asks for, reading its data. */
export async function loadTask(config: TrainConfig): Promise<Task> {
  if (config.task === "lm") {
    const vocab = config.maxVocab > 0 ? { maxSize: config.maxVocab } : {};
    return languageModelTask(config, await readLanguageModelData(config.data, vocab));
  }
  const options = {
    maxLength: config.maxLength,
    ...(config.maxVocab > 0 ? { maxVocab: config.maxVocab } : {}),
  };
  // IMDB as distributed (aclImdb_v1.tar.gz or its aclImdb/ folder); anything else is label<TAB>text.
  const isImdb = /aclImdb/.test(config.data) ||
    await exists(join(config.data, "aclImdb")) ||
    await exists(join(config.data, "aclImdb_v1.tar.gz"));
  const data = isImdb
    ? await readImdb(config.data, options)
    : await readClassificationData(config.data, options);
  return classifierTask(config, data);
}

/** Word-level language modelling with truncated BPTT; state flows across windows. */
export function languageModelTask(config: TrainConfig, data: LanguageModelData): Task {
  const model: LanguageModelConfig = {
    kind: "lm",
    vocabSize: data.vocab.size,
    ...config.model,
  };
  const train = batchify(data.train, config.batchSize, "the training split");
  const windows = function* (streams: Batchified): Iterable<Batch> {
    for (const w of bpttWindows(streams, config.bptt)) {
      yield { tokens: w.input, targets: w.target, T: w.T, B: w.B, reset: w.offset === 0 };
    }
  };
  return {
    model,
    vocab: [...data.vocab.tokens],
    summary: [
      `${config.data}: ${data.train.length} training tokens, vocabulary ${data.vocab.size}`,
    ],
    stepsPerEpoch: windowCount(train, config.bptt),
    batches: () => windows(train),
    evalBatches(split) {
      const tokens = split === "valid" ? data.valid : data.test;
      if (!tokens) return [];
      const evalBatch = Math.max(1, Math.min(10, Math.floor(tokens.length / 2)));
      return windows(batchify(tokens, evalBatch, `the ${split} split`));
    },
    metrics: (split, totals) =>
      totals.count > 0 ? { [`${split}_ppl`]: Math.exp(totals.nats / totals.count) } : {},
  };
}

/** Text classification from each sequence's final LSTM state. */
export function classifierTask(config: TrainConfig, data: ClassificationData): Task {
  // Without a validation split (IMDB has none), hold 5% of train out, never the test set.
  const { kept: train, heldOut: valid } = data.valid
    ? { kept: data.train, heldOut: data.valid }
    : holdOut(data.train, 0.05, new Rng(config.seed));
  const model: ClassifierConfig = {
    kind: "classifier",
    vocabSize: data.vocab.size,
    numClasses: data.labels.length,
    ...config.model,
  };
  const toBatch = (b: ClassificationBatch): Batch => ({
    tokens: b.tokens,
    T: b.T,
    B: b.B,
    targets: b.labels,
    lengths: b.lengths,
  });
  return {
    model,
    vocab: [...data.vocab.tokens],
    labels: data.labels,
    tokenizer: { ...data.text, maxLength: data.maxLength },
    summary: [describeClassificationData(data), ...data.notes],
    stepsPerEpoch: batchCount(train, config.batchSize),
    *batches(rng) {
      for (const b of classificationBatches(train, config.batchSize, rng)) yield toBatch(b);
    },
    *evalBatches(split) {
      for (const b of classificationBatches(split === "valid" ? valid : data.test, 64)) {
        yield toBatch(b);
      }
    },
    metrics: (split, totals) => ({
      [`${split}_acc`]: totals.correct / totals.count,
      [`${split}_loss`]: totals.nats / totals.count,
      ...(totals.confusion
        ? { [`${split}_macro_f1`]: classificationMetrics(totals.confusion, data.labels).macroF1 }
        : {}),
    }),
  };
}
