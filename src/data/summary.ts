/**
 * What sparrow read: a plain-data summary of a dataset that every run prints
 * at its start and keeps in its checkpoint (`meta.data`), and the warnings
 * about what looks wrong (a class with very few examples, a class a split
 * lacks, a header-like first row, most texts cut).
 *
 * @module
 */

import type { ClassificationData, ClassificationSplit } from "./classification.ts";
import type { LanguageModelData } from "./lm.ts";

/** A class with fewer training examples than this is warned about. */
export const FEW_EXAMPLES = 10;

/** The numbers of one split. */
export interface SplitSummary {
  /** Texts (classifier); absent for a language model's running text. */
  examples?: number;
  /** Tokens (words or characters); for a classifier, before the cut to `maxLength`. */
  tokens: number;
  /** Share of the tokens the model sees as `<unk>`. */
  unknownRate: number;
  /** Tokens of the longest text, before the cut (classifier). */
  longest?: number;
  /** Median tokens per text, before the cut (classifier). */
  median?: number;
  /** Texts longer than `maxLength`, which the model sees cut (classifier). */
  cut?: number;
  /** Examples of each class, in label order (classifier). */
  classCounts?: Record<string, number>;
}

/** How the splits were made when the data did not come split. */
export interface SplitRecord {
  /** `split`: `--split` cut one file in three; `held-out`: valid was held out of train. */
  kind: "split" | "held-out";
  /** Train, valid, test fractions (`split`), or the held-out fraction of train. */
  fractions: number[];
  /** The seed that ordered the examples (absent when the order was kept). */
  seed?: number;
  /** Per class (labelled data) or consecutive pieces (running text). */
  stratified: boolean;
}

/** A run's record of its data. */
export interface DataSummary {
  task: "lm" | "classifier";
  /** What a token is. */
  unit: "word" | "char";
  /** The files or directory read. */
  source: string;
  /** The format read: `tsv`, `csv`, `imdb` or `text`. */
  format: string;
  /** How the splits were made, when the data did not come split. */
  split?: SplitRecord;
  vocabSize: number;
  /** The cut length of texts (classifier). */
  maxLength?: number;
  /** Whether a cut text keeps its last tokens rather than its first (classifier). */
  keep?: "last";
  train: SplitSummary;
  valid?: SplitSummary;
  test?: SplitSummary;
  /** Class names in id order (classifier). */
  classes?: string[];
  /** Always predicting train's most common class: its accuracy per split (classifier). */
  majority?: { label: string; train: number; valid?: number; test?: number };
  /** What the reader did (a header row read, say). */
  notes: string[];
  /** What looks wrong. */
  warnings: string[];
}

