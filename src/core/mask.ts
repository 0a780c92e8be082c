/**
 * Binary masks over flat, row-major weight arrays. A mask has one byte per
 * weight: 1 keeps the weight active, 0 pins it to exactly zero.
 *
 * @module
 */

import type { Rng } from "./rng.ts";

/**
 * A mask of `size` entries with exactly `nonzeros` ones at uniformly random
 * positions.
 *
 * Rejection sampling is used on whichever of ones or zeros is the minority,
 * so every draw succeeds with probability at least one half and no index
 * array of the whole matrix is needed.
 */
export function randomMask(
  size: number,
  nonzeros: number,
  rng: Rng,
): Uint8Array {
  if (!Number.isInteger(size) || size < 0) {
    throw new RangeError(
      `mask size must be a non-negative integer, got ${size}`,
    );
  }
  if (!Number.isInteger(nonzeros) || nonzeros < 0 || nonzeros > size) {
    throw new RangeError(
      `nonzeros must be an integer in [0, ${size}], got ${nonzeros}`,
    );
  }
  const placeOnes = nonzeros <= size - nonzeros;
  const mask = new Uint8Array(size);
  if (!placeOnes) mask.fill(1);
  const target = placeOnes ? 1 : 0;
  let toPlace = placeOnes ? nonzeros : size - nonzeros;
  while (toPlace > 0) {
    const i = rng.int(size);
    if (mask[i] !== target) {
      mask[i] = target;
      toPlace--;
    }
  }
  return mask;
}

/** The number of active (nonzero) entries of a mask. */
export function countActive(mask: Uint8Array): number {
  let count = 0;
  for (let i = 0; i < mask.length; i++) count += mask[i] !== 0 ? 1 : 0;
  return count;
}

/** Sets `weights` to exactly zero wherever `mask` is 0, in place; returns `weights`. */
export function applyMask(
  weights: Float32Array,
  mask: Uint8Array,
): Float32Array {
  assertSameLength(weights.length, mask.length);
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] === 0) weights[i] = 0;
  }
  return weights;
}

/**
 * Sets `array[i] = 0` for every index in `indices`, in place; returns
 * `array`. Used to clear optimizer state (momentum, Adam moments) at pruned
 * positions, so a regrown connection starts from a clean slate.
 */
export function zeroAt<T extends Float32Array | Float64Array>(
  array: T,
  indices: ArrayLike<number>,
): T {
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    if (i < 0 || i >= array.length) {
      throw new RangeError(`index ${i} is outside an array of ${array.length}`);
    }
    array[i] = 0;
  }
  return array;
}

/** The positions where `mask` is 1, in increasing order. */
export function activeIndices(mask: Uint8Array): Int32Array {
  return indicesWhere(mask, 1);
}

/** The positions where `mask` is 0, in increasing order. */
export function inactiveIndices(mask: Uint8Array): Int32Array {
  return indicesWhere(mask, 0);
}

function indicesWhere(mask: Uint8Array, value: 0 | 1): Int32Array {
  let count = 0;
  for (let i = 0; i < mask.length; i++) {
    if ((mask[i] !== 0 ? 1 : 0) === value) count++;
  }
  const out = new Int32Array(count);
  let k = 0;
  for (let i = 0; i < mask.length; i++) {
    if ((mask[i] !== 0 ? 1 : 0) === value) out[k++] = i;
  }
  return out;
}

/** Throws unless a weight array and its mask have the same length. */
export function assertSameLength(weights: number, mask: number): void {
  if (weights !== mask) {
    throw new RangeError(
      `weights (${weights}) and mask (${mask}) differ in length`,
    );
  }
}
