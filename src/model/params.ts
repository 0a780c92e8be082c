/**
 * Model parameters as tfjs variables, and moving them to and from the plain
 * typed arrays of ../spec/params.ts.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { HostParams } from "../spec/params.ts";

/** All parameters of a model as trainable tfjs variables. */
export type Params = Record<string, tf.Variable>;

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
