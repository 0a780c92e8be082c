/**
 * Model parameters: creating them, and moving them between tfjs variables
 * and the plain typed arrays that checkpoints, export and the sparse core use.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../core/rng.ts";
import { type ModelConfig, paramSpecs, sizeOf } from "./config.ts";

/** A parameter as plain data. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/** All parameters of a model as plain data, keyed by {@link paramSpecs} names. */
export type HostParams = Record<string, HostTensor>;

/** All parameters of a model as trainable tfjs variables. */
export type Params = Record<string, tf.Variable>;

/**
 * Fresh weights: uniform in ±1/√H for LSTM and decoder weights (PyTorch's
 * LSTM default), ±0.1 for the embedding, zero biases. Drawn from `rng` so
 * the same seed gives the same model on every backend.
 */
export function initParams(config: ModelConfig, rng: Rng): HostParams {
  const params: HostParams = {};
  const lstmScale = 1 / Math.sqrt(config.hiddenSize);
  for (const spec of paramSpecs(config)) {
    const data = new Float32Array(sizeOf(spec.shape));
    if (spec.role !== "bias") {
      const scale = spec.role === "embedding" ? 0.1 : lstmScale;
      for (let i = 0; i < data.length; i++) data[i] = rng.uniform(-scale, scale);
    }
    params[spec.name] = { shape: spec.shape, data };
  }
  return params;
}

/** Uploads host parameters as tfjs variables. */
export function toVariables(params: HostParams): Params {
  const vars: Params = {};
  for (const [name, p] of Object.entries(params)) {
    // tidy frees the initial tensor handle; the variable keeps its data.
    vars[name] = tf.tidy(() => tf.variable(tf.tensor(p.data, p.shape), true, name));
  }
  return vars;
}

/** Downloads tfjs variables as host parameters. */
export async function toHost(vars: Params): Promise<HostParams> {
  const params: HostParams = {};
  for (const [name, v] of Object.entries(vars)) {
    params[name] = { shape: v.shape, data: (await v.data()) as Float32Array };
  }
  return params;
}
