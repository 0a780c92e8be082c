/**
 * Text-classification data: labelled texts, tokenised with {@link tokenize},
 * encoded with a vocabulary built from the training split, and batched for a
 * recurrent classifier.
 *
 * The file format is one example per line, `label<TAB>text`; blank lines are
 * skipped. A directory holds `train.tsv` and `test.tsv`, and optionally
 * `valid.tsv`. The vocabulary reserves id 0 for `<pad>` and id 1 for
 * `<unk>`. Labels are the training split's distinct labels, sorted, and a
 * label's id is its index in that list.
 *
 * @module
 */

import { join } from "node:path";
import { check, UserError } from "../spec/errors.ts";
import type { Rng } from "../core/rng.ts";
import { LABEL_COLUMN_NAMES, TEXT_COLUMN_NAMES } from "./delimited.ts";
import { findOne, readText, requireDirectory, splitLines } from "./files.ts";
import {
  DEFAULT_TEXT_SETTINGS,
  isBlank,
  type TextSettings,
  tokenize,
  trimWhitespace,
} from "./text.ts";
import { type SourceLocation, UNK, Vocabulary } from "./vocab.ts";

/** The padding token, id 0. */
export const PAD = "<pad>";

/**
 * Which tokens a text longer than `maxLength` keeps. Keras's `pad_sequences`
 * keeps the last ones by default; a review's verdict is often at its end.
 */
export type TokensKept = "first" | "last";

/** The values of {@link TokensKept}. */
export const TOKENS_KEPT: readonly TokensKept[] = ["first", "last"];

/** Refuses a `keep` that is not one of {@link TOKENS_KEPT}, naming `--keep`. */
export function checkTokensKept(keep: string): void {
  check(
    (TOKENS_KEPT as readonly string[]).includes(keep),
    `--keep must be one of ${TOKENS_KEPT.join(", ")}, got ${keep}`,
  );
}

/** The special tokens of a classification vocabulary, in id order. */
export const CLASSIFICATION_SPECIALS: readonly string[] = [PAD, UNK];

/** The splits of a classification dataset. */
export type ClassificationSplitName = "train" | "valid" | "test";

/** How texts are tokenised, counted and cut. */
export interface ClassificationOptions {
  /** The largest vocabulary, `<pad>` and `<unk>` included. */
  maxVocab?: number;
  /** Words seen fewer times than this in training map to `<unk>`. */
  minCount?: number;
  /** Texts longer than this many tokens keep only `maxLength` of them. */
  maxLength?: number;
  /** Which end of a cut text is kept: its first tokens (the default) or its last. */
  keep?: TokensKept;
  /** Tokenizer settings; {@link DEFAULT_TEXT_SETTINGS} unless given. */
  text?: TextSettings;
}

/** One split, encoded. */
export interface ClassificationSplit {
  /** Token ids of each text (never empty, at most `maxLength` long). */
  texts: Int32Array[];
  /** Label id of each text. */
  labels: Int32Array;
  /** Tokens of each text before the cut to `maxLength`, for the data summary. */
  fullLengths?: Int32Array;
}

/** A dataset ready to train on. */
export interface ClassificationData {
  vocab: Vocabulary;
  /** Label names; a label's id is its index. */
  labels: string[];
  /** Training examples of each label, by label id (before any {@link holdOut}). */
  labelCounts: number[];
  /** What the reader did that a user should know (e.g. a skipped header row). */
  notes: string[];
  /** What looks wrong but did not stop the reader (see ./summary.ts). */
  warnings?: string[];
  /** The tokenizer settings used, to save with the model. */
  text: TextSettings;
  /** The truncation length used, if any, to save with the model. */
  maxLength?: number;
  /** Which end of a cut text was kept, when it was the last tokens. */
  keep?: TokensKept;
  /** Where the data came from, for a run's record. */
  source: string;
  train: ClassificationSplit;
  valid?: ClassificationSplit;
  test: ClassificationSplit;
}

