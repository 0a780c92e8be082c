/**
 * Exported bundles on the inference side: open one, turn text into token
 * ids the way training did, and classify, score, generate or stream with
 * onnxruntime. This path never imports tfjs: a device needs only
 * onnxruntime and the bundle.
 *
 * @module
 */

import { basename, dirname, isAbsolute, join, normalize } from "node:path";
import { Rng } from "../core/rng.ts";
import { splitLines } from "../data/files.ts";
import { EOS, lineWords } from "../data/lm.ts";
import { charTokens, isCharTokenizer } from "../data/chars.ts";
import { parseTextSettings, splitWords, tokenize } from "../data/text.ts";
import { cutTokens, type TokensKept } from "../data/classification.ts";
import { Vocabulary } from "../data/vocab.ts";
import { check, UserError } from "../spec/errors.ts";
import type { ModelConfig } from "../spec/config.ts";
import {
  type LmState,
  type OnnxSession,
  openSession,
  runClassifier,
  runLanguageModel,
} from "./onnx_runtime.ts";

/** The bundle format's name, checked when a bundle is opened. */
export const BUNDLE_FORMAT = "sparrow-bundle";

/**
 * The bundle format's version: 2 added `sha256`, `io`, `specialTokens` and
 * `causal`. Older bundles are refused with the advice to export again.
 */
export const BUNDLE_VERSION = 2;

/** One graph input or output, as a third party needs it to run the model. */
export interface TensorDescription {
  name: string;
  /** ONNX element type name: `int64`, `int32`, `float32`. */
  dtype: string;
  /** Fixed sizes, or the names of dynamic dimensions (`seq_len`, `batch`). */
  shape: (number | string)[];
  /** What the values mean. */
  description: string;
}

/** A token with a role, and its id in vocab.json. */
export interface SpecialToken {
  token: string;
  id: number;
  description: string;
}

/** A bundle's metadata.json. */
export interface BundleMetadata {
  format: typeof BUNDLE_FORMAT;
  version: typeof BUNDLE_VERSION;
  kind: ModelConfig["kind"];
  model: ModelConfig;
  /** File names inside the bundle directory. */
  files: { model: string; vocab: string };
  /** sha256 (lowercase hex) of each file in `files`, by file name; verified at load. */
  sha256: Record<string, string>;
  /** Who wrote the bundle: `sparrow` and its package version. */
  producer: { name: string; version: string };
  /** The graph's inputs and outputs: names, element types, shapes and meaning. */
  io: { inputs: TensorDescription[]; outputs: TensorDescription[] };
  labels?: string[];
  /**
   * How text becomes tokens: the settings (`lowercase`, `htmlBreaks`,
   * `maxLength` for classifiers) and `rule`, the rule in words.
   */
  tokenizer?: Record<string, unknown>;
  /** Tokens with a role (`unk`, `eos`) and how padding works. */
  specialTokens: {
    unk?: SpecialToken;
    eos?: SpecialToken;
    padding: { token?: string; id: number; description: string };
  };
  /**
   * True when a step's logits depend only on the tokens up to it, so feeding
   * a sequence in chunks (carrying the state) gives the logits of one call.
   * False for int8: onnxruntime picks its quantization scale per call.
   */
  causal: boolean;
  /** How far streamed and whole-sequence logits may differ, when `causal` is false. */
  causalNote?: string;
  /** How the weights are stored in the ONNX file. */
  storage: string;
  /** How the LSTM layers are computed (`op`, `sparse-scan`, `int8`); `op` when absent. */
  compute?: string;
  /** Precision of stored float values (`fp32`, `fp16`); `fp32` when absent. */
  values?: string;
  /** Every stored tensor: its storage in the file and its payload bytes. */
  tensors?: { name: string; storage: string; bytes: number }[];
  /** True when onnxruntime folds every weight decode at load (checked on its optimized graph). */
  foldedAtLoad?: boolean;
  /** Forward FLOPs, as src/core/flops.ts counts them. */
  flops?: {
    perToken: number;
    perSequence: number;
    maskedDensePerToken: number;
    maskedDensePerSequence: number;
  };
  /** Where the export is approximate by design (fp16 values, int8 compute). */
  approximation?: { note: string; maxWeightError: number };
  /** The measurements `--target auto` chose the format from. */
  target?: {
    rule: string;
    chosen: string;
    candidates: {
      format: string;
      bytes: number;
      loadMs: number;
      latencyMs: number;
      peakRssBytes: number;
      maxAbsDiff: number;
      tolerance: number;
      eligible: boolean;
    }[];
  };
  /** Nonzeros and sparsity of every weight matrix. */
  layers: { name: string; shape: number[]; nonzeros: number; sparsity: number }[];
  parameters: { total: number; nonzero: number };
  parity: {
    maxAbsDiff: number;
    compared: number;
    samples: string;
    tolerance: number;
    /** Largest |logit| of the trained model on the samples (int8's tolerance scales with it). */
    referenceMaxAbs?: number;
    /** LM only: largest |Δlogit| between streaming one token per call and one whole call. */
    streamedVsWhole?: number;
  };
  /** The checkpoint's file name (never a path of the build machine), its epochs and metrics. */
  source: { checkpoint: string; epochs: number; metrics: Record<string, number> };
  /** Size of the ONNX file. */
  bytes: number;
}

