/**
 * What a model learned, as numbers: a classifier's confusion matrix,
 * accuracy, per-class precision, recall and F1 and their macro average, and
 * a language model's perplexity and bits per character. Plain arrays, no
 * backend: training (both compute paths) and onnxruntime inference compute
 * the same report from the same counts.
 *
 * @module
 */

import { check } from "../spec/errors.ts";

/**
 * A confusion matrix: `counts[actual][predicted]` examples, rows and
 * columns in label-id order.
 */
export type Confusion = number[][];

/** An empty `k`×`k` confusion matrix. */
export function emptyConfusion(k: number): Confusion {
  return Array.from({ length: k }, () => new Array<number>(k).fill(0));
}

/** Counts `predicted[i]` against `actual[i]` into `into` (or a new matrix of `k` classes). */
export function countConfusion(
  actual: ArrayLike<number>,
  predicted: ArrayLike<number>,
  k: number,
  into: Confusion = emptyConfusion(k),
): Confusion {
  check(
    actual.length === predicted.length,
    `${actual.length} labels but ${predicted.length} predictions`,
  );
  for (let i = 0; i < actual.length; i++) into[actual[i]][predicted[i]]++;
  return into;
}

/** Adds confusion matrix `b` into `a` (same size) and returns `a`. */
export function addConfusion(a: Confusion, b: Confusion): Confusion {
  a.forEach((row, i) => row.forEach((_, j) => row[j] += b[i][j]));
  return a;
}

/** Precision, recall and F1 of one class, and how many examples it has. */
export interface ClassScores {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  /** Examples whose true label is this class. */
  support: number;
  /** Examples predicted as this class. */
  predicted: number;
}

/** A classifier's report on one split. */
export interface ClassificationMetrics {
  /** Examples evaluated. */
  count: number;
  accuracy: number;
  /** The unweighted mean of the classes' F1. */
  macroF1: number;
  classes: ClassScores[];
  labels: string[];
  confusion: Confusion;
}

/**
 * The report of a confusion matrix. A class never predicted has precision
 * 0, one with no examples has recall 0, and F1 is 0 when both are 0 (the
 * convention of scikit-learn's `zero_division=0`), so every number is finite.
 */
export function classificationMetrics(
  confusion: Confusion,
  labels: readonly string[],
): ClassificationMetrics {
  const k = labels.length;
  check(
    confusion.length === k && confusion.every((row) => row.length === k),
    `a confusion matrix of ${confusion.length} rows for ${k} labels`,
  );
  let count = 0, correct = 0;
  const classes = labels.map((label, c) => {
    const support = confusion[c].reduce((s, n) => s + n, 0);
    const predicted = confusion.reduce((s, row) => s + row[c], 0);
    const hits = confusion[c][c];
    count += support, correct += hits;
    const precision = predicted > 0 ? hits / predicted : 0;
    const recall = support > 0 ? hits / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { label, precision, recall, f1, support, predicted };
  });
  return {
    count,
    accuracy: count > 0 ? correct / count : 0,
    macroF1: k > 0 ? classes.reduce((s, c) => s + c.f1, 0) / k : 0,
    classes,
    labels: [...labels],
    confusion: confusion.map((row) => [...row]),
  };
}

/** A language model's report on one text. */
export interface LanguageModelMetrics {
  /** Tokens predicted. */
  tokens: number;
  /** Mean loss per token, in nats. */
  loss: number;
  perplexity: number;
  /** Characters of text the predicted tokens stand for (see {@link tokenCharacters}). */
  characters: number;
  /** The summed loss in bits over those characters. */
  bitsPerCharacter: number;
  /** Predicted tokens that are `<unk>` in place of a word outside the vocabulary. */
  unknown: number;
}

/**
 * How many characters of text a predicted token stands for: a word and the
 * space (or line break) after it; `<eos>` itself none, as its line break was
 * counted with the line's last word. Bits per character divide the summed
 * loss by the total, so they compare with character-level models on the
 * same text written with single spaces.
 */
export function tokenCharacters(word: string, eos: string): number {
  return word === eos ? 0 : word.length + 1;
}

/** The report from summed loss `nats` over `tokens` predictions of `characters` characters. */
export function languageModelMetrics(
  totals: { nats: number; tokens: number; characters: number; unknown: number },
): LanguageModelMetrics {
  const { nats, tokens, characters, unknown } = totals;
  const loss = tokens > 0 ? nats / tokens : 0;
  return {
    tokens,
    loss,
    perplexity: Math.exp(loss),
    characters,
    bitsPerCharacter: characters > 0 ? nats / Math.LN2 / characters : 0,
    unknown,
  };
}

const percent = (x: number) => `${(100 * x).toFixed(2)}%`;

/**
 * A classification report as text: accuracy and macro-F1, a table of the
 * classes, and the confusion matrix (rows: true label, columns: predicted).
 */
export function formatClassificationMetrics(m: ClassificationMetrics, title = ""): string {
  const table = (header: string[], rows: string[][]) => {
    const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
    const line = (cells: string[]) =>
      "  " + cells.map((x, c) => (c === 0 ? x.padEnd(widths[c]) : x.padStart(widths[c])))
        .join("  ");
    return [line(header), ...rows.map(line)];
  };
  return [
    `${title}accuracy ${percent(m.accuracy)} (${m.count} examples), macro-F1 ${
      m.macroF1.toFixed(4)
    }`,
    ...table(
      ["class", "precision", "recall", "f1", "support"],
      m.classes.map((c) => [
        c.label,
        c.precision.toFixed(4),
        c.recall.toFixed(4),
        c.f1.toFixed(4),
        String(c.support),
      ]),
    ),
    "confusion matrix (rows: true label, columns: predicted):",
    ...table(
      ["", ...m.labels],
      m.confusion.map((row, i) => [m.labels[i], ...row.map(String)]),
    ),
  ].join("\n");
}

/** A language model's report as one line. */
export function formatLanguageModelMetrics(m: LanguageModelMetrics, title = ""): string {
  return `${title}perplexity ${m.perplexity.toFixed(3)} over ${m.tokens} tokens, ` +
    `${m.bitsPerCharacter.toFixed(4)} bits per character (${m.characters} characters), ` +
    `${m.unknown} unknown tokens (${percent(m.tokens > 0 ? m.unknown / m.tokens : 0)})`;
}
