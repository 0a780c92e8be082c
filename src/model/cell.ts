/**
 * One recurrent layer of either cell, chosen by the model config: the one
 * place the tfjs models dispatch on `config.cell`.
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs";
import type { ModelConfig } from "../spec/config.ts";
import { gruLayer } from "./gru.ts";
import { lstmLayer, type LstmState } from "./lstm.ts";
import type { Params } from "./params.ts";

/** Runs layer `l` of `config` over `[T, B, in]` inputs from `initial`. */
export function recurrentLayer(
  config: ModelConfig,
  params: Params,
  l: number,
  inputs: tf.Tensor3D,
  initial: LstmState,
  stepMasks?: tf.Tensor2D[],
): { outputs: tf.Tensor3D; final: LstmState } {
  const p = `${config.cell}.${l}`;
  const W = params[`${p}.W`] as tf.Tensor2D;
  const R = params[`${p}.R`] as tf.Tensor2D;
  const b = params[`${p}.b`] as tf.Tensor1D;
  switch (config.cell) {
    case "lstm":
      return lstmLayer(inputs, { W, R, b }, initial, stepMasks);
    case "gru":
      return gruLayer(
        inputs,
        { W, R, b, bR: params[`${p}.bR`] as tf.Tensor1D },
        initial,
        stepMasks,
      );
  }
}