/** The median of `values` (the mean of the middle two for an even count); 0 when empty. */
export function median(values: ArrayLike<number>): number {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  if (n === 0) return 0;
  return n % 2 === 1 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

function splitOf(
  split: ClassificationSplit,
  labels: readonly string[],
  unkId: number,
  maxLength: number | undefined,
): SplitSummary {
  const lengths = split.fullLengths ?? Int32Array.from(split.texts, (t) => t.length);
  let tokens = 0, seen = 0, unknown = 0, longest = 0, cut = 0;
  for (const n of lengths) {
    tokens += n;
    longest = Math.max(longest, n);
    if (maxLength !== undefined && n > maxLength) cut++;
  }
  for (const text of split.texts) {
    seen += text.length;
    for (const id of text) if (id === unkId) unknown++;
  }
  const classCounts: Record<string, number> = Object.fromEntries(labels.map((l) => [l, 0]));
  for (const id of split.labels) classCounts[labels[id]]++;
  return {
    examples: split.texts.length,
    tokens,
    unknownRate: seen > 0 ? unknown / seen : 0,
    longest,
    median: median(lengths),
    cut,
    classCounts,
  };
}

/**
 * The summary of a classification dataset as trained on: `train` and
 * `valid` are the splits after any hold-out, `split` says how they were made.
 */
export function summarizeClassification(
  data: ClassificationData,
  splits: { train: ClassificationSplit; valid?: ClassificationSplit },
  details: { format: string; split?: SplitRecord },
): DataSummary {
  const unk = data.vocab.unkId;
  const of = (s: ClassificationSplit) => splitOf(s, data.labels, unk, data.maxLength);
  const train = of(splits.train);
  const valid = splits.valid && splits.valid.texts.length > 0 ? of(splits.valid) : undefined;
  const test = of(data.test);
  const counts = data.labels.map((l) => train.classCounts![l]);
  const top = counts.indexOf(Math.max(...counts));
  const label = data.labels[top];
  const share = (s: SplitSummary) => s.classCounts![label] / Math.max(1, s.examples!);
  const summary: DataSummary = {
    task: "classifier",
    unit: "word",
    source: data.source,
    format: details.format,
    ...(details.split ? { split: details.split } : {}),
    vocabSize: data.vocab.size,
    ...(data.maxLength !== undefined ? { maxLength: data.maxLength } : {}),
    ...(data.keep === "last" ? { keep: "last" as const } : {}),
    train,
    ...(valid ? { valid } : {}),
    test,
    classes: [...data.labels],
    majority: {
      label,
      train: share(train),
      ...(valid ? { valid: share(valid) } : {}),
      test: share(test),
    },
    notes: [...data.notes],
    warnings: [...(data.warnings ?? [])],
  };
  summary.warnings.push(...classWarnings(summary));
  return summary;
}

/** Warnings about the classes and lengths of a classification summary. */
function classWarnings(summary: DataSummary): string[] {
  const out: string[] = [];
  const classes = summary.classes ?? [];
  for (const label of classes) {
    const n = summary.train.classCounts![label];
    if (n < FEW_EXAMPLES) {
      out.push(
        `class "${label}" has only ${n} training example${
          n === 1 ? "" : "s"
        }; the model can hardly learn it: add examples or merge it into another class`,
      );
    }
  }
  for (const name of ["valid", "test"] as const) {
    const split = summary[name];
    if (!split) continue;
    const missing = classes.filter((label) => split.classCounts![label] === 0);
    if (missing.length > 0) {
      out.push(
        `${name} has no example of class ${
          missing.map((l) => `"${l}"`).join(", ")
        }, so its accuracy says nothing about ${missing.length === 1 ? "it" : "them"}`,
      );
    }
  }
  const { cut, examples } = summary.train;
  if (summary.maxLength !== undefined && cut! > examples! / 2) {
    out.push(
      `${cut} of ${examples} training texts are longer than --max-length ${summary.maxLength} and are cut; ` +
        `raise --max-length (the median is ${summary.train.median} tokens) unless their ${
          summary.keep === "last" ? "ends" : "starts"
        } say enough`,
    );
  }
  return out;
}

/** The summary of a language-model dataset. */
export function summarizeLanguageModel(
  data: LanguageModelData,
  details: { unit: "word" | "char"; format: string; source: string; split?: SplitRecord },
): DataSummary {
  const of = (ids: Int32Array, unknown: number): SplitSummary => ({
    tokens: ids.length,
    unknownRate: ids.length > 0 ? unknown / ids.length : 0,
  });
  const warnings: string[] = [];
  for (const name of ["valid", "test"] as const) {
    const unknown = data.unknownWords[name] ?? 0;
    const ids = data[name];
    if (ids && unknown / ids.length > 0.05) {
      warnings.push(
        `${(100 * unknown / ids.length).toFixed(1)}% of the ${name} ${
          details.unit === "char" ? "characters" : "words"
        } are unknown to the training vocabulary; is it the same kind of text?`,
      );
    }
  }
  return {
    task: "lm",
    unit: details.unit,
    source: details.source,
    format: details.format,
    ...(details.split ? { split: details.split } : {}),
    vocabSize: data.vocab.size,
    train: of(data.train, data.unknownWords.train),
    valid: of(data.valid, data.unknownWords.valid),
    ...(data.test ? { test: of(data.test, data.unknownWords.test ?? 0) } : {}),
    notes: [],
    warnings,
  };
}

const percent = (x: number) => `${(100 * x).toFixed(1)}%`;

/** The summary as the lines a run prints before it trains. */
export function formatSummary(s: DataSummary): string[] {
  const unit = s.unit === "char" ? "characters" : "words";
  const how = s.split
    ? s.split.kind === "split"
      ? `; split ${s.split.fractions.join("/")} ${
        s.split.stratified ? `by class, seed ${s.split.seed}` : "in order"
      }`
      : `; valid is ${percent(s.split.fractions[0])} of train held out, seed ${s.split.seed}`
    : "";
  const lines = [`data: ${s.source} (${s.format}, ${unit}${how})`];
  const names = (["train", "valid", "test"] as const).filter((n) => s[n] !== undefined);
  const classifier = s.task === "classifier";
  const header = classifier
    ? ["split", "texts", "tokens", "unk", "longest", "median", "cut"]
    : ["split", s.unit === "char" ? "chars" : "tokens", "unk"];
  const rows = names.map((n) => {
    const x = s[n]!;
    return classifier
      ? [n, x.examples, x.tokens, percent(x.unknownRate), x.longest, x.median, x.cut].map(String)
      : [n, String(x.tokens), percent(x.unknownRate)];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const row of [header, ...rows]) {
    lines.push(
      "  " + row.map((c, i) => i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join("  "),
    );
  }
  lines.push(
    `  vocabulary ${s.vocabSize}` +
      (s.maxLength !== undefined
        ? `; texts cut to their ${s.keep === "last" ? "last" : "first"} ${s.maxLength} tokens`
        : ""),
  );
  if (classifier) {
    for (const n of names) {
      const counts = s[n]!.classCounts!;
      lines.push(`  ${n} classes: ${s.classes!.map((l) => `${l} ${counts[l]}`).join(", ")}`);
    }
    const m = s.majority!;
    const at = names.map((n) => `${percent(m[n]!)} ${n}`).join(", ");
    lines.push(`  majority-class baseline ("${m.label}"): ${at}`);
  }
  for (const note of s.notes) lines.push(`  note: ${note}`);
  for (const warning of s.warnings) lines.push(`warning: ${warning}`);
  return lines;
}