/** An opened bundle. */
export interface Bundle {
  dir: string;
  metadata: BundleMetadata;
  vocab: Vocabulary;
  session: OnnxSession;
}

/** The sha256 of `bytes` as lowercase hex. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>),
  );
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Resolves a `files` entry of metadata.json inside `dir`, refusing one that
 * is absolute or leaves the directory (`../../etc/passwd`): a bundle only
 * ever reads its own files.
 */
function bundleFile(dir: string, key: string, name: unknown, metadataPath: string): string {
  check(
    typeof name === "string" && name !== "" && !isAbsolute(name) && !name.includes("\\") &&
      !normalize(name).split("/").includes(".."),
    `${metadataPath}: files.${key} is ${
      JSON.stringify(name)
    }, not a file inside the bundle directory; export the bundle again`,
  );
  return join(dir, name);
}

/** Checks the parts of metadata.json that opening a bundle relies on. */
function checkMetadata(value: unknown, path: string): BundleMetadata {
  const again = "export the bundle again with `deno task export`";
  const m = value as Partial<BundleMetadata> | null;
  check(
    typeof m === "object" && m !== null && m.format === BUNDLE_FORMAT,
    `${path} is not sparrow bundle metadata; ${again}`,
  );
  check(
    m.version === BUNDLE_VERSION,
    `${path} is sparrow bundle metadata version ${m.version}, this sparrow reads version ${BUNDLE_VERSION}; ${again}`,
  );
  for (const key of ["kind", "model", "files", "sha256"] as const) {
    check(m[key] !== undefined && m[key] !== null, `${path} has no "${key}" entry; ${again}`);
  }
  check(
    (m.kind === "lm" || m.kind === "classifier") && typeof m.model === "object" &&
      Number.isInteger(m.model!.vocabSize) && m.model!.kind === m.kind,
    `${path}: "kind" and "model" do not describe a sparrow model; ${again}`,
  );
  check(
    typeof m.files === "object" && typeof m.sha256 === "object",
    `${path}: "files" and "sha256" must be objects; ${again}`,
  );
  return m as BundleMetadata;
}

/**
 * Reads bundle file `path` and checks it against the sha256 that
 * metadata.json records for it.
 */
async function readVerified(path: string, dir: string, m: BundleMetadata): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch {
    throw new UserError(
      `${dir} is not a complete sparrow bundle (${path} is missing); export it again with \`deno task export\``,
    );
  }
  const name = basename(path);
  const expected = m.sha256[name];
  check(
    typeof expected === "string",
    `${join(dir, "metadata.json")} records no sha256 for ${name}; export the bundle again`,
  );
  check(
    (await sha256Hex(bytes)) === expected,
    `${path} does not match the sha256 in metadata.json (changed or damaged since export); export the bundle again`,
  );
  return bytes;
}

/**
 * Opens the bundle in `path` (its directory, or its model.onnx or
 * metadata.json). Every file is checked against its recorded sha256.
 */
export async function openBundle(path: string): Promise<Bundle> {
  let dir = path;
  try {
    if ((await Deno.stat(path)).isFile) dir = dirname(path);
  } catch {
    throw new UserError(
      `bundle ${path} does not exist; export one with \`deno task export <checkpoint> --out ${path}\``,
    );
  }
  const metadataPath = join(dir, "metadata.json");
  const metadata = checkMetadata(await readJson(metadataPath, dir), metadataPath);
  const vocabPath = bundleFile(dir, "vocab", metadata.files.vocab, metadataPath);
  const modelPath = bundleFile(dir, "model", metadata.files.model, metadataPath);
  const vocabBytes = await readVerified(vocabPath, dir, metadata);
  let vocabJson: unknown;
  try {
    vocabJson = JSON.parse(new TextDecoder().decode(vocabBytes));
  } catch {
    throw new UserError(`${vocabPath} is not valid JSON; export the bundle again`);
  }
  const vocab = Vocabulary.fromJSON(vocabJson);
  check(
    vocab.size === metadata.model.vocabSize,
    `${dir}: vocab.json has ${vocab.size} tokens but the model expects ${metadata.model.vocabSize}; export the bundle again`,
  );
  const session = await openSession(await readVerified(modelPath, dir, metadata), modelPath);
  return { dir, metadata, vocab, session };
}

