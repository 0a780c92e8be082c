/**
 * One recurrent layer of whichever cell a model uses (`config.cell`), so the
 * language model and the classifier stay cell-agnostic.
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs";
import { type ModelConfig, recurrenceDepth } from "../spec/config.ts";
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
  switch (config.cell) {
    case "lstm":
      return lstmLayer(
        inputs,
        {
          W: params[`lstm.${l}.W`] as tf.Tensor2D,
          R: params[`lstm.${l}.R`] as tf.Tensor2D,
          b: params[`lstm.${l}.b`] as tf.Tensor1D,
        },
        initial,
        stepMasks,
      );
    case "rhn": {
      const micro = Array.from({ length: recurrenceDepth(config) }, (_, k) => k);
      return rhnLayer(
        inputs,
        {
          W: params[`rhn.${l}.W`] as tf.Tensor2D,
          R: micro.map((k) => params[`rhn.${l}.R.${k}`] as tf.Tensor2D),
          b: micro.map((k) => params[`rhn.${l}.b.${k}`] as tf.Tensor1D),
        },
        initial,
        stepMasks,
        hiddenMask,
      );
    }
  }
}
