/**
 * Splitting an integer total among layers in proportion to weights, with a
 * per-layer cap, so that the parts add up to the total exactly. Both
 * Erdős–Rényi allocation and Sparse Momentum redistribution are this
 * problem.
 *
 * @module
 */

/**
 * Integer parts `c[l]` with `0 <= c[l] <= caps[l]` and `sum(c) === total`,
 * as close as possible to proportional to `weights`.
 *
 * Layers whose proportional share reaches their cap are fixed at the cap and
 * the rest is shared again among the others (the iterative capping of RigL's
 * Erdős–Rényi-Kernel). Fractional parts are settled by the largest remainder,
 * ties to the lower layer index, so the result is deterministic. When all
 * uncapped weights are zero, the rest is shared in proportion to the room
 * each layer has left.
 */
export function apportion(
  total: number,
  weights: readonly number[],
  caps: readonly number[],
): number[] {
  const n = weights.length;
  if (caps.length !== n) {
    throw new RangeError(`${n} weights but ${caps.length} caps`);
  }
  for (let l = 0; l < n; l++) {
    if (!(weights[l] >= 0) || !Number.isFinite(weights[l])) {
      throw new RangeError(
        `weight ${l} must be finite and >= 0, got ${weights[l]}`,
      );
    }
    if (!Number.isInteger(caps[l]) || caps[l] < 0) {
      throw new RangeError(`cap ${l} must be an integer >= 0, got ${caps[l]}`);
    }
  }
  const capacity = caps.reduce((a, b) => a + b, 0);
  if (!Number.isInteger(total) || total < 0 || total > capacity) {
    throw new RangeError(`cannot place ${total} in a capacity of ${capacity}`);
  }

  const capped = caps.map((cap) => cap === 0);
  let shares = new Array<number>(n).fill(0);
  for (;;) {
    let remaining = total;
    let weightSum = 0;
    for (let l = 0; l < n; l++) {
      if (capped[l]) remaining -= caps[l];
      else weightSum += weights[l];
    }
    const effective = weightSum > 0 ? weights : caps.map((cap, l) => (capped[l] ? 0 : cap));
    const effectiveSum = weightSum > 0 ? weightSum : effective.reduce((a, b) => a + b, 0);
    shares = effective.map((w, l) =>
      capped[l] ? caps[l] : effectiveSum > 0 ? (remaining * w) / effectiveSum : 0
    );
    let newlyCapped = false;
    for (let l = 0; l < n; l++) {
      if (!capped[l] && shares[l] >= caps[l]) {
        capped[l] = true;
        newlyCapped = true;
      }
    }
    if (!newlyCapped) break;
  }

  const parts = shares.map((s, l) => (capped[l] ? caps[l] : Math.floor(s)));
  const fractions = shares.map((s, l) => (capped[l] ? 0 : s - Math.floor(s)));
  let missing = total - parts.reduce((a, b) => a + b, 0);
  const byFractionDesc = [...parts.keys()].sort((a, b) => fractions[b] - fractions[a] || a - b);
  // Floating-point error can leave `missing` outside [0, n) by one step, so
  // keep cycling until it is settled rather than assuming a single pass.
  while (missing > 0) {
    for (const l of byFractionDesc) {
      if (missing > 0 && parts[l] < caps[l]) {
        parts[l]++;
        missing--;
      }
    }
  }
  while (missing < 0) {
    for (const l of [...byFractionDesc].reverse()) {
      if (missing < 0 && parts[l] > 0) {
        parts[l]--;
        missing++;
      }
    }
  }
  return parts;
}
