/**
 * The initial sparse topology of a model: one random mask per sparse
 * parameter, each with exactly its allocated nonzero count.
 *
 * @module
 */

import type { ParamSpec } from "../model/config.ts";
import {
  allocateNonzeros,
  type DensityMethod,
  type DensityTarget,
  type SparseParamOptions,
  sparseParams,
} from "./density.ts";
import { randomMask } from "./mask.ts";
import type { Rng } from "./rng.ts";

/** How to build the initial masks. */
export interface MaskInitOptions extends SparseParamOptions {
  method: DensityMethod;
  target: DensityTarget;
}

/**
 * A mask for every sparse parameter of `specs` (see {@link sparseParams}),
 * keyed by parameter name, drawn in spec order from `rng`. Parameters that
 * are not sparse get no entry: they are dense.
 */
export function initMasks(
  specs: readonly ParamSpec[],
  options: MaskInitOptions,
  rng: Rng,
): Map<string, Uint8Array> {
  const sparse = sparseParams(specs, options);
  const allocation = allocateNonzeros(sparse, options.target, options.method);
  const masks = new Map<string, Uint8Array>();
  for (const layer of allocation) {
    masks.set(layer.name, randomMask(layer.size, layer.nonzeros, rng));
  }
  return masks;
}
