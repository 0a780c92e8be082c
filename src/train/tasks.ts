/**
 * The two training tasks as plain data, each as the few things the training
 * loop needs: its model configuration, the batches of an epoch, the batches
 * of an evaluation and the metrics they give. How a batch is computed is the
 * compute path's business (./compute.ts); the loop knows neither task.
 *
 * @module
 */

import { Rng } from "../core/rng.ts";
import {
  batchCount,
  type ClassificationBatch,
  classificationBatches,
  type ClassificationData,
  type ClassificationSplit,
  holdOut,
} from "../data/classification.ts";
import { bitsPerCharacter, CHAR_TOKENIZER } from "../data/chars.ts";
import { loadClassificationInput, type Loaded, loadLanguageModelInput } from "../data/input.ts";
import {
  type DataSummary,
  formatSummary,
  summarizeClassification,
  summarizeLanguageModel,
} from "../data/summary.ts";
import {
  type Batchified,
  batchify,
  bpttWindows,
  type LanguageModelData,
  windowCount,
} from "../data/lm.ts";
import type { ClassifierConfig, LanguageModelConfig, ModelConfig } from "../spec/config.ts";
import { DEFAULT_LM_CONFIG, type TrainConfig } from "./config.ts";
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
  /** What the run read, kept in the checkpoint as `meta.data`. */
  data?: DataSummary;
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
  const { input } = config;
  if (config.task === "lm") {
    const vocab = config.maxVocab > 0 ? { maxSize: config.maxVocab } : {};
    return languageModelTask(config, await loadLanguageModelInput(config.data, input, vocab));
  }
  const options = {
    maxLength: config.maxLength,
    keep: config.keep,
    ...(config.maxVocab > 0 ? { maxVocab: config.maxVocab } : {}),
  };
  return classifierTask(
    config,
    await loadClassificationInput(config.data, input, options, config.seed),
  );
}

/** Word-level language modelling with truncated BPTT; state flows across windows. */
export function languageModelTask(
  config: TrainConfig,
  loaded: Loaded<LanguageModelData>,
): Task {
  const { data } = loaded;
  const unit = config.input.unit;
  const summary = summarizeLanguageModel(data, {
    unit,
    format: loaded.format,
    source: loaded.source,
    ...(loaded.split ? { split: loaded.split } : {}),
  });
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
  // n predictions need n + 1 tokens.
  const valid = config.evalMaxTokens > 0
    ? data.valid.subarray(0, config.evalMaxTokens + 1)
    : data.valid;
  return {
    model,
    vocab: [...data.vocab.tokens],
    ...(unit === "char" ? { tokenizer: { ...CHAR_TOKENIZER } } : {}),
    summary: [
      ...formatSummary(summary),
      ...(valid.length < data.valid.length
        ? [cappedNote(`the first ${valid.length - 1} of ${data.valid.length} tokens`)]
        : []),
    ],
    data: summary,
    stepsPerEpoch: windowCount(train, config.bptt),
    batches: () => windows(train),
    evalBatches(split) {
      const tokens = split === "valid" ? valid : data.test;
      if (!tokens) return [];
      const evalBatch = Math.max(1, Math.min(10, Math.floor(tokens.length / 2)));
      return windows(batchify(tokens, evalBatch, `the ${split} split`));
    },
    metrics: (split, totals) => {
      if (totals.count === 0) return {};
      const nats = totals.nats / totals.count;
      // Character models are compared in bits per character: ln(ppl) / ln 2.
      return {
        [`${split}_ppl`]: Math.exp(nats),
        ...(unit === "char" ? { [`${split}_bpc`]: bitsPerCharacter(nats) } : {}),
      };
    },
  };
}

/** Text classification from each sequence's final LSTM state. */
export function classifierTask(
  config: TrainConfig,
  loaded: Loaded<ClassificationData>,
): Task {
  const { data } = loaded;
  // Without a validation split (IMDB has none), hold part of train out, never the test set.
  const { kept: train, heldOut } = data.valid
    ? { kept: data.train, heldOut: data.valid }
    : holdOut(data.train, config.validFraction, new Rng(config.seed));
  const valid = sampleTexts(heldOut, config.evalMaxTokens);
  const summary = summarizeClassification(data, { train, valid: heldOut }, {
    format: loaded.format,
    split: loaded.split ?? (data.valid ? undefined : {
      kind: "held-out",
      fractions: [config.validFraction],
      seed: config.seed,
      stratified: false,
    }),
  });
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
    tokenizer: {
      ...data.text,
      maxLength: data.maxLength,
      ...(data.keep === "last" ? { keep: "last" } : {}),
    },
    summary: [
      ...formatSummary(summary),
      ...(data.valid && config.validFraction !== DEFAULT_VALID_FRACTION
        ? [`--valid-fraction ${config.validFraction} applies only to data without a valid split`]
        : []),
      ...(valid.texts.length < heldOut.texts.length
        ? [cappedNote(`the first ${valid.texts.length} of ${heldOut.texts.length} texts`)]
        : []),
    ],
    data: summary,
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

const DEFAULT_VALID_FRACTION = DEFAULT_LM_CONFIG.validFraction;

/** The log line of a validation split cut by `--eval-max-tokens`. */
function cappedNote(what: string): string {
  return `validation each epoch: ${what} (--eval-max-tokens); the test split is evaluated whole`;
}

/**
 * Texts of `split` holding at most `maxTokens` tokens together (at least one
 * text), in their order; all of them when `maxTokens` is 0. They are drawn
 * in a fixed random order, not taken from the front: a split stored class
 * by class (IMDB's) would otherwise be validated on one class only.
 */
export function sampleTexts(split: ClassificationSplit, maxTokens: number): ClassificationSplit {
  if (maxTokens <= 0) return split;
  const order = new Rng(0).shuffle(Int32Array.from(split.texts, (_, i) => i));
  let n = 0, tokens = 0;
  for (const i of order) {
    tokens += split.texts[i].length;
    if (tokens > maxTokens && n > 0) break;
    n++;
  }
  if (n === split.texts.length) return split;
  const chosen = order.subarray(0, n).sort();
  return {
    texts: Array.from(chosen, (i) => split.texts[i]),
    labels: Int32Array.from(chosen, (i) => split.labels[i]),
    ...(split.fullLengths
      ? { fullLengths: Int32Array.from(chosen, (i) => split.fullLengths![i]) }
      : {}),
  };
}