async function readJson(path: string, dir: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    throw new UserError(
      `${dir} is not a complete sparrow bundle (${path} is missing); export it again with \`deno task export\``,
    );
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UserError(`${path} is not valid JSON; export the bundle again`);
  }
}

function requireKind(bundle: Bundle, kind: ModelConfig["kind"], command: string): void {
  check(
    bundle.metadata.kind === kind,
    `${command} needs a ${
      kind === "lm" ? "language model" : "classifier"
    } bundle, but ${bundle.dir} holds a ${
      bundle.metadata.kind === "lm" ? "language model" : "classifier"
    }; use ${kind === "lm" ? "classify" : "score, generate or stream"} instead`,
  );
}

/** Token ids of language-model text: words of each line, then `<eos>`. */
export function encodeLmText(bundle: Bundle, text: string, source = "input"): number[] {
  if (isCharModel(bundle)) return encodeChars(bundle, text, source);
  // The same line rule as training's reader, so scores match its evaluation.
  return splitLines(text).flatMap((line, i) =>
    lineWords(line).map((w) => bundle.vocab.encode(w, { file: source, line: i + 1 }))
  );
}

/** Whether a language model reads characters (`--unit char`) rather than words. */
export function isCharModel(bundle: Bundle): boolean {
  return isCharTokenizer(bundle.metadata.tokenizer);
}

/** Token ids of a character model's text: every character, spaces and newlines included. */
function encodeChars(bundle: Bundle, text: string, source: string): number[] {
  let line = 1;
  return charTokens(text).map((c) => {
    const id = bundle.vocab.encode(c, { file: source, line });
    if (c === "\n") line++;
    return id;
  });
}

/** How a classifier's texts were cut at training (`maxLength` and `keep`), as its bundle says. */
export function textCut(bundle: Bundle): { maxLength?: number; keep?: TokensKept } {
  const { maxLength, keep } = bundle.metadata.tokenizer ?? {};
  return {
    ...(typeof maxLength === "number" ? { maxLength } : {}),
    ...(keep === "last" ? { keep: "last" as const } : {}),
  };
}

/** Token ids of classifier text, tokenised with the settings saved at training. */
export function encodeClassifierText(bundle: Bundle, text: string): number[] {
  const settings = parseTextSettings(bundle.metadata.tokenizer);
  const { maxLength, keep } = textCut(bundle);
  const ids = cutTokens(
    tokenize(text, settings).map((w) => bundle.vocab.encode(w)),
    maxLength,
    keep,
  );
  return ids.length > 0
    ? ids
    : [bundle.vocab.encode(bundle.vocab.unkToken ?? bundle.vocab.tokens[0])];
}

function softmax(logits: Float32Array, offset: number, n: number, temperature = 1): Float64Array {
  const out = new Float64Array(n);
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, logits[offset + i] / temperature);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += out[i] = Math.exp(logits[offset + i] / temperature - max);
  for (let i = 0; i < n; i++) out[i] /= sum;
  return out;
}

/** The label of a text with no word of the vocabulary: it is not classified. */
export const UNCLASSIFIED = "-";

/** One classified text. */
export interface Classification {
  text: string;
  /** The most likely label, or {@link UNCLASSIFIED} when the text has no known word. */
  label: string;
  /** Probability of each label; empty when the text was not classified. */
  probabilities: Record<string, number>;
}

/** Whether `text` has a token of the vocabulary other than `<unk>`. */
function hasKnownWord(bundle: Bundle, text: string): boolean {
  const settings = parseTextSettings(bundle.metadata.tokenizer);
  return tokenize(text, settings).some((w) => bundle.vocab.has(w) && w !== bundle.vocab.unkToken);
}

/**
 * Classifies each text (one per element), one result per text in order. A
 * text with no word of the vocabulary (blank, or only unknown words) gets
 * the label {@link UNCLASSIFIED} and no probabilities: the model would only
 * be guessing from its bias.
 */
export async function classify(bundle: Bundle, texts: string[]): Promise<Classification[]> {
  requireKind(bundle, "classifier", "classify");
  const labels = bundle.metadata.labels ?? [];
  const known = texts.filter((t) => hasKnownWord(bundle, t));
  const classified = new Map<string, Classification>();
  for (let start = 0; start < known.length; start += 64) {
    const chunk = known.slice(start, start + 64);
    const { logits } = await runClassifier(
      bundle.session,
      chunk.map((t) => encodeClassifierText(bundle, t)),
    );
    chunk.forEach((text, b) => {
      const p = softmax(logits, b * labels.length, labels.length);
      const best = p.indexOf(Math.max(...p));
      classified.set(text, {
        text,
        label: labels[best],
        probabilities: Object.fromEntries(labels.map((l, i) => [l, p[i]])),
      });
    });
  }
  return texts.map((text) =>
    classified.get(text) ?? { text, label: UNCLASSIFIED, probabilities: {} }
  );
}

