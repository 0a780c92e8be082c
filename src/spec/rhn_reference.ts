/**
 * The float64 reference step of a Recurrent Highway Network layer (Zilly et
 * al. 2017), the oracle the engine, the tfjs model and exported graphs are
 * held to. Layout and names: ./config.ts.
 *
 * Per time step, micro-layers `k = 0 … D−1` update the state `s`:
 * `h = tanh(x·W_H[k=0] + s·R_H,k + b_H,k)`, `t = σ(x·W_T[k=0] + s·R_T,k + b_T,k)`,
 * `s ← h·t + s·(1 − t)`. The input enters micro-layer 0 only; the layer's
 * output is the last micro-layer's `s`, which is also the next step's state.
 *
 * @module
 */

import { type ModelConfig, recurrenceDepth } from "./config.ts";
import type { HostParams } from "./params.ts";

/** One RHN layer's parameters with its sizes. */
export interface RhnLayer {
  /** `[in, 2H]`: candidate and transform-gate columns. */
  W: Float32Array;
  /** Per micro-layer, `[H, 2H]`. */
  R: Float32Array[];
  /** Per micro-layer, `[2H]`. */
  b: Float32Array[];
  inputSize: number;
  hidden: number;
}

/** The RHN layers of `config` read from `weights`. */
export function rhnLayers(config: ModelConfig, weights: HostParams): RhnLayer[] {
  const depth = recurrenceDepth(config);
  const layers: RhnLayer[] = [];
  for (let l = 0; l < config.layers; l++) {
    const micro = Array.from({ length: depth }, (_, k) => k);
    layers.push({
      W: weights[`rhn.${l}.W`].data,
      R: micro.map((k) => weights[`rhn.${l}.R.${k}`].data),
      b: micro.map((k) => weights[`rhn.${l}.b.${k}`].data),
      inputSize: l === 0 ? config.embedSize : config.hiddenSize,
      hidden: config.hiddenSize,
    });
  }
  return layers;
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** `z += v · M` for a row-major `M` of `v.length` rows and `z.length` columns. */
function addProduct(z: Float64Array, v: Float64Array, M: Float32Array): void {
  const G = z.length;
  for (let r = 0; r < v.length; r++) {
    const vr = v[r];
    if (vr === 0) continue;
    const row = r * G;
    for (let j = 0; j < G; j++) z[j] += vr * M[row + j];
  }
}

/** Advances one RHN layer by one step on input `x`; the state `s` is updated in place. */
export function rhnStep(layer: RhnLayer, x: Float64Array, s: Float64Array): void {
  const H = layer.hidden;
  const z = new Float64Array(2 * H);
  for (let k = 0; k < layer.R.length; k++) {
    for (let j = 0; j < 2 * H; j++) z[j] = layer.b[k][j];
    if (k === 0) addProduct(z, x, layer.W);
    addProduct(z, s, layer.R[k]);
    for (let j = 0; j < H; j++) {
      const h = Math.tanh(z[j]);
      const t = sigmoid(z[H + j]);
      s[j] = h * t + s[j] * (1 - t);
    }
  }
}
