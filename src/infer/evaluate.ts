/**
 * `infer evaluate`: what an exported bundle learned, measured with
 * onnxruntime on labelled data read by the training readers (../data).
 *
 * - A classifier: accuracy, per-class precision, recall and F1, macro-F1,
 *   the confusion matrix and the mean loss, on a data directory's test split
 *   (`test.{tsv,csv}`, or IMDB's test reviews) or on one labelled file, read
 *   with training's input flags (`--format`, `--text-column`,
 *   `--label-column`, `--header`, `--test`, `--split`).
 * - A language model: perplexity, bits per character and the count of
 *   unknown tokens, on a data directory's test file or one text file, in
 *   the bundle's unit (words or characters).
 *
 * Both evaluate as training evaluates its test split (the same batches of
 * streams for a language model), so the numbers agree with the training
 * run's test metrics.
 *
 * @module
 */

import {
  type ClassificationMetrics,
  classificationMetrics,
  countConfusion,
  formatClassificationMetrics,
  formatLanguageModelMetrics,
  type LanguageModelMetrics,
  languageModelMetrics,
  tokenCharacters,
} from "../core/metrics.ts";
import type { ClassificationData } from "../data/classification.ts";
import { exists } from "../data/files.ts";
import {
  checkInput,
  DEFAULT_INPUT,
  type InputConfig,
  type LanguageModelTest,
  loadClassificationTest,
  type Loaded,
  loadLanguageModelTest,
} from "../data/input.ts";
import { batchify, EOS, lineWords } from "../data/lm.ts";
import { parseTextSettings } from "../data/text.ts";
import { check, UserError } from "../spec/errors.ts";
import { type Bundle, isCharModel, textCut } from "./bundle.ts";
import { type LmState, runClassifier, runLanguageModel } from "./onnx_runtime.ts";

/** A classifier bundle's evaluation. */
export interface ClassifierEvaluation {
  kind: "classifier";
  /** The file or directory read. */
  source: string;
  metrics: ClassificationMetrics;
  /** Mean cross-entropy (nats) per example. */
  loss: number;
  /** Tokens read, and those outside the bundle's vocabulary (`<unk>`). */
  tokens: number;
  unknown: number;
}

/** A language-model bundle's evaluation. */
export interface LanguageModelEvaluation {
  kind: "lm";
  source: string;
  metrics: LanguageModelMetrics;
}

/** Either evaluation. */
export type Evaluation = ClassifierEvaluation | LanguageModelEvaluation;

/** How `infer evaluate` reads its data: training's input flags, and `--split`'s seed. */
export interface EvaluateOptions {
  /**
   * Training's input settings (`--format`, `--text-column`, `--label-column`,
   * `--header`, `--test`, `--split`, `--unit`); those not given read as
   * training reads by default, and the unit is the bundle's.
   */
  input?: Partial<InputConfig>;
  /** The seed of a classifier's stratified `--split`, as training was given; 1 unless given. */
  seed?: number;
}

/**
 * Evaluates `bundle` on the labelled data at `path` (a data directory whose
 * test split is evaluated, or one file; empty with `--test FILE`), read by
 * the training readers with the training flags in `options`.
 */
export async function evaluateBundle(
  bundle: Bundle,
  path: string,
  options: EvaluateOptions = {},
): Promise<Evaluation> {
  const unit = isCharModel(bundle) ? "char" : "word";
  if (options.input?.unit !== undefined && options.input.unit !== unit) {
    throw new UserError(
      `--unit ${options.input.unit} does not fit ${bundle.dir}: its model reads ${
        unit === "char" ? "characters" : "words"
      }; drop --unit`,
    );
  }
  const input: InputConfig = { ...DEFAULT_INPUT, ...options.input, unit };
  const target = input.test !== "" ? input.test : path;
  if (target !== "" && !await exists(target)) {
    throw new UserError(
      `${target} does not exist; pass a data directory (its test split is evaluated) or one file`,
    );
  }
  if (bundle.metadata.kind === "lm") {
    return await evaluateLanguageModel(bundle, await loadLanguageModelTest(path, input));
  }
  checkInput("classifier", input);
  return await evaluateClassifier(bundle, path, input, options.seed ?? 1);
}

/** Classifier data as training reads it, with the tokenizer settings the bundle saved. */
async function readLabelled(
  bundle: Bundle,
  path: string,
  input: InputConfig,
  seed: number,
): Promise<Loaded<ClassificationData>> {
  const options = { text: parseTextSettings(bundle.metadata.tokenizer), ...textCut(bundle) };
  return await loadClassificationTest(path, input, options, seed);
}

/** The log of the softmax normaliser of `n` logits at `offset`, in float64. */
function logNormaliser(logits: Float32Array, offset: number, n: number): number {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, logits[offset + i]);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(logits[offset + i] - max);
  return max + Math.log(sum);
}