/**
 * Perplexity of `text` under a language model, reading it as one stream in
 * calls of 256 tokens with the state carried. For an int8 bundle
 * (`metadata.causal` false) the result depends on that split, slightly.
 */
export async function score(
  bundle: Bundle,
  text: string,
  source = "input",
): Promise<{ tokens: number; perplexity: number; bitsPerCharacter?: number }> {
  requireKind(bundle, "lm", "score");
  const ids = encodeLmText(bundle, text, source);
  const eos = isCharModel(bundle) ? -1 : bundle.vocab.encode(EOS);
  check(
    ids.length >= 2 && ids.some((id) => id !== eos),
    `${source} has fewer than two tokens of text; give it at least one line of words`,
  );
  const V = bundle.metadata.model.vocabSize;
  let state: LmState | undefined;
  let nats = 0;
  const chunk = 256;
  for (let start = 0; start < ids.length - 1; start += chunk) {
    const input = ids.slice(start, Math.min(start + chunk, ids.length - 1));
    const result = await runLanguageModel(bundle.session, input.map((id) => [id]), state);
    state = result.state;
    input.forEach((_, t) => {
      const p = softmax(result.logits, t * V, V);
      nats -= Math.log(p[ids[start + t + 1]]);
    });
  }
  const perToken = nats / (ids.length - 1);
  return {
    tokens: ids.length - 1,
    perplexity: Math.exp(perToken),
    ...(isCharModel(bundle) ? { bitsPerCharacter: perToken / Math.LN2 } : {}),
  };
}

/** Options of {@link generate}. */
export interface GenerateOptions {
  length: number;
  temperature: number;
  seed: number;
}

/** Continues `prompt` by sampling `length` words, one step at a time with carried state. */
export async function generate(
  bundle: Bundle,
  prompt: string,
  options: GenerateOptions,
): Promise<string[]> {
  requireKind(bundle, "lm", "generate");
  check(options.temperature > 0, `--temperature must be positive, got ${options.temperature}`);
  check(
    Number.isInteger(options.length) && options.length >= 1,
    `--length must be a whole number of words, at least 1, got ${options.length}`,
  );
  const V = bundle.metadata.model.vocabSize;
  const rng = new Rng(options.seed);
  // The training reader's rule: words are split on ASCII whitespace only;
  // a character model reads the prompt as it is, and starts a blank one on a new line.
  const words = isCharModel(bundle) ? charTokens(prompt) : splitWords(prompt);
  const start = isCharModel(bundle)
    ? (bundle.vocab.has("\n") ? "\n" : bundle.vocab.tokens[0])
    : EOS;
  const context = words.length > 0
    ? words.map((w) => bundle.vocab.encode(w, { file: "prompt", line: 1 }))
    : [bundle.vocab.encode(start)];
  let result = await runLanguageModel(bundle.session, context.map((id) => [id]));
  const out: string[] = [];
  for (let i = 0; i < options.length; i++) {
    const p = softmax(result.logits, (result.dims[0] - 1) * V, V, options.temperature);
    let r = rng.next();
    let next = 0;
    while (next < V - 1 && (r -= p[next]) > 0) next++;
    out.push(bundle.vocab.decode(next));
    result = await runLanguageModel(bundle.session, [[next]], result.state);
  }
  return out;
}

/** One step of {@link streamStep}: the most likely next words and the carried state. */
export interface StreamStep {
  word: string;
  next: { word: string; probability: number }[];
  state: LmState;
}

/** Feeds one word, carrying `state` from the previous call, and returns the top next words. */
export async function streamStep(
  bundle: Bundle,
  word: string,
  state?: LmState,
  top = 3,
): Promise<StreamStep> {
  requireKind(bundle, "lm", "stream");
  const V = bundle.metadata.model.vocabSize;
  const id = bundle.vocab.encode(word, { file: "stream", line: 1 });
  const result = await runLanguageModel(bundle.session, [[id]], state);
  const p = softmax(result.logits, 0, V);
  const order = [...p.keys()].sort((a, b) => p[b] - p[a]).slice(0, top);
  return {
    word,
    next: order.map((i) => ({ word: bundle.vocab.decode(i), probability: p[i] })),
    state: result.state,
  };
}
