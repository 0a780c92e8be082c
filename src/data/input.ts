/**
 * Where a run's data comes from and how it is read: a directory (the short
 * form), explicit `--train/--valid/--test` files, or one file cut by
 * `--split`; delimited files with their columns and header; words or
 * characters. This module turns those settings into a dataset and records
 * how, for the run's data summary (./summary.ts).
 *
 * @module
 */

import { join } from "node:path";
import { UserError } from "../spec/errors.ts";
import { charLanguageModelData, charTokens } from "./chars.ts";
import {
  ClassificationBuilder,
  type ClassificationData,
  type ClassificationOptions,
  type ClassificationSplitName,
  readLabelledTsv,
} from "./classification.ts";
import {
  type DelimitedFormat,
  formatOf,
  type HeaderMode,
  parseColumnList,
  readDelimited,
} from "./delimited.ts";
import { exists, findOne, readText, requireDirectory, splitLines } from "./files.ts";
import { readImdb } from "./imdb.ts";
import {
  type LanguageModelData,
  languageModelFromLines,
  lmFileNames,
  type LmFiles,
  type LmOptions,
  type LmSplit,
} from "./lm.ts";
import { checkSplit, contiguousSplit, type SplitFractions, stratifiedSplit } from "./split.ts";
import type { SplitRecord } from "./summary.ts";

/** What a token is: a word, or a character (`--unit char`, language models). */
export const TOKEN_UNITS = ["word", "char"] as const;

/** A token unit. */
export type TokenUnit = typeof TOKEN_UNITS[number];

/** `--format`: `auto` goes by each file's extension. */
export const INPUT_FORMATS = ["auto", "csv", "tsv"] as const;

/** How a run's data files are found and read; empty strings and lists mean "not given". */
export interface InputConfig {
  /** Words or characters. */
  unit: TokenUnit;
  /** `csv`, `tsv`, or `auto` (each file's extension). */
  format: typeof INPUT_FORMATS[number];
  /** Text columns, a comma list of header names or 0-based indices. */
  textColumn: string;
  /** The label column, a header name or 0-based index. */
  labelColumn: string;
  /** Whether delimited files start with a header row. */
  header: HeaderMode;
  /** Explicit split files, instead of a directory. */
  train: string;
  valid: string;
  test: string;
  /** Train, valid and test fractions to cut one file into; empty for none. */
  split: number[];
}

/** Reading as sparrow did before these settings existed: a directory of words. */
export const DEFAULT_INPUT: Readonly<InputConfig> = Object.freeze({
  unit: "word",
  format: "auto",
  textColumn: "",
  labelColumn: "",
  header: "auto",
  train: "",
  valid: "",
  test: "",
  split: [],
});

/** A dataset and how it was read, for the data summary. */
export interface Loaded<T> {
  data: T;
  /** The format read (`tsv`, `csv`, `imdb`, `text`). */
  format: string;
  /** Where the data came from: the directory, or the training file. */
  source: string;
  /** How `--split` made the splits. */
  split?: SplitRecord;
}

type Files = Partial<Record<LmSplit, string>>;

/** The files named by `--train/--valid/--test`, or undefined when none is. */
function explicitFiles(input: InputConfig): Files | undefined {
  if (input.train === "" && input.valid === "" && input.test === "") return undefined;
  if (input.train === "") {
    throw new UserError("--valid and --test need --train FILE too; pass the training file");
  }
  return {
    train: input.train,
    ...(input.valid !== "" ? { valid: input.valid } : {}),
    ...(input.test !== "" ? { test: input.test } : {}),
  };
}

