/**
 * Dropout masks that both compute paths draw identically. A mask entry is a
 * pure function of (seed, index), so the tfjs model (`[T, B, F]` tensors) and
 * the CPU engine (`[F][T·B]` matrices) each fill their own layout and still
 * drop the same units, which is what lets the two paths agree step by step.
 *
 * @module
 */

/** A 32-bit hash of (seed, index): lowbias32's finaliser over the mixed pair. */
function hash(seed: number, index: number): number {
  let x = (Math.imul(index, 0x9e3779b1) ^ seed) >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x21f0aaad);
  x ^= x >>> 15;
  x = Math.imul(x, 0x735a2d97);
  x ^= x >>> 15;
  return x >>> 0;
}

/**
 * The keep-mask of unit (`step`·`batch` + `b`, `feature`) for inputs of
 * `features` features: 1/(1 − rate) where kept, 0 where dropped. The index
 * is time-major with the feature last, as in a `[T, B, F]` tensor.
 */
export function dropoutScale(
  seed: number,
  rate: number,
  column: number,
  feature: number,
  features: number,
): number {
  const u = hash(seed >>> 0, column * features + feature) / 4294967296;
  return u < rate ? 0 : 1 / (1 - rate);
}

/** A whole `[columns, features]` keep-mask, time-major with the feature last. */
export function dropoutMask(
  seed: number,
  rate: number,
  columns: number,
  features: number,
): Float32Array {
  const mask = new Float32Array(columns * features);
  for (let n = 0; n < columns; n++) {
    for (let f = 0; f < features; f++) {
      mask[n * features + f] = dropoutScale(seed, rate, n, f, features);
    }
  }
  return mask;
}

/**
 * The same mask laid out feature-major, `[features][columns]`, as the CPU
 * engine stores activations; written into `out`. A thread that computes some
 * of a batch's sequences passes `columnOf`, which maps its own columns to
 * the whole batch's, so that every unit keeps the mask it has in one thread.
 */
export function dropoutMaskFeatureMajor(
  seed: number,
  rate: number,
  columns: number,
  features: number,
  out: Float32Array,
  columnOf: (n: number) => number = (n) => n,
): void {
  for (let n = 0; n < columns; n++) {
    const column = columnOf(n);
    for (let f = 0; f < features; f++) {
      out[f * columns + n] = dropoutScale(seed, rate, column, f, features);
    }
  }
}
