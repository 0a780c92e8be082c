/**
 * Shared test utilities: temporary directories, tiny training configs that
 * run in about a second on the bundled fixtures, log collection and array
 * comparisons.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { Rng } from "../src/core/rng.ts";
import type { LanguageModelConfig } from "../src/spec/config.ts";
import { crossEntropy, languageModelForward, zeroState } from "../src/model/language_model.ts";
import { toVariables } from "../src/model/params.ts";
import { initParams } from "../src/core/init.ts";
import {
  DEFAULT_CLASSIFIER_CONFIG,
  DEFAULT_LM_CONFIG,
  type SparseConfig,
  sparseConfigFor,
  type TrainConfig,
} from "../src/train/config.ts";
import type { MethodName } from "../src/core/methods.ts";
import { train, type TrainResult } from "../src/train/train.ts";

/** The repository root (the directory above test/). */
export const REPO_ROOT: string = new URL("..", import.meta.url).pathname;

/** Runs `fn` with a fresh temporary directory that is removed afterwards. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "sparrow-test-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Overrides of a tiny config: top-level fields, plus a method and sparse overrides. */
export interface TinyOverrides extends Partial<Omit<TrainConfig, "sparse">> {
  method?: MethodName;
  sparse?: Partial<SparseConfig>;
}

function tiny(base: TrainConfig, out: string, overrides: TinyOverrides): TrainConfig {
  const { method = "strnn", sparse = {}, ...rest } = overrides;
  return {
    ...base,
    out,
    epochs: 2,
    maxSteps: 2,
    logEvery: 0,
    batchSize: 4,
    seed: 1,
    backend: "wasm",
    ...rest,
    sparse: sparseConfigFor(method, { sparsity: 0.5, ...sparse }),
  };
}

/**
 * A language-model run on fixtures/tinylm small enough for a unit test:
 * 2 LSTM layers of 8 units, 2 epochs of 2 steps, 50% sparse.
 */
export function tinyLmConfig(out: string, overrides: TinyOverrides = {}): TrainConfig {
  return tiny(
    {
      ...DEFAULT_LM_CONFIG,
      data: join(REPO_ROOT, "fixtures/tinylm"),
      model: { cell: "lstm", embedSize: 8, hiddenSize: 8, layers: 2, dropout: 0 },
      bptt: 5,
    },
    out,
    overrides,
  );
}

/** A classifier run on fixtures/sentiment, as small as {@link tinyLmConfig}. */
export function tinyClassifierConfig(out: string, overrides: TinyOverrides = {}): TrainConfig {
  return tiny(
    {
      ...DEFAULT_CLASSIFIER_CONFIG,
      data: join(REPO_ROOT, "fixtures/sentiment"),
      model: { cell: "lstm", embedSize: 8, hiddenSize: 8, layers: 1, dropout: 0 },
      maxLength: 20,
    },
    out,
    overrides,
  );
}

/** A log sink that keeps every line, for asserting on progress output. */
export function collectLog(): { lines: string[]; log: (line: string) => void } {
  const lines: string[] = [];
  return { lines, log: (line) => lines.push(line) };
}

/** Trains a tiny model of `kind` into `dir/<kind>.sparrow`, quietly. */
export async function trainTiny(
  kind: "lm" | "classifier",
  dir: string,
  overrides: TinyOverrides = {},
): Promise<{ path: string; result: TrainResult }> {
  const path = join(dir, `${kind}.sparrow`);
  const config = kind === "lm"
    ? tinyLmConfig(path, overrides)
    : tinyClassifierConfig(path, overrides);
  const result = await train(config, () => {});
  return { path, result };
}

/** The largest `|a[i] - b[i]|`; arrays of different lengths fail. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    // NaN must fail a tolerance check, not vanish in a comparison.
    worst = Number.isNaN(d) ? Infinity : Math.max(worst, d);
  }
  return worst;
}

/** `maxAbsDiff(a, b)` relative to the largest magnitude in `b` (1 if `b` is all zero). */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  return maxAbsDiff(a, b) / (scale > 0 ? scale : 1);
}

/** Number of nonzero entries. */
export function countNonzero(values: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (values[i] !== 0) n++;
  return n;
}

/** Whether two typed arrays hold the same bits (so -0 ≠ 0 and NaN = NaN). */
export function sameBits(a: Float32Array | Uint8Array, b: Float32Array | Uint8Array): boolean {
  if (a.length !== b.length || a.constructor !== b.constructor) return false;
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return x.every((v, i) => v === y[i]);
}

/** A small language model for gradient and forward checks (no data needed). */
export const SMALL_LM: LanguageModelConfig = {
  kind: "lm",
  cell: "lstm",
  vocabSize: 23,
  embedSize: 6,
  hiddenSize: 5,
  layers: 2,
  dropout: 0,
};

/**
 * The loss and every parameter gradient of {@link SMALL_LM} on a fixed random
 * batch, computed on tfjs's current backend (read with `await data()`, which
 * every backend supports).
 */
export async function lmGradients(
  seed = 3,
): Promise<{ loss: number; grads: Record<string, Float32Array> }> {
  const rng = new Rng(seed);
  const params = toVariables(initParams(SMALL_LM, rng));
  const T = 7, B = 3;
  const ids = Int32Array.from({ length: T * B }, () => rng.int(SMALL_LM.vocabSize));
  const targets = Int32Array.from({ length: T * B }, () => rng.int(SMALL_LM.vocabSize));
  const { value, grads } = tf.variableGrads(() => {
    const { logits } = languageModelForward(
      SMALL_LM,
      params,
      tf.tensor2d(ids, [T, B], "int32"),
      zeroState(SMALL_LM, B),
    );
    return crossEntropy(logits, tf.tensor1d(targets, "int32"));
  });
  const out: Record<string, Float32Array> = {};
  for (const [name, g] of Object.entries(grads)) out[name] = (await g.data()) as Float32Array;
  const loss = (await value.data())[0];
  tf.dispose([value, ...Object.values(grads), ...Object.values(params)]);
  return { loss, grads: out };
}

/** What a finished command printed and how it exited. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno run -A cli/<command>.ts ...args` from the repository root. */
export async function runCli(command: string, args: string[]): Promise<CommandResult> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `cli/${command}.ts`, ...args],
    cwd: REPO_ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/**
 * Asserts the contract every command keeps for bad input: exit status 1 and
 * exactly one `error: …` line on stderr, naming each of `names`, with no
 * stack trace.
 */
export function assertUserFacingError(result: CommandResult, ...names: string[]): void {
  const lines = result.stderr.split("\n").filter((l) => l.trim() !== "");
  if (result.code !== 1) throw new Error(`exit status ${result.code}; stderr:\n${result.stderr}`);
  if (lines.length !== 1) throw new Error(`expected one line on stderr, got:\n${result.stderr}`);
  if (!lines[0].startsWith("error: ")) throw new Error(`not an error line: ${lines[0]}`);
  if (/^\s+at /m.test(result.stderr)) throw new Error(`stack trace on stderr:\n${result.stderr}`);
  for (const name of names) {
    if (!lines[0].includes(name)) throw new Error(`"${lines[0]}" does not name ${name}`);
  }
}
