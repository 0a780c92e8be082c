/**
 * Variational dropout (Gal & Ghahramani 2016), as the RHN paper trains with
 * it: each mask is drawn once per sequence and held across its time steps.
 * Four sites, each with its own rate:
 *
 * - **embedding**: drops word types, a whole embedding vector, the same for
 *   every occurrence of a word in a sequence;
 * - **input**: the input of each recurrent layer, one mask per sequence;
 * - **hidden**: the recurrent state entering each RHN micro-layer's product
 *   `s·R_k` (the carry `s·(1 − t)` reads it undropped);
 * - **output**: each recurrent layer's output (into the next layer or the
 *   decoder).
 *
 * Like ./dropout.ts, a mask entry is a pure function of (seed, index), so
 * the tfjs model and the CPU engine (in any number of threads) drop the
 * same units. Sequences are numbered within the whole batch.
 *
 * @module
 */

import type { VariationalRates } from "../spec/config.ts";
import { dropoutScale } from "./dropout.ts";

/** Seed offsets of the sites (the plain dropout of ./dropout.ts uses 0 … layers). */
const SALT = { embedding: 0x4000, input: 0x1000, hidden: 0x2000, output: 0x3000 };

/** The seed of a site of layer `layer` (0 for the embedding) in a step drawn with `seed`. */
export function variationalSeed(
  seed: number,
  site: keyof VariationalRates,
  layer = 0,
): number {
  return seed + SALT[site] + layer;
}

/** The scale of feature `f` of sequence `b`: 1/(1 − rate) where kept, 0 where dropped. */
export function sequenceScale(
  seed: number,
  rate: number,
  b: number,
  f: number,
  features: number,
): number {
  return dropoutScale(seed, rate, b, f, features);
}

/** The scale of every use of word `token` in sequence `b`. */
export function wordScale(
  seed: number,
  rate: number,
  b: number,
  token: number,
  vocabSize: number,
): number {
  return dropoutScale(seed, rate, b, token, vocabSize);
}

/** A `[B, F]` per-sequence mask (batch-major, as tfjs holds it). */
export function sequenceMask(seed: number, rate: number, B: number, F: number): Float32Array {
  const mask = new Float32Array(B * F);
  for (let b = 0; b < B; b++) {
    for (let f = 0; f < F; f++) mask[b * F + f] = sequenceScale(seed, rate, b, f, F);
  }
  return mask;
}

/**
 * Multiplies a feature-major `[F][T·B]` mask `out` (column `t·B + b`) by the
 * per-sequence mask; `sequenceOf` maps a thread's sequence to the batch's.
 */
export function applySequenceMask(
  seed: number,
  rate: number,
  T: number,
  B: number,
  F: number,
  out: Float32Array,
  sequenceOf: (b: number) => number = (b) => b,
): void {
  const N = T * B;
  for (let b = 0; b < B; b++) {
    const sequence = sequenceOf(b);
    for (let f = 0; f < F; f++) {
      const scale = sequenceScale(seed, rate, sequence, f, F);
      for (let t = 0; t < T; t++) out[f * N + t * B + b] *= scale;
    }
  }
}

/**
 * Multiplies a feature-major `[F][T·B]` mask `out` by the word-type mask of
 * time-major `tokens` (`[T·B]`): every feature of a column shares its word's scale.
 */
export function applyWordMask(
  seed: number,
  rate: number,
  tokens: Int32Array,
  B: number,
  F: number,
  vocabSize: number,
  out: Float32Array,
  sequenceOf: (b: number) => number = (b) => b,
): void {
  const N = tokens.length;
  for (let n = 0; n < N; n++) {
    const scale = wordScale(seed, rate, sequenceOf(n % B), tokens[n], vocabSize);
    if (scale === 1) continue;
    for (let f = 0; f < F; f++) out[f * N + n] *= scale;
  }
}

/** The word-type scale of each of `[T·B]` time-major tokens (tfjs: a `[T, B, 1]` mask). */
export function wordMask(
  seed: number,
  rate: number,
  tokens: ArrayLike<number>,
  B: number,
  vocabSize: number,
): Float32Array {
  return Float32Array.from(
    { length: tokens.length },
    (_, n) => wordScale(seed, rate, n % B, tokens[n], vocabSize),
  );
}