/** The tokens of a text that a model sees: all, or `maxLength` of them from the end `keep` names. */
export function cutTokens<T extends { length: number; slice(start?: number, end?: number): T }>(
  tokens: T,
  maxLength: number | undefined,
  keep: TokensKept = "first",
): T {
  if (maxLength === undefined || tokens.length <= maxLength) return tokens;
  return keep === "last" ? tokens.slice(tokens.length - maxLength) : tokens.slice(0, maxLength);
}

/** Paths of `label<TAB>text` files; `valid` is optional. */
export interface ClassificationFiles {
  train: string;
  valid?: string;
  test: string;
}

/**
 * Reads `train.tsv`, `test.tsv` and, when present, `valid.tsv` from `dir`.
 */
export async function readClassificationData(
  dir: string,
  options: ClassificationOptions = {},
): Promise<ClassificationData> {
  await requireDirectory(dir, "classification data directory");
  const train = await findOne(dir, ["train.tsv"]);
  const test = await findOne(dir, ["test.tsv"]);
  const valid = await findOne(dir, ["valid.tsv"]);
  for (const [split, path] of [["train", train], ["test", test]] as const) {
    if (path === undefined) {
      throw new UserError(
        `no ${split} file in "${dir}": looked for ${
          join(dir, `${split}.tsv`)
        }; add one with lines of the form label<TAB>text`,
      );
    }
  }
  return await readClassificationFiles(
    { train: train!, test: test!, ...(valid ? { valid } : {}) },
    options,
  );
}

/** Reads explicit `label<TAB>text` files (see {@link readClassificationData}). */
export async function readClassificationFiles(
  files: ClassificationFiles,
  options: ClassificationOptions = {},
): Promise<ClassificationData> {
  const builder = new ClassificationBuilder(options);
  const splits: [ClassificationSplitName, string | undefined][] = [
    ["train", files.train],
    ["valid", files.valid],
    ["test", files.test],
  ];
  for (const [split, path] of splits) {
    if (path === undefined) continue;
    const { rows, notes } = await readLabelledTsv(path);
    for (const line of notes) builder.note(line);
    for (const row of rows) {
      builder.add(split, row.label, row.text, { file: path, line: row.line });
    }
  }
  return builder.finish(files.train);
}

/**
 * Reads one `label<TAB>text` file: the label is everything before the first
 * TAB, the text everything after it (no quoting), blank lines are skipped
 * and a header row is dropped with a note.
 */
export async function readLabelledTsv(
  path: string,
): Promise<{ rows: { label: string; text: string; line: number }[]; notes: string[] }> {
  const rows: { label: string; text: string; line: number }[] = [];
  const notes: string[] = [];
  splitLines(await readText(path)).forEach((line, i) => {
    if (isBlank(line)) return;
    const tab = line.indexOf("\t");
    if (tab < 0) {
      throw new UserError(
        `${path}:${i + 1}: no TAB between label and text; write each line as label<TAB>text`,
      );
    }
    rows.push({
      label: trimWhitespace(line.slice(0, tab)),
      text: line.slice(tab + 1),
      line: i + 1,
    });
  });
  if (isHeader(rows)) {
    const [header] = rows.splice(0, 1);
    notes.push(
      `${path}:${header.line}: skipped the header row "${header.label}<TAB>${
        trimWhitespace(header.text)
      }"`,
    );
  }
  check(
    rows.length > 0,
    `file "${path}" has no examples; add lines of the form label<TAB>text`,
  );
  return { rows, notes };
}

/**
 * Whether the first row is a header: its label or text is a column name,
 * other rows follow, and its label occurs in none of them (a class that
 * happens to be called "label" would repeat).
 */
function isHeader(rows: readonly { label: string; text: string }[]): boolean {
  const [first] = rows;
  if (rows.length < 2) return false;
  const named = LABEL_COLUMN_NAMES.has(first.label.toLowerCase()) ||
    TEXT_COLUMN_NAMES.has(trimWhitespace(first.text).toLowerCase());
  return named && !rows.some((row, i) => i > 0 && row.label === first.label);
}

/** The fewest training examples a class may have. */
export const MIN_CLASS_EXAMPLES = 2;