async function evaluateClassifier(
  bundle: Bundle,
  path: string,
  input: InputConfig,
  seed: number,
): Promise<ClassifierEvaluation> {
  const labels = bundle.metadata.labels ?? [];
  const { data, source } = await readLabelled(bundle, path, input, seed);
  // The reader's label ids are its own sorted labels; the bundle's are the training run's.
  const labelId = data.labels.map((label) => {
    const id = labels.indexOf(label);
    check(
      id >= 0,
      `${source}: label "${label}" is not one the model knows (${
        labels.join(", ")
      }); evaluate on data labelled like its training data`,
    );
    return id;
  });
  const { vocab } = bundle;
  let tokens = 0, unknown = 0;
  const texts = data.test.texts.map((ids) =>
    Array.from(ids, (id) => {
      const word = data.vocab.decode(id);
      const own = word === vocab.unkToken ? -1 : vocab.id(word);
      tokens++;
      if (own < 0) unknown++;
      return own >= 0 ? own : vocab.encode(word);
    })
  );
  const actual = Int32Array.from(data.test.labels, (id) => labelId[id]);
  const predicted = new Int32Array(texts.length);
  const k = labels.length;
  let nats = 0;
  for (let start = 0; start < texts.length; start += 64) {
    const chunk = texts.slice(start, start + 64);
    const { logits } = await runClassifier(bundle.session, chunk);
    chunk.forEach((_, b) => {
      let best = 0;
      for (let c = 1; c < k; c++) if (logits[b * k + c] > logits[b * k + best]) best = c;
      predicted[start + b] = best;
      nats += logNormaliser(logits, b * k, k) - logits[b * k + actual[start + b]];
    });
  }
  return {
    kind: "classifier",
    source,
    metrics: classificationMetrics(countConfusion(actual, predicted, k), labels),
    loss: nats / texts.length,
    tokens,
    unknown,
  };
}

/** Time steps per onnxruntime call; the state is carried between calls. */
const CHUNK = 256;

async function evaluateLanguageModel(
  bundle: Bundle,
  test: LanguageModelTest,
): Promise<LanguageModelEvaluation> {
  const { vocab } = bundle;
  const { file } = test;
  const ids: number[] = [], characters: number[] = [], unknownAt: number[] = [];
  const add = (token: string, line: number, chars: number) => {
    const id = vocab.encode(token, { file, line });
    ids.push(id);
    characters.push(chars);
    unknownAt.push(id === vocab.unkId && token !== vocab.unkToken ? 1 : 0);
  };
  if (test.unit === "char") {
    // Every character is a token, and one character of text.
    let line = 1;
    for (const c of test.pieces) {
      add(c, line, 1);
      if (c === "\n") line++;
    }
  } else {
    test.pieces.forEach((line, i) => {
      for (const word of lineWords(line)) add(word, i + 1, tokenCharacters(word, EOS));
    });
  }
  check(
    ids.length >= 2 && (test.unit === "char" || ids.some((id) => id !== vocab.encode(EOS))),
    `${file} has fewer than two tokens of text; give it at least one line of words`,
  );
  // Training's evaluation: up to 10 streams cut from the text, each from the zero state.
  const B = Math.max(1, Math.min(10, Math.floor(ids.length / 2)));
  const streams = batchify(Int32Array.from(ids), B, file);
  const position = batchify(Int32Array.from(ids, (_, i) => i), B, file);
  const V = bundle.metadata.model.vocabSize;
  const steps = streams.steps;
  let state: LmState | undefined;
  let nats = 0, tokens = 0, chars = 0, unknown = 0;
  for (let start = 0; start < steps - 1; start += CHUNK) {
    const T = Math.min(CHUNK, steps - 1 - start);
    const input = Array.from(
      { length: T },
      (_, t) => Array.from(streams.data.subarray((start + t) * B, (start + t + 1) * B)),
    );
    const result = await runLanguageModel(bundle.session, input, state);
    state = result.state;
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) {
        const at = (start + t + 1) * B + b;
        const offset = (t * B + b) * V;
        nats += logNormaliser(result.logits, offset, V) - result.logits[offset + streams.data[at]];
        const i = position.data[at];
        tokens++, chars += characters[i], unknown += unknownAt[i];
      }
    }
  }
  return {
    kind: "lm",
    source: file,
    metrics: languageModelMetrics({ nats, tokens, characters: chars, unknown }),
  };
}

/** An evaluation as the lines `infer evaluate` prints. */
export function formatEvaluation(e: Evaluation): string {
  if (e.kind === "lm") return formatLanguageModelMetrics(e.metrics, `${e.source}: `);
  const unknown = e.tokens > 0 ? (100 * e.unknown / e.tokens).toFixed(2) : "0.00";
  return [
    formatClassificationMetrics(e.metrics, `${e.source}: `),
    `loss ${
      e.loss.toFixed(4)
    } nats per example; ${e.unknown} of ${e.tokens} tokens unknown (${unknown}%)`,
  ].join("\n");
}
