/**
 * Word-level language-model data in the Penn Treebank layout (Mikolov's
 * `ptb.{train,valid,test}.txt`): one sentence per line, words separated by
 * ASCII whitespace (so U+FEFF and U+00A0 are part of words), and an `<eos>`
 * token appended to every line so a model learns where sentences end. The
 * vocabulary comes from the training split only.
 *
 * For training, the token stream is cut into `B` parallel streams
 * ({@link batchify}) and read in windows of `T` steps ({@link bpttWindows}),
 * the classic truncated-backpropagation-through-time setup.
 *
 * @module
 */

import { join } from "node:path";
import { check, UserError } from "../spec/errors.ts";
import { findOne, readText, requireDirectory, splitLines } from "./files.ts";
import { splitWords } from "./text.ts";
import { Vocabulary, type VocabularyOptions } from "./vocab.ts";

/** The token appended to every line. */
export const EOS = "<eos>";

/** The three splits of a language-model dataset. */
export type LmSplit = "train" | "valid" | "test";

/** The file names searched for each split, in this order. */
export function lmFileNames(split: LmSplit): string[] {
  return [`ptb.${split}.txt`, `${split}.txt`];
}

/** Paths of the split files; `test` is optional. */
export interface LmFiles {
  train: string;
  valid: string;
  test?: string;
}

/** A language-model dataset encoded with its vocabulary. */
export interface LanguageModelData {
  vocab: Vocabulary;
  /** The files read, so a run can record what it trained on. */
  files: LmFiles;
  train: Int32Array;
  valid: Int32Array;
  test?: Int32Array;
  /**
   * Words per split that had no id of their own and were mapped to `<unk>`
   * (only possible with an open vocabulary; literal `<unk>` tokens in the
   * text are not counted).
   */
  unknownWords: { train: number; valid: number; test?: number };
}

/** Vocabulary options for a language model (no special tokens besides `<unk>`). */
export type LmOptions = Pick<VocabularyOptions, "maxSize" | "minCount">;

/**
 * Reads a dataset from `dir`, which must hold a training and a validation
 * file and may hold a test file, each named `ptb.{split}.txt` or
 * `{split}.txt`. Validation is required because training reports and selects
 * on it; a missing test split is allowed.
 */
export async function readLanguageModelData(
  dir: string,
  options: LmOptions = {},
): Promise<LanguageModelData> {
  await requireDirectory(dir, "language-model data directory");
  const find = async (split: LmSplit) => await findOne(dir, lmFileNames(split));
  const train = await find("train");
  const valid = await find("valid");
  const test = await find("test");
  for (const [split, path] of [["train", train], ["valid", valid]] as const) {
    if (path === undefined) {
      const names = lmFileNames(split).map((name) => join(dir, name));
      throw new UserError(
        `no ${split} file in "${dir}": looked for ${
          names.join(" and ")
        }; add one (one sentence per line)`,
      );
    }
  }
  return await readLanguageModelFiles(
    { train: train!, valid: valid!, ...(test ? { test } : {}) },
    options,
  );
}

/** Reads a dataset from explicit files (see {@link readLanguageModelData}). */
export async function readLanguageModelFiles(
  files: LmFiles,
  options: LmOptions = {},
): Promise<LanguageModelData> {
  return languageModelFromLines(
    {
      train: splitLines(await readText(files.train)),
      valid: splitLines(await readText(files.valid)),
      ...(files.test !== undefined ? { test: splitLines(await readText(files.test)) } : {}),
    },
    files,
    options,
  );
}

/**
 * Encodes the lines of each split (read from `files`, which name them in
 * messages), with a vocabulary built from the training lines.
 */
