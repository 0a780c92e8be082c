/**
 * Redistribution: how many connections each layer regrows after pruning.
 * Whatever the strategy, the counts add up to the number pruned, so the
 * model's total nonzero count never changes.
 *
 * @module
 */

import { apportion } from "./apportion.ts";

/** What a redistribution strategy knows about one layer. */
export interface RedistributeLayer {
  /** Active weights before this update. */
  active: number;
  /** All weights of the layer. */
  size: number;
  /** Mean |momentum| over the layer's active weights (Sparse Momentum). */
  meanMomentum?: number;
}

/**
 * The number of connections each layer grows. The result has one entry per
 * layer, sums to `totalToGrow`, and never exceeds `size - active` for a
 * layer (growth only uses positions inactive before the update).
 */
export type RedistributeFn = (
  layers: readonly RedistributeLayer[],
  totalToGrow: number,
  pruned: readonly number[],
) => number[];

/** Each layer regrows what it pruned, so every layer keeps its nonzero count. */
export const noRedistribution: RedistributeFn = (
  layers,
  totalToGrow,
  pruned,
) => {
  const sum = pruned.reduce((a, b) => a + b, 0);
  if (pruned.length !== layers.length || sum !== totalToGrow) {
    throw new RangeError(
      `pruned counts (${pruned.length} layers, sum ${sum}) do not match ${layers.length} layers and ${totalToGrow} to grow`,
    );
  }
  layers.forEach((layer, l) => {
    if (pruned[l] > layer.size - layer.active) {
      throw new RangeError(
        `layer ${l} cannot regrow ${pruned[l]}: only ${
          layer.size - layer.active
        } positions were free`,
      );
    }
  });
  return pruned.slice();
};

/**
 * Sparse Momentum's rule: the total is split in proportion to each layer's
 * mean |momentum| over its active weights, capped by the free room of each
 * layer with the excess shared among the others. If every layer's mean
 * momentum is zero (e.g. before the first optimizer step) each layer
 * regrows what it pruned.
 */
export const momentumRedistribution: RedistributeFn = (
  layers,
  totalToGrow,
  pruned,
) => {
  const means = layers.map((layer, l) => {
    const mean = layer.meanMomentum;
    if (mean === undefined || !Number.isFinite(mean) || mean < 0) {
      throw new Error(
        `momentum redistribution needs a finite mean |momentum| >= 0 for layer ${l}, got ${mean}`,
      );
    }
    return mean;
  });
  if (means.every((mean) => mean === 0)) {
    return noRedistribution(layers, totalToGrow, pruned);
  }
  return apportion(
    totalToGrow,
    means,
    layers.map((layer) => layer.size - layer.active),
  );
};

/** The redistribution strategies by the names the configuration uses. */
export const redistributorsByName: Readonly<
  Record<"none" | "momentum", RedistributeFn>
> = {
  none: noRedistribution,
  momentum: momentumRedistribution,
};

/** A redistribution strategy's name. */
export type RedistributeName = keyof typeof redistributorsByName;