/** Whether `path` is a file (not a directory); false when it does not exist. */
async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** The split files, from explicit flags, one file, or a directory searched for `names`. */
async function findFiles(
  data: string,
  input: InputConfig,
  names: (split: LmSplit) => string[],
  what: string,
): Promise<Files> {
  const explicit = explicitFiles(input);
  if (explicit) return explicit;
  if (await isFile(data)) return { train: data };
  await requireDirectory(data, what);
  const files: Files = {};
  for (const split of ["train", "valid", "test"] as const) {
    const found = await findOne(data, names(split));
    if (found !== undefined) files[split] = found;
  }
  if (files.train === undefined) {
    throw new UserError(
      `no train file in "${data}": looked for ${
        names("train").map((n) => join(data, n)).join(" and ")
      }; add one, or pass --train FILE`,
    );
  }
  return files;
}

/** The `--split` fractions, checking that only a training file is given with them. */
function splitFractions(input: InputConfig, files: Files): SplitFractions | undefined {
  if (input.split.length === 0) return undefined;
  const fractions = checkSplit(input.split);
  const extra = (["valid", "test"] as const).filter((s) => files[s] !== undefined);
  if (extra.length > 0) {
    throw new UserError(
      `--split cuts ${files.train} into train, valid and test, but a ${
        extra[0]
      } file is given too (${files[extra[0]]}); drop --split, or give only the one file`,
    );
  }
  return fractions;
}

/** Whether `data` is IMDB as distributed (the archive or its aclImdb/ folder). */
async function isImdb(data: string): Promise<boolean> {
  if (/aclImdb/.test(data)) return true;
  if (await isFile(data)) return false;
  return await exists(join(data, "aclImdb")) || await exists(join(data, "aclImdb_v1.tar.gz"));
}

/** Whether a file is read as plain `label<TAB>text`, as before columns could be picked. */
function plainTsv(path: string, input: InputConfig): boolean {
  return input.format === "auto" && input.textColumn === "" && input.labelColumn === "" &&
    input.header === "auto" && /\.tsv$/i.test(path);
}

/** Labelled rows of one classification file, and what its reader noted and warns of. */
async function readRows(path: string, input: InputConfig) {
  if (plainTsv(path, input)) {
    return { ...await readLabelledTsv(path), warnings: [] as string[], format: "tsv" };
  }
  const format = formatOf(path, input.format === "auto" ? undefined : input.format);
  const table = await readDelimited(path, {
    format,
    header: input.header,
    ...(input.labelColumn !== "" ? { labelColumn: input.labelColumn } : {}),
    ...(input.textColumn !== "" ? { textColumns: parseColumnList(input.textColumn) } : {}),
  });
  return { ...table, format: format as DelimitedFormat | "tsv" };
}

/**
 * Reads a classification dataset: IMDB as distributed, a directory of
 * `{train,valid,test}.{tsv,csv}`, explicit files, or one file cut by
 * `--split` (stratified, seeded by `seed`).
 */
export async function loadClassificationInput(
  data: string,
  input: InputConfig,
  options: ClassificationOptions,
  seed: number,
): Promise<Loaded<ClassificationData>> {
  if (explicitFiles(input) === undefined && input.split.length === 0 && await isImdb(data)) {
    return { data: await readImdb(data, options), format: "imdb", source: data };
  }
  const files = await findFiles(
    data,
    input,
    (split) => [`${split}.tsv`, `${split}.csv`],
    "classification data directory",
  );
  const fractions = splitFractions(input, files);
  if (!fractions && files.test === undefined) {
    throw new UserError(
      `no test file for ${files.train}: pass --test FILE, or --split 0.8,0.1,0.1 to cut the one file in three`,
    );
  }
  const builder = new ClassificationBuilder(options);
  const warnings: string[] = [];
  const formats = new Set<string>();
  for (const split of ["train", "valid", "test"] as const) {
    const path = files[split];
    if (path === undefined) continue;
    const read = await readRows(path, input);
    formats.add(read.format);
    for (const line of read.notes) builder.note(line);
    warnings.push(...read.warnings);
    const add = (to: ClassificationSplitName, row: { label: string; text: string; line: number }) =>
      builder.add(to, row.label, row.text, { file: path, line: row.line });
    if (!fractions) {
      for (const row of read.rows) add(split, row);
      continue;
    }
    const parts = stratifiedSplit(read.rows.map((r) => r.label), fractions, seed);
    for (const to of ["train", "valid", "test"] as const) {
      for (const i of parts[to]) add(to, read.rows[i]);
    }
  }
  const source = input.train !== "" || await isFile(data) ? files.train! : data;
  const dataset = builder.finish(source);
  dataset.warnings = [...(dataset.warnings ?? []), ...warnings];
  return {
    data: dataset,
    format: [...formats].join("+"),
    source,
    ...(fractions
      ? { split: { kind: "split", fractions: [...fractions], seed, stratified: true } }
      : {}),
  };
}