export function languageModelFromLines(
  lines: { train: string[]; valid: string[]; test?: string[] },
  files: LmFiles,
  options: LmOptions = {},
): LanguageModelData {
  const trainWords: string[][] = lines.train.map(lineWords);
  check(
    trainWords.some((words) => words.length > 1),
    `file "${files.train}" contains no words; put one sentence per line in it`,
  );
  const counts = new Map<string, number>();
  for (const words of trainWords) {
    for (const word of words) counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  const vocab = Vocabulary.fromCounts(counts, options);

  const train = encodeLines(trainWords, vocab, files.train);
  const valid = encodeLines(lines.valid.map(lineWords), vocab, files.valid);
  const test = lines.test === undefined || files.test === undefined
    ? undefined
    : encodeLines(lines.test.map(lineWords), vocab, files.test);
  return {
    vocab,
    files,
    train: train.ids,
    valid: valid.ids,
    ...(test ? { test: test.ids } : {}),
    unknownWords: {
      train: train.unknown,
      valid: valid.unknown,
      ...(test ? { test: test.unknown } : {}),
    },
  };
}

/**
 * The tokens of one line of PTB-style text: its words, separated by ASCII
 * whitespace only ({@link splitWords}), then `<eos>`.
 */
export function lineWords(line: string): string[] {
  const words = splitWords(line);
  words.push(EOS);
  return words;
}

function encodeLines(
  lines: string[][],
  vocab: Vocabulary,
  file: string,
): { ids: Int32Array; unknown: number } {
  let total = 0;
  let hasWords = false;
  for (const words of lines) {
    total += words.length;
    if (words.length > 1) hasWords = true;
  }
  check(
    hasWords,
    `file "${file}" contains no words; put one sentence per line in it`,
  );
  const ids = new Int32Array(total);
  let unknown = 0;
  let at = 0;
  lines.forEach((words, i) => {
    for (const word of words) {
      const id = vocab.encode(word, { file, line: i + 1 });
      if (id === vocab.unkId && word !== vocab.unkToken) unknown++;
      ids[at++] = id;
    }
  });
  return { ids, unknown };
}

/**
 * A token stream cut into `B` equal streams, stored time-major: element
 * `[t][b]` is at `data[t * B + b]` and is token `b * steps + t` of the input.
 */
export interface Batchified {
  data: Int32Array;
  /** Length of each stream (`N`). */
  steps: number;
  /** Number of streams (`B`). */
  batchSize: number;
}

/**
 * Cuts `tokens` into `batchSize` contiguous streams of equal length, dropping
 * the remainder, as in the classic PTB setup. Each stream needs at least two
 * tokens (one input and its target). `name` labels the data in errors.
 */
export function batchify(
  tokens: Int32Array,
  batchSize: number,
  name = "the dataset",
): Batchified {
  check(
    Number.isInteger(batchSize) && batchSize >= 1,
    `batch size ${batchSize} is not a positive integer; pass a whole number such as 20`,
  );
  const steps = Math.floor(tokens.length / batchSize);
  check(
    steps >= 2,
    `${name} has ${tokens.length} tokens, too few for batch size ${batchSize} (it needs at least ${
      2 * batchSize
    }); use a smaller batch size or more text`,
  );
  const data = new Int32Array(steps * batchSize);
  for (let b = 0; b < batchSize; b++) {
    const stream = b * steps;
    for (let t = 0; t < steps; t++) data[t * batchSize + b] = tokens[stream + t];
  }
  return { data, steps, batchSize };
}

/** One truncated-BPTT window of a {@link Batchified} stream set. */
export interface BpttWindow {
  /** Input ids `[T][B]`, time-major (a view into the batchified data). */
  input: Int32Array;
  /** Target ids `[T][B]`: the input shifted one step ahead in each stream. */
  target: Int32Array;
  /** Steps in this window (the last window may be shorter than `bptt`). */
  T: number;
  /** Streams. */
  B: number;
  /** The stream position of the window's first input step. */
  offset: number;
}

/** Number of windows {@link bpttWindows} yields. */
export function windowCount(batches: Batchified, bptt: number): number {
  return Math.ceil((batches.steps - 1) / bptt);
}

/**
 * Windows of up to `bptt` steps over all streams, in order. A model carries
 * its hidden state from one window to the next, so the streams must be read
 * in this order. The windows are views, not copies: do not modify them.
 */
export function* bpttWindows(
  batches: Batchified,
  bptt: number,
): Generator<BpttWindow> {
  check(
    Number.isInteger(bptt) && bptt >= 1,
    `BPTT length ${bptt} is not a positive integer; pass a whole number such as 35`,
  );
  const B = batches.batchSize;
  for (let offset = 0; offset < batches.steps - 1; offset += bptt) {
    const T = Math.min(bptt, batches.steps - 1 - offset);
    yield {
      input: batches.data.subarray(offset * B, (offset + T) * B),
      target: batches.data.subarray((offset + 1) * B, (offset + 1 + T) * B),
      T,
      B,
      offset,
    };
  }
}
