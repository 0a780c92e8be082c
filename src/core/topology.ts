/**
 * One topology update across all sparse layers: prune, decide how many to
 * regrow where, grow. Weights and masks are changed in place.
 *
 * @module
 */

import { check } from "../spec/errors.ts";
import type { GrowFn } from "./grow.ts";
import { assertSameLength, countActive } from "./mask.ts";
import { magnitudePrune, type PruneFn } from "./prune.ts";
import type { RedistributeFn } from "./redistribute.ts";
import type { Rng } from "./rng.ts";

/** One sparse layer as the update sees it. */
export interface TopologyLayer {
  name: string;
  /** Row-major weights; changed in place. */
  weights: Float32Array;
  /** 1 = active; changed in place. */
  mask: Uint8Array;
  /** The dense weight gradient, for gradient growth. */
  gradient?: Float32Array;
  /** The dense optimizer momentum, for momentum growth and redistribution. */
  momentum?: Float32Array;
}

/** How to update. */
export interface TopologyOptions {
  /** Fraction of each layer's active weights to prune, in [0, 1]. */
  pruneRate: number;
  prune: PruneFn;
  grow: GrowFn;
  redistribute: RedistributeFn;
  rng: Rng;
}

/** What happened to one layer. */
export interface LayerTopologyReport {
  name: string;
  /** Positions turned off, increasing. Zero the optimizer state here. */
  pruned: Int32Array;
  /** Positions turned on (with weight 0), increasing. */
  grown: Int32Array;
  activeBefore: number;
  activeAfter: number;
}

/** What happened in one update, layer by layer in the order given. */
export interface TopologyReport {
  pruneRate: number;
  layers: LayerTopologyReport[];
}

/**
 * Prunes `k = min(round(p·nnz), size - nnz)` weights of each layer (the cap
 * leaves growth enough positions that were inactive before the update),
 * sets them to 0 and masks them off, then grows as many connections as the
 * redistribution assigns, with weight 0. Growth never picks a position
 * active before the update, so a pruned connection is not regrown at once.
 *
 * Each layer keeps its nonzero count under no redistribution; under any
 * redistribution the total over all layers is kept. The caller zeroes the
 * optimizer state at the pruned indices (see `zeroAt`).
 */
export function updateTopology(
  layers: readonly TopologyLayer[],
  options: TopologyOptions,
): TopologyReport {
  const { pruneRate, prune, grow, redistribute, rng } = options;
  check(
    Number.isFinite(pruneRate) && pruneRate >= 0 && pruneRate <= 1,
    `prune rate must be in [0, 1], got ${pruneRate}`,
  );
  const eligible: Uint8Array[] = [];
  const activeBefore: number[] = [];
  const meanMomentum: (number | undefined)[] = [];
  const pruned: Int32Array[] = [];
  for (const layer of layers) {
    assertSameLength(layer.weights.length, layer.mask.length);
    const { weights, mask } = layer;
    const active = countActive(mask);
    activeBefore.push(active);
    const free = new Uint8Array(mask.length);
    for (let i = 0; i < mask.length; i++) free[i] = mask[i] === 0 ? 1 : 0;
    eligible.push(free);
    meanMomentum.push(
      layer.momentum && meanAbsOverActive(layer.momentum, mask, active),
    );
    const count = Math.min(
      Math.round(pruneRate * active),
      mask.length - active,
    );
    const drop = prune(weights, mask, count);
    checkPicked(layer, "prune", drop, count, (i) => mask[i] === 1);
    for (const i of drop) {
      weights[i] = 0;
      mask[i] = 0;
    }
    pruned.push(drop);
  }

  const prunedCounts = pruned.map((p) => p.length);
  const toGrow = redistribute(
    layers.map((layer, l) => ({
      active: activeBefore[l],
      size: layer.mask.length,
      meanMomentum: meanMomentum[l],
    })),
    prunedCounts.reduce((a, b) => a + b, 0),
    prunedCounts,
  );

  const reports = layers.map((layer, l): LayerTopologyReport => {
    const { weights, mask } = layer;
    const grown = grow({
      mask,
      eligible: eligible[l],
      count: toGrow[l],
      rng,
      gradient: layer.gradient,
      momentum: layer.momentum,
    });
    checkPicked(
      layer,
      "grow",
      grown,
      toGrow[l],
      (i) => eligible[l][i] === 1 && mask[i] === 0,
    );
    for (const i of grown) {
      weights[i] = 0;
      mask[i] = 1;
    }
    return {
      name: layer.name,
      pruned: pruned[l],
      grown,
      activeBefore: activeBefore[l],
      activeAfter: activeBefore[l] - pruned[l].length + grown.length,
    };
  });
  return { pruneRate, layers: reports };
}

/**
 * Guards the contract of pluggable strategies: exactly `count` distinct
 * indices, each allowed. Runs before the mask is flipped, so `allowed`
 * still sees the state the strategy was given.
 */
function checkPicked(
  layer: TopologyLayer,
  what: string,
  picked: Int32Array,
  count: number,
  allowed: (index: number) => boolean,
): void {
  if (picked.length !== count) {
    throw new Error(
      `${layer.name}: ${what} returned ${picked.length} indices, expected ${count}`,
    );
  }
  const seen = new Uint8Array(layer.mask.length);
  for (const i of picked) {
    if (!(i >= 0 && i < seen.length) || !allowed(i) || seen[i] === 1) {
      throw new Error(
        `${layer.name}: ${what} picked position ${i}, which it may not`,
      );
    }
    seen[i] = 1;
  }
}

function meanAbsOverActive(
  values: Float32Array,
  mask: Uint8Array,
  active: number,
): number {
  assertSameLength(values.length, mask.length);
  if (active === 0) return 0;
  let sum = 0;
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] !== 0) sum += Math.abs(values[i]);
  }
  return sum / active;
}

/** One layer's part in {@link pruneToCounts}. */
export interface PruneTarget {
  /** Nonzeros the layer keeps; pruning never adds connections. */
  nonzeros: number;
}

/**
 * Prunes each layer down to `targets[l].nonzeros` active weights with
 * `prune`, without regrowth: the step of gradual magnitude pruning (the
 * `gmp` baseline). Layers already at or below their target are left alone.
 * Returns the pruned positions per layer, for zeroing optimizer state.
 */
export function pruneToCounts(
  layers: readonly TopologyLayer[],
  targets: readonly PruneTarget[],
  prune: PruneFn,
): Int32Array[] {
  return layers.map((layer, l) => {
    const { weights, mask } = layer;
    const count = Math.max(0, countActive(mask) - targets[l].nonzeros);
    const drop = prune(weights, mask, count);
    checkPicked(layer, "prune", drop, count, (i) => mask[i] === 1);
    for (const i of drop) {
      weights[i] = 0;
      mask[i] = 0;
    }
    return drop;
  });
}

/**
 * Prunes each layer down to `1 - sparsity` of its entries by magnitude,
 * without regrowth (gradual magnitude pruning), in place; returns the pruned
 * indices of each layer.
 */
export function pruneToSparsity(layers: TopologyLayer[], sparsity: number): Int32Array[] {
  const targets = layers.map((l) => ({ nonzeros: Math.round((1 - sparsity) * l.mask.length) }));
  return pruneToCounts(layers, targets, magnitudePrune);
}
