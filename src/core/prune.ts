/**
 * Prune strategies: which active weights a topology update removes.
 *
 * @module
 */

import { activeIndices, assertSameLength } from "./mask.ts";
import { selectByMagnitude } from "./select.ts";

/**
 * Picks `count` currently active positions of a layer to remove. Returns
 * exactly `count` distinct indices, each with `mask[i] === 1`.
 */
export type PruneFn = (
  weights: Float32Array,
  mask: Uint8Array,
  count: number,
) => Int32Array;

/**
 * Removes the `count` active weights of smallest magnitude (the ST-RNN,
 * RigL and SNFS rule). Ties go to the lower index; the result is in
 * increasing index order.
 */
export const magnitudePrune: PruneFn = (weights, mask, count) => {
  assertSameLength(weights.length, mask.length);
  return selectByMagnitude(weights, activeIndices(mask), count, "smallest");
};

/**
 * SET's rule: removes the smallest positive and the largest negative
 * weights, i.e. those closest to zero on each side of it. The count is split
 * in proportion to how many active weights are positive and negative, so
 * neither side is emptied faster than the other.
 *
 * The sign bit decides the side, so `+0` is positive and `-0` negative;
 * exact zeros (fresh connections) are the first to go on their side.
 */
export const setPrune: PruneFn = (weights, mask, count) => {
  assertSameLength(weights.length, mask.length);
  const positive = activeBySign(weights, mask, false);
  const negative = activeBySign(weights, mask, true);
  const active = positive.length + negative.length;
  if (!Number.isInteger(count) || count < 0 || count > active) {
    throw new RangeError(`cannot prune ${count} of ${active} active weights`);
  }
  let fromPositive = active === 0 ? 0 : Math.round((count * positive.length) / active);
  fromPositive = Math.min(
    positive.length,
    Math.max(count - negative.length, fromPositive),
  );
  const picked = new Int32Array(count);
  picked.set(selectByMagnitude(weights, positive, fromPositive, "smallest"));
  picked.set(
    selectByMagnitude(weights, negative, count - fromPositive, "smallest"),
    fromPositive,
  );
  return picked.sort();
};

/** The prune strategies by the names the configuration uses. */
export const prunersByName: Readonly<Record<"magnitude" | "set", PruneFn>> = {
  magnitude: magnitudePrune,
  set: setPrune,
};

/** A prune strategy's name. */
export type PruneName = keyof typeof prunersByName;

/** Whether the sign bit is set, so that `-0` counts as negative. */
function isNegative(value: number): boolean {
  return value < 0 || (value === 0 && 1 / value < 0);
}

function activeBySign(
  weights: Float32Array,
  mask: Uint8Array,
  negative: boolean,
): Int32Array {
  let count = 0;
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] !== 0 && isNegative(weights[i]) === negative) count++;
  }
  const out = new Int32Array(count);
  let k = 0;
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] !== 0 && isNegative(weights[i]) === negative) out[k++] = i;
  }
  return out;
}
