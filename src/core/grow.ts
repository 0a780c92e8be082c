/**
 * Growth strategies: which inactive positions a topology update turns on.
 * New connections always start at weight 0.
 *
 * @module
 */

import type { Rng } from "./rng.ts";
import { selectByMagnitude } from "./select.ts";

/** What a growth strategy may look at. */
export interface GrowContext {
  /** The layer's mask after pruning. */
  mask: Uint8Array;
  /**
   * 1 where a position was inactive *before* this update. Growth picks only
   * from these, so a connection pruned in this update is not regrown in it.
   */
  eligible: Uint8Array;
  /** Exactly how many positions to grow. */
  count: number;
  rng: Rng;
  /** The dense gradient of the layer's weights (needed by RigL). */
  gradient?: Float32Array;
  /** The dense optimizer momentum of the layer's weights (needed by SNFS). */
  momentum?: Float32Array;
}

/**
 * Picks exactly `count` distinct positions that are eligible and inactive,
 * in increasing index order.
 */
export type GrowFn = (context: GrowContext) => Int32Array;

/**
 * Uniformly random growth among eligible positions (the ST-RNN and SET
 * rule). Draws `count` rng values (a partial Fisher–Yates shuffle).
 */
export const randomGrow: GrowFn = (context) => {
  const candidates = growCandidates(context);
  const { count, rng } = context;
  for (let i = 0; i < count; i++) {
    const j = i + rng.int(candidates.length - i);
    const tmp = candidates[i];
    candidates[i] = candidates[j];
    candidates[j] = tmp;
  }
  return candidates.slice(0, count).sort();
};

/**
 * Growth where the dense gradient is largest in magnitude (RigL). Ties go
 * to the lower index.
 */
export const gradientGrow: GrowFn = (context) => {
  if (context.gradient === undefined) {
    throw new Error(
      "gradient growth (RigL) needs the dense weight gradient at the topology update, but none was given",
    );
  }
  return growByMagnitude(context, context.gradient, "gradient");
};

/**
 * Growth where the dense momentum is largest in magnitude (Sparse
 * Momentum, SNFS). Ties go to the lower index.
 */
export const momentumGrow: GrowFn = (context) => {
  if (context.momentum === undefined) {
    throw new Error(
      "momentum growth (SNFS) needs the dense optimizer momentum, but none was given",
    );
  }
  return growByMagnitude(context, context.momentum, "momentum");
};

/** The growth strategies by the names the configuration uses. */
export const growersByName: Readonly<
  Record<"random" | "gradient" | "momentum", GrowFn>
> = {
  random: randomGrow,
  gradient: gradientGrow,
  momentum: momentumGrow,
};

/** A growth strategy's name. */
export type GrowName = keyof typeof growersByName;

function growByMagnitude(
  context: GrowContext,
  scores: Float32Array,
  what: string,
): Int32Array {
  if (scores.length !== context.mask.length) {
    throw new RangeError(
      `${what} (${scores.length}) and mask (${context.mask.length}) differ in length`,
    );
  }
  return selectByMagnitude(
    scores,
    growCandidates(context),
    context.count,
    "largest",
  );
}

/** Eligible, inactive positions in increasing order; checks `count` fits. */
function growCandidates(context: GrowContext): Int32Array {
  const { mask, eligible, count } = context;
  if (eligible.length !== mask.length) {
    throw new RangeError(
      `eligible (${eligible.length}) and mask (${mask.length}) differ in length`,
    );
  }
  let available = 0;
  for (let i = 0; i < mask.length; i++) {
    if (eligible[i] !== 0 && mask[i] === 0) available++;
  }
  if (!Number.isInteger(count) || count < 0 || count > available) {
    throw new RangeError(
      `cannot grow ${count} connections: only ${available} positions are free`,
    );
  }
  const candidates = new Int32Array(available);
  let k = 0;
  for (let i = 0; i < mask.length; i++) {
    if (eligible[i] !== 0 && mask[i] === 0) candidates[k++] = i;
  }
  return candidates;
}