/** One example as read, before encoding. */
interface PendingExample {
  /** Provisional ids, from {@link ClassificationBuilder}'s word table. */
  words: Int32Array;
  label: string;
  /** Orders examples so the result does not depend on reading order. */
  key: string;
}

/**
 * Collects labelled texts from any source, in any order, and encodes them
 * once all are read (the vocabulary needs the whole training split first).
 * Words are interned as they arrive so each text is tokenised only once and
 * held as integers, which matters for large corpora such as IMDB.
 */
export class ClassificationBuilder {
  readonly #options: ClassificationOptions;
  readonly #text: TextSettings;
  readonly #wordIds = new Map<string, number>();
  readonly #words: string[] = [];
  readonly #pending: Record<ClassificationSplitName, PendingExample[]> = {
    train: [],
    valid: [],
    test: [],
  };
  /** Where each label was first seen per split, for unknown-label errors. */
  readonly #labelSeen = new Map<string, SourceLocation>();
  /** The first line read from each file, to recognise a header row in errors. */
  readonly #firstLine = new Map<string, number>();
  readonly #notes: string[] = [];

  /** Validates `options` and starts an empty dataset. */
  constructor(options: ClassificationOptions = {}) {
    const { maxLength, keep } = options;
    if (keep !== undefined) checkTokensKept(keep);
    if (maxLength !== undefined) {
      check(
        Number.isInteger(maxLength) && maxLength >= 1,
        `maximum text length ${maxLength} is not a positive integer; pass a whole number such as 400`,
      );
    }
    this.#options = options;
    this.#text = { ...(options.text ?? DEFAULT_TEXT_SETTINGS) };
  }

  /** Records a remark for the dataset's {@link ClassificationData.notes}. */
  note(line: string): void {
    this.#notes.push(line);
  }

  /**
   * Adds one example. `where` names it in errors; examples of a split are
   * ordered by `key` (default: the location) when the data is finished.
   */
  add(
    split: ClassificationSplitName,
    label: string,
    text: string,
    where: SourceLocation,
    key = `${where.file}\0${String(where.line).padStart(12, "0")}`,
  ): void {
    const place = `${where.file}:${where.line}`;
    check(
      label !== "",
      `${place}: the label is empty; write each line as label<TAB>text`,
    );
    const tokens = tokenize(text, this.#text);
    check(
      tokens.length > 0,
      `${place}: the text has no words; remove the line or give it some text`,
    );
    const words = new Int32Array(tokens.length);
    for (let i = 0; i < tokens.length; i++) {
      let id = this.#wordIds.get(tokens[i]);
      if (id === undefined) {
        id = this.#words.length;
        this.#wordIds.set(tokens[i], id);
        this.#words.push(tokens[i]);
      }
      words[i] = id;
    }
    this.#pending[split].push({ words, label, key });
    const seenKey = `${split}\0${label}`;
    if (!this.#labelSeen.has(seenKey)) this.#labelSeen.set(seenKey, where);
    if (!this.#firstLine.has(where.file)) this.#firstLine.set(where.file, where.line);
  }

  /** Builds the vocabulary and label list and encodes every split. */
  finish(source: string): ClassificationData {
    for (const list of Object.values(this.#pending)) {
      list.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    }
    const train = this.#pending.train;
    check(
      train.length > 0,
      `no training examples in "${source}"; check that it holds the dataset`,
    );
    check(
      this.#pending.test.length > 0,
      `no test examples in "${source}"; check that it holds the dataset`,
    );
    const labels = [...new Set(train.map((example) => example.label))].sort();
    check(
      labels.length >= 2,
      `the training data from "${source}" has only the label "${
        labels[0]
      }"; a classifier needs examples of at least two labels`,
    );
    const labelIds = new Map(labels.map((label, i) => [label, i]));
    const labelCounts = labels.map(() => 0);
    for (const example of train) labelCounts[labelIds.get(example.label)!]++;
    this.#checkClasses(labels, labelCounts);
    for (const split of ["valid", "test"] as const) {
      for (const example of this.#pending[split]) {
        if (labelIds.has(example.label)) continue;
        const where = this.#labelSeen.get(`${split}\0${example.label}`)!;
        const like = labels.find((label) => resembles(label, example.label));
        const hint = like !== undefined
          ? `; did you mean "${like}"?`
          : this.#isFirstLine(where)
          ? `; if line ${where.line} is a header row, delete it`
          : "; fix the label or add training examples for it";
        throw new UserError(
          `${where.file}:${where.line}: label "${example.label}" does not occur in the training data (labels: ${
            labels.join(", ")
          })${hint}`,
        );
      }
    }

    // Count by interned id (cheap) in the final order, then hand the
    // vocabulary a word-keyed map in order of first occurrence.
    const idCounts = new Int32Array(this.#words.length);
    const firstSeen: number[] = [];
    for (const example of train) {
      for (const id of example.words) {
        if (idCounts[id]++ === 0) firstSeen.push(id);
      }
    }
    const counts = new Map(
      firstSeen.map((id) => [this.#words[id], idCounts[id]] as const),
    );
    const vocab = Vocabulary.fromCounts(counts, {
      maxSize: this.#options.maxVocab,
      minCount: this.#options.minCount,
      specials: CLASSIFICATION_SPECIALS,
    });
    const toVocab = Int32Array.from(this.#words, (word) => vocab.encode(word));
    const encode = (list: PendingExample[]): ClassificationSplit => ({
      texts: list.map((example) => {
        const kept = cutTokens(example.words, this.#options.maxLength, this.#options.keep);
        return kept.map((id) => toVocab[id]);
      }),
      labels: Int32Array.from(list, (example) => labelIds.get(example.label)!),
      fullLengths: Int32Array.from(list, (example) => example.words.length),
    });
    const valid = this.#pending.valid;
    return {
      vocab,
      labels,
      labelCounts,
      notes: [...this.#notes],
      text: { ...this.#text },
      ...(this.#options.maxLength !== undefined ? { maxLength: this.#options.maxLength } : {}),
      ...(this.#options.keep === "last" ? { keep: "last" as const } : {}),
      source,
      train: encode(train),
      ...(valid.length > 0 ? { valid: encode(valid) } : {}),
      test: encode(this.#pending.test),
    };
  }

  /**
   * Refuses training classes that look like mistakes: two labels that differ
   * only in case or punctuation (`Pos` beside `pos`), and a class with fewer
   * than {@link MIN_CLASS_EXAMPLES} examples (a typo, or a header row).
   */
  #checkClasses(labels: string[], counts: number[]): void {
    const where = (label: string) => {
      const at = this.#labelSeen.get(`train\0${label}`)!;
      return `${at.file}:${at.line}`;
    };
    const examples = (n: number) => `${n} example${n === 1 ? "" : "s"}`;
    const all = labels.map((label, i) => `${label} ${counts[i]}`).join(", ");
    labels.forEach((label, i) => {
      labels.forEach((other, j) => {
        // Name the rarer of the two (the earlier one on a tie), once.
        if (j === i || !resembles(label, other)) return;
        if (counts[i] > counts[j] || (counts[i] === counts[j] && i > j)) return;
        throw new UserError(
          `${where(label)}: class "${label}" (${
            examples(counts[i])
          }) differs from class "${other}" (${
            examples(counts[j])
          }) only in case or punctuation; correct the label to "${other}", or rename one of them if they are different classes`,
        );
      });
    });
    labels.forEach((label, i) => {
      if (counts[i] >= MIN_CLASS_EXAMPLES) return;
      const at = this.#labelSeen.get(`train\0${label}`)!;
      const fix = this.#isFirstLine(at)
        ? `if line ${at.line} is a header row, delete it; otherwise add examples of "${label}"`
        : `add examples of "${label}" or correct its label`;
      throw new UserError(
        `${where(label)}: class "${label}" has ${
          examples(counts[i])
        } in the training data (classes: ${all}), fewer than the ${MIN_CLASS_EXAMPLES} a class needs; ${fix}`,
      );
    });
  }

  #isFirstLine(where: SourceLocation): boolean {
    return this.#firstLine.get(where.file) === where.line;
  }
}

/** Whether two labels are the same but for case and punctuation. */
function resembles(a: string, b: string): boolean {
  const key = (label: string) => label.toLowerCase().replace(/[^\p{L}\p{N}]/gu, "");
  return a !== b && key(a) !== "" && key(a) === key(b);
}

/**
 * One line describing a dataset for a run's progress output: the examples
 * of each split and the training examples of each class.
 */
export function describeClassificationData(data: ClassificationData): string {
  const classes = data.labels.map((label, i) => `${label} ${data.labelCounts[i]}`).join(", ");
  const sizes = [
    `train ${data.train.texts.length}`,
    ...(data.valid ? [`valid ${data.valid.texts.length}`] : []),
    `test ${data.test.texts.length}`,
  ];
  return `${data.source}: ${
    sizes.join(", ")
  } texts; ${data.labels.length} classes (train: ${classes})`;
}

/** One padded batch, time-major. */
export interface ClassificationBatch {
  /** Token ids `[T][B]`: `tokens[t * B + b]`, 0 (`<pad>`) past a text's end. */
  tokens: Int32Array;
  /** Number of real tokens of each text, `[B]` (each at least 1). */
  lengths: Int32Array;
  /** Label id of each text, `[B]`. */
  labels: Int32Array;
  /** Steps: the longest text in the batch. */
  T: number;
  /** Texts in the batch (the last batch may be smaller). */
  B: number;
}

/** Number of batches {@link classificationBatches} yields. */
export function batchCount(
  split: ClassificationSplit,
  batchSize: number,
): number {
  return Math.ceil(split.texts.length / batchSize);
}

/**
 * Batches of up to `batchSize` texts, padded to the longest in each. With
 * `rng` the order is shuffled (call once per epoch with the same generator
 * for a new order each epoch); without it the split's order is kept, which
 * evaluation wants. The last, smaller batch is kept so every text is seen.
 */
export function* classificationBatches(
  split: ClassificationSplit,
  batchSize: number,
  rng?: Rng,
): Generator<ClassificationBatch> {
  check(
    Number.isInteger(batchSize) && batchSize >= 1,
    `batch size ${batchSize} is not a positive integer; pass a whole number such as 32`,
  );
  const order = Int32Array.from(split.texts, (_, i) => i);
  if (rng) rng.shuffle(order);
  for (let start = 0; start < order.length; start += batchSize) {
    const members = order.subarray(start, start + batchSize);
    const B = members.length;
    const lengths = Int32Array.from(members, (i) => split.texts[i].length);
    const labels = Int32Array.from(members, (i) => split.labels[i]);
    const T = Math.max(...lengths);
    const tokens = new Int32Array(T * B);
    members.forEach((i, b) => {
      const text = split.texts[i];
      for (let t = 0; t < text.length; t++) tokens[t * B + b] = text[t];
    });
    yield { tokens, lengths, labels, T, B };
  }
}

/**
 * Splits a random `fraction` of `split` off (at least one text, at most all
 * but one), e.g. as a validation set for a dataset that has none (IMDB).
 */
export function holdOut(
  split: ClassificationSplit,
  fraction: number,
  rng: Rng,
): { kept: ClassificationSplit; heldOut: ClassificationSplit } {
  const n = split.texts.length;
  check(n >= 2, "the training split needs at least two texts to hold some out for validation");
  const count = Math.min(n - 1, Math.max(1, Math.round(fraction * n)));
  const order = rng.shuffle(Int32Array.from({ length: n }, (_, i) => i));
  const pick = (indices: Int32Array): ClassificationSplit => ({
    texts: Array.from(indices, (i) => split.texts[i]),
    labels: Int32Array.from(indices, (i) => split.labels[i]),
    ...(split.fullLengths
      ? { fullLengths: Int32Array.from(indices, (i) => split.fullLengths![i]) }
      : {}),
  });
  return {
    kept: pick(order.subarray(count).sort()),
    heldOut: pick(order.subarray(0, count).sort()),
  };
}