/**
 * Reads a language-model dataset of words (PTB layout: one sentence per
 * line, `<eos>` after each) or characters (`--unit char`): a directory,
 * explicit files, or one file cut in three consecutive pieces by `--split`.
 */
export async function loadLanguageModelInput(
  data: string,
  input: InputConfig,
  options: LmOptions,
): Promise<Loaded<LanguageModelData>> {
  const char = input.unit === "char";
  const names = (split: LmSplit) => lmSplitFileNames(input.unit, split);
  const files = await findFiles(data, input, names, "language-model data directory");
  const fractions = splitFractions(input, files);
  const source = input.train !== "" || await isFile(data) ? files.train! : data;
  const format = "text";
  if (fractions) {
    const path = files.train!;
    const text = await readText(path);
    const named: LmFiles = {
      train: `${path} (train part)`,
      valid: `${path} (valid part)`,
      test: `${path} (test part)`,
    };
    const split: SplitRecord = {
      kind: "split",
      fractions: [...fractions],
      seed: 0,
      stratified: false,
    };
    const part = cutRunningText(text, input.unit, fractions);
    const dataset = char
      ? charLanguageModelData(
        {
          train: part.train.join(""),
          valid: part.valid.join(""),
          test: part.test.join(""),
        },
        named,
      )
      : languageModelFromLines(
        { train: part.train, valid: part.valid, test: part.test },
        named,
        options,
      );
    return { data: dataset, format, source, split };
  }
  if (files.valid === undefined) {
    throw new UserError(
      `no valid file for ${files.train}: pass --valid FILE, or --split 0.9,0.05,0.05 to cut the one file in three`,
    );
  }
  const lmFiles: LmFiles = {
    train: files.train!,
    valid: files.valid,
    ...(files.test !== undefined ? { test: files.test } : {}),
  };
  if (char) {
    const texts = {
      train: await readText(lmFiles.train),
      valid: await readText(lmFiles.valid),
      ...(lmFiles.test !== undefined ? { test: await readText(lmFiles.test) } : {}),
    };
    return { data: charLanguageModelData(texts, lmFiles), format, source };
  }
  const lines = {
    train: splitLines(await readText(lmFiles.train)),
    valid: splitLines(await readText(lmFiles.valid)),
    ...(lmFiles.test !== undefined ? { test: splitLines(await readText(lmFiles.test)) } : {}),
  };
  return { data: languageModelFromLines(lines, lmFiles, options), format, source };
}

/** The names a language-model data directory's `split` file may have, for tokens of `unit`. */
export function lmSplitFileNames(unit: TokenUnit, split: LmSplit): string[] {
  return unit === "char" ? [`ptb.char.${split}.txt`, ...lmFileNames(split)] : lmFileNames(split);
}

/**
 * Running text cut by `--split` into three consecutive parts, as lines
 * (words) or characters: the first share trains, the next validates, the
 * last tests, so the text keeps its order.
 */
export function cutRunningText(
  text: string,
  unit: TokenUnit,
  fractions: SplitFractions,
): Record<LmSplit, string[]> {
  const pieces = unit === "char" ? charTokens(text) : splitLines(text);
  const cut = contiguousSplit(pieces.length, fractions);
  const part = (s: LmSplit) => pieces.slice(cut[s][0], cut[s][1]);
  return { train: part("train"), valid: part("valid"), test: part("test") };
}

