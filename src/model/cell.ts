/**
 * One recurrent layer of whichever cell a model uses (`config.cell`): the one
 * place the tfjs models dispatch on it, so the language model and the
 * classifier stay cell-agnostic.
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs";
import { type ModelConfig, recurrenceDepth } from "../spec/config.ts";
import { gruLayer } from "./gru.ts";
import { lstmLayer, type LstmState } from "./lstm.ts";
import type { Params } from "./params.ts";
import { rhnLayer } from "./rhn.ts";

/** Runs layer `l` of `config` over `[T, B, in]` inputs from `initial`. */
export function recurrentLayer(
  config: ModelConfig,
  params: Params,
  l: number,
  inputs: tf.Tensor3D,
  initial: LstmState,
  stepMasks?: tf.Tensor2D[],
  /** `[B, H]` variational hidden dropout (RHN only). */
  hiddenMask?: tf.Tensor2D,
): { outputs: tf.Tensor3D; final: LstmState } {
  const p = `${config.cell}.${l}`;
  switch (config.cell) {
    case "lstm":
      return lstmLayer(
        inputs,
        {
          W: params[`${p}.W`] as tf.Tensor2D,
          R: params[`${p}.R`] as tf.Tensor2D,
          b: params[`${p}.b`] as tf.Tensor1D,
        },
        initial,
        stepMasks,
      );
    case "gru":
      return gruLayer(
        inputs,
        {
          W: params[`${p}.W`] as tf.Tensor2D,
          R: params[`${p}.R`] as tf.Tensor2D,
          b: params[`${p}.b`] as tf.Tensor1D,
          bR: params[`${p}.bR`] as tf.Tensor1D,
        },
        initial,
        stepMasks,
      );
    case "rhn": {
      const micro = Array.from({ length: recurrenceDepth(config) }, (_, k) => k);
      return rhnLayer(
        inputs,
        {
          W: params[`${p}.W`] as tf.Tensor2D,
          R: micro.map((k) => params[`${p}.R.${k}`] as tf.Tensor2D),
          b: micro.map((k) => params[`${p}.b.${k}`] as tf.Tensor1D),
        },
        initial,
        stepMasks,
        hiddenMask,
      );
    }
  }
}
