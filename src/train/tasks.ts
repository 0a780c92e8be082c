/**
 * The two training tasks, each as the few things the training loop needs:
 * its model configuration, the batches of an epoch, the loss of a batch, and
 * an evaluation. The loop itself (./train.ts) knows neither task.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { Rng } from "../core/rng.ts";
import {
  batchCount,
  classificationBatches,
  type ClassificationData,
  type ClassificationSplit,
  holdOut,
  readClassificationData,
} from "../data/classification.ts";
import { exists } from "../data/files.ts";
import { readImdb } from "../data/imdb.ts";
import {
  batchify,
  bpttWindows,
  type LanguageModelData,
  readLanguageModelData,
  windowCount,
} from "../data/lm.ts";
import { classifierForward } from "../model/classifier.ts";
import type { ClassifierConfig, LanguageModelConfig, ModelConfig } from "../spec/config.ts";
import {
  crossEntropy,
  type DropoutPlan,
  languageModelForward,
  zeroState,
} from "../model/language_model.ts";
import type { LstmState } from "../model/lstm.ts";
import type { Params } from "../model/params.ts";
import type { TrainConfig } from "./config.ts";

/** One batch of either task: time-major `[T, B]` inputs. */
export interface Batch {
  tokens: Int32Array;
  T: number;
  B: number;
  /** Next-token targets `[T·B]` (LM) or class ids `[B]` (classifier). */
  targets: Int32Array;
  /** Real tokens per sequence (classifier). */
  lengths?: Int32Array;
}

/** What the training loop needs to know about a task. */
export interface Task {
  model: ModelConfig;
  vocab: string[];
  labels?: string[];
  tokenizer?: Record<string, unknown>;
  stepsPerEpoch: number;
  /** The batches of one epoch, in training order. */
  batches(rng: Rng): Iterable<Batch>;
  /** Mean loss of a batch (nats). Call inside `tf.variableGrads`. */
  loss(params: Params, batch: Batch, drop?: DropoutPlan): tf.Scalar;
  /** Metrics on a held-out split, e.g. `{ valid_ppl }` or `{ valid_acc }`. */
  evaluate(params: Params, split: "valid" | "test"): Promise<Record<string, number>>;
  /** Frees tensors the task holds between batches (the LM's carried state). */
  dispose(): void;
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
    cell: "lstm",
    vocabSize: data.vocab.size,
    ...config.model,
  };
  const train = batchify(data.train, config.batchSize, "the training split");
  let state: LstmState[] | undefined;
  const disposeState = () => {
    if (state) tf.dispose(state.flatMap((s) => [s.h, s.c]));
    state = undefined;
  };
  return {
    model,
    vocab: [...data.vocab.tokens],
    stepsPerEpoch: windowCount(train, config.bptt),
    *batches() {
      disposeState();
      state = zeroState(model, config.batchSize);
      for (const w of bpttWindows(train, config.bptt)) {
        yield { tokens: w.input, targets: w.target, T: w.T, B: w.B };
      }
    },
    loss(params, batch, drop) {
      const out = languageModelForward(
        model,
        params,
        tf.tensor2d(batch.tokens, [batch.T, batch.B], "int32"),
        state!,
        drop,
      );
      // Carry the final state into the next window, outside the gradient tape's tidy.
      const next = out.state.map((s) => ({ h: tf.keep(s.h), c: tf.keep(s.c) }));
      tf.dispose(state!.flatMap((s) => [s.h, s.c]));
      state = next;
      return crossEntropy(out.logits, tf.tensor1d(batch.targets, "int32"));
    },
    async evaluate(params, split) {
      const tokens = split === "valid" ? data.valid : data.test;
      if (!tokens) return {};
      const evalBatch = Math.max(1, Math.min(10, Math.floor(tokens.length / 2)));
      const streams = batchify(tokens, evalBatch, `the ${split} split`);
      let evalState = zeroState(model, evalBatch);
      let totalNats = 0;
      let count = 0;
      for (const w of bpttWindows(streams, config.bptt)) {
        const [nats, next] = tf.tidy(() => {
          const out = languageModelForward(
            model,
            params,
            tf.tensor2d(w.input, [w.T, w.B], "int32"),
            evalState,
          );
          const loss = crossEntropy(out.logits, tf.tensor1d(w.target, "int32"));
          return [loss, out.state.flatMap((s) => [s.h, s.c])] as const;
        });
        tf.dispose(evalState.flatMap((s) => [s.h, s.c]));
        evalState = Array.from({ length: model.layers }, (_, l) => ({
          h: next[2 * l] as tf.Tensor2D,
          c: next[2 * l + 1] as tf.Tensor2D,
        }));
        totalNats += (await nats.data())[0] * w.T * w.B;
        count += w.T * w.B;
        nats.dispose();
      }
      tf.dispose(evalState.flatMap((s) => [s.h, s.c]));
      return { [`${split}_ppl`]: Math.exp(totalNats / count) };
    },
    dispose: disposeState,
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
    cell: "lstm",
    vocabSize: data.vocab.size,
    numClasses: data.labels.length,
    ...config.model,
  };
  const toBatch = (
    b: { tokens: Int32Array; T: number; B: number; labels: Int32Array; lengths: Int32Array },
  ) => ({
    tokens: b.tokens,
    T: b.T,
    B: b.B,
    targets: b.labels,
    lengths: b.lengths,
  });
  const logitsOf = (params: Params, batch: Batch, drop?: DropoutPlan) =>
    classifierForward(
      model,
      params,
      tf.tensor2d(batch.tokens, [batch.T, batch.B], "int32"),
      batch.lengths!,
      drop,
    );
  const evaluateSplit = async (params: Params, split: ClassificationSplit) => {
    let correct = 0;
    let nats = 0;
    for (const raw of classificationBatches(split, 64)) {
      const batch = toBatch(raw);
      const [loss, predictions] = tf.tidy(() => {
        const logits = logitsOf(params, batch);
        return [crossEntropy(logits, tf.tensor1d(batch.targets, "int32")), tf.argMax(logits, 1)];
      });
      const predicted = await predictions.data();
      for (let b = 0; b < batch.B; b++) if (predicted[b] === batch.targets[b]) correct++;
      nats += (await loss.data())[0] * batch.B;
      tf.dispose([loss, predictions]);
    }
    return { acc: correct / split.texts.length, loss: nats / split.texts.length };
  };
  return {
    model,
    vocab: [...data.vocab.tokens],
    labels: data.labels,
    tokenizer: { ...data.text, maxLength: data.maxLength },
    stepsPerEpoch: batchCount(train, config.batchSize),
    *batches(rng) {
      for (const b of classificationBatches(train, config.batchSize, rng)) yield toBatch(b);
    },
    loss(params, batch, drop) {
      return crossEntropy(logitsOf(params, batch, drop), tf.tensor1d(batch.targets, "int32"));
    },
    async evaluate(params, split) {
      const chosen = split === "valid" ? valid : data.test;
      const { acc, loss } = await evaluateSplit(params, chosen);
      return { [`${split}_acc`]: acc, [`${split}_loss`]: loss };
    },
    dispose() {},
  };
}
