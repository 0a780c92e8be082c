/**
 * The initial state of a model: its weights, and its sparse topology (one
 * random mask per sparse parameter, each with exactly its allocated nonzero
 * count).
 *
 * @module
 */

import { type ModelConfig, type ParamSpec, paramSpecs, sizeOf } from "../spec/config.ts";
import type { HostParams } from "../spec/params.ts";
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

/** The initial bias of an RHN layer's transform gates. */
export const RHN_TRANSFORM_BIAS = -2;

/**
 * How fresh weights are scaled.
 * - `dense`: uniform in ±1/√H for gate and decoder weights (PyTorch's LSTM
 *   default) and ±0.1 for the embedding, whatever the layer's density.
 * - `normal-embedding`: the same, but the embedding drawn from N(0, 1), as
 *   PyTorch's nn.Embedding does.
 * - `fan-in`: `dense`'s draws, with every sparse matrix scaled up by
 *   1/√density, so a unit's summed input has the variance it would have in
 *   the dense layer: a sparse layer is not quieter by accident.
 */
export const WEIGHT_INITS = ["dense", "normal-embedding", "fan-in"] as const;

/** One of {@link WEIGHT_INITS}. */
export type WeightInit = typeof WEIGHT_INITS[number];

/**
 * Fresh weights, as `init` says (see {@link WEIGHT_INITS}), and zero biases
 * except an RHN's transform gates, which start at {@link RHN_TRANSFORM_BIAS}
 * so each micro-layer first mostly carries its state through (Zilly et al.'s
 * PTB setting). Drawn from `rng` so the same seed gives the same model on
 * every backend.
 * For `fan-in`, pass the result through {@link scaleByDensity} once the
 * masks exist.
 */
export function initParams(config: ModelConfig, rng: Rng, init: WeightInit = "dense"): HostParams {
  const params: HostParams = {};
  const gateScale = 1 / Math.sqrt(config.hiddenSize);
  for (const spec of paramSpecs(config)) {
    const data = new Float32Array(sizeOf(spec.shape));
    if (spec.role === "embedding" && init === "normal-embedding") {
      for (let i = 0; i < data.length; i++) data[i] = rng.normal();
    } else if (spec.role !== "bias") {
      const scale = spec.role === "embedding" ? 0.1 : gateScale;
      for (let i = 0; i < data.length; i++) data[i] = rng.uniform(-scale, scale);
    }
    if (spec.role === "bias" && spec.name.startsWith("rhn.")) {
      data.fill(RHN_TRANSFORM_BIAS, config.hiddenSize);
    }
    params[spec.name] = { shape: spec.shape, data };
  }
  return params;
}

/**
 * Scales each masked parameter by 1/√(its density), in place: the `fan-in`
 * initialisation. A parameter without a mask (dense) is left as it is.
 */
export function scaleByDensity(params: HostParams, masks: ReadonlyMap<string, Uint8Array>): void {
  for (const [name, mask] of masks) {
    const active = mask.reduce((n, m) => n + m, 0);
    if (active === 0) continue;
    const factor = Math.sqrt(mask.length / active);
    const data = params[name].data;
    for (let i = 0; i < data.length; i++) data[i] *= factor;
  }
}