/**
 * What an evaluation reads (`infer evaluate`): the `--test FILE` if given,
 * else `data` (a directory whose test split is read, or one file), with the
 * same input settings as training; `--train` and `--valid` mean nothing here.
 */
function evaluationTarget(data: string, input: InputConfig): { data: string; input: InputConfig } {
  if (input.train !== "" || input.valid !== "") {
    throw new UserError(
      "--train and --valid name training files; to evaluate one file pass it as DATA or with --test FILE",
    );
  }
  if (input.test !== "" && data !== "") {
    throw new UserError(
      `DATA (${data}) and --test (${input.test}) both say what to evaluate; pass only one of them`,
    );
  }
  if (input.test === "" && data === "") {
    throw new UserError("nothing to evaluate: pass a data directory or file, or --test FILE");
  }
  return input.test !== "" ? { data: input.test, input: { ...input, test: "" } } : { data, input };
}

/**
 * Reads the labelled data an evaluation measures, through the training
 * reader ({@link loadClassificationInput}) with the same settings: its test
 * split is what is evaluated. One file (DATA or `--test FILE`) is the test
 * split whole, unless `--split` cuts it as training did (seeded by `seed`).
 */
export async function loadClassificationTest(
  data: string,
  input: InputConfig,
  options: ClassificationOptions,
  seed: number,
): Promise<Loaded<ClassificationData>> {
  const target = evaluationTarget(data, input);
  if (target.input.split.length === 0 && await isFile(target.data)) {
    // Read as both splits, so every word the file has keeps its own id until it meets the
    // model's vocabulary.
    const file = target.data;
    return await loadClassificationInput(
      file,
      { ...target.input, train: file, test: file },
      options,
      seed,
    );
  }
  return await loadClassificationInput(target.data, target.input, options, seed);
}

/** A language model's test text: where it came from, and its lines (words) or characters. */
export interface LanguageModelTest {
  file: string;
  unit: TokenUnit;
  /** Lines of words (`<eos>` after each), or characters. */
  pieces: string[];
}

/**
 * Reads the text a language model is evaluated on: `--test FILE`, one file
 * (its test part under `--split`), or a data directory's test file, named
 * as training finds it for the `unit`.
 */
export async function loadLanguageModelTest(
  data: string,
  input: InputConfig,
): Promise<LanguageModelTest> {
  checkInput("lm", input);
  const target = evaluationTarget(data, input);
  const { unit } = input;
  let file = target.data;
  if (!await isFile(file)) {
    await requireDirectory(file, "language-model data directory");
    const names = lmSplitFileNames(unit, "test");
    const found = await findOne(file, names);
    if (found === undefined) {
      throw new UserError(
        `no test file in "${file}": looked for ${
          names.map((n) => join(file, n)).join(" and ")
        }; pass the text file to evaluate instead`,
      );
    }
    file = found;
  }
  const text = await readText(file);
  if (input.split.length > 0) {
    const pieces = cutRunningText(text, unit, checkSplit(input.split)).test;
    return { file: `${file} (test part)`, unit, pieces };
  }
  return { file, unit, pieces: unit === "char" ? charTokens(text) : splitLines(text) };
}

/** Throws a UserError naming the first input setting that cannot work for `task`. */
export function checkInput(task: "lm" | "classifier", input: InputConfig): void {
  if (input.unit === "char" && task !== "lm") {
    throw new UserError("--unit char reads characters for a language model; use it with --task lm");
  }
  if (task === "lm") {
    const delimited = input.textColumn !== "" || input.labelColumn !== "" ||
      input.format !== "auto" || input.header !== "auto";
    if (delimited) {
      throw new UserError(
        "--format, --text-column, --label-column and --header describe labelled files; a language model reads plain text, so drop them or use --task classifier",
      );
    }
  }
  if (input.split.length > 0) checkSplit(input.split);
}
