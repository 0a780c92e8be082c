/**
 * Selection of the `count` entries with the smallest or largest magnitude
 * among candidate positions, in linear time. Pruning and gradient/momentum
 * growth both reduce to this.
 *
 * The magnitude of a float32 is ordered exactly like its bit pattern read as
 * an unsigned integer once the sign bit is cleared, so a two-pass radix
 * select over 16-bit digits finds the threshold without sorting the matrix.
 *
 * @module
 */

/** Whether to select the smallest or the largest magnitudes. */
export type SelectOrder = "smallest" | "largest";

const NAN_BITS_ABOVE = 0x7f800000;
const MAX_KEY = 0xffffffff;

/**
 * The `count` positions of `candidates` whose `|values[i]|` is smallest (or
 * largest). Ties at the threshold go to the candidate that comes first in
 * `candidates`, so with candidates in increasing order the lower index wins.
 * The result keeps the order of `candidates`.
 *
 * NaN counts as the least attractive choice in either order: it is selected
 * only when nothing else is left.
 */
export function selectByMagnitude(
  values: Float32Array,
  candidates: Int32Array,
  count: number,
  order: SelectOrder,
): Int32Array {
  const m = candidates.length;
  if (!Number.isInteger(count) || count < 0 || count > m) {
    throw new RangeError(
      `cannot select ${count} of ${m} candidates`,
    );
  }
  if (count === 0) return new Int32Array(0);
  if (count === m) return candidates.slice();
  const keys = magnitudeKeys(values, candidates, order);
  const threshold = kthSmallestKey(keys, count);
  let below = 0;
  for (let j = 0; j < m; j++) if (keys[j] < threshold) below++;
  let equalWanted = count - below;
  const out = new Int32Array(count);
  let k = 0;
  for (let j = 0; j < m && k < count; j++) {
    const key = keys[j];
    if (key < threshold) {
      out[k++] = candidates[j];
    } else if (key === threshold && equalWanted > 0) {
      out[k++] = candidates[j];
      equalWanted--;
    }
  }
  return out;
}

/** Unsigned keys whose ascending order is the wanted selection order. */
function magnitudeKeys(
  values: Float32Array,
  candidates: Int32Array,
  order: SelectOrder,
): Uint32Array {
  const m = candidates.length;
  const floats = new Float32Array(m);
  for (let j = 0; j < m; j++) floats[j] = values[candidates[j]];
  const keys = new Uint32Array(floats.buffer);
  for (let j = 0; j < m; j++) {
    const bits = keys[j] & 0x7fffffff;
    const isNaN = bits > NAN_BITS_ABOVE;
    if (order === "smallest") keys[j] = isNaN ? MAX_KEY : bits;
    else keys[j] = isNaN ? MAX_KEY : MAX_KEY - bits;
  }
  return keys;
}

/** The `count`-th smallest key (1-based), by radix select on 16-bit digits. */
function kthSmallestKey(keys: Uint32Array, count: number): number {
  const histogram = new Uint32Array(65536);
  for (let j = 0; j < keys.length; j++) histogram[keys[j] >>> 16]++;
  let rank = count;
  let high = 0;
  while (rank > histogram[high]) rank -= histogram[high++];
  histogram.fill(0);
  for (let j = 0; j < keys.length; j++) {
    if (keys[j] >>> 16 === high) histogram[keys[j] & 0xffff]++;
  }
  let low = 0;
  while (rank > histogram[low]) rank -= histogram[low++];
  return ((high << 16) | low) >>> 0;
}
