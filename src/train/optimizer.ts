/**
 * SGD (with momentum) and Adam, written out so that their state is plain
 * named tensors: the sparse trainer must read momentum (SNFS growth and
 * redistribution), zero state at pruned positions, and save it in checkpoints.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { Params } from "../model/params.ts";
import type { OptimizerConfig } from "../spec/optimizer.ts";
import type { HostParams } from "../spec/params.ts";

/** An optimizer whose state tensors are named `slot/param`, e.g. `m/lstm.0.W`. */
export class Optimizer {
  readonly config: OptimizerConfig;
  readonly slots: Record<string, tf.Variable> = {};
  steps = 0;

  constructor(config: OptimizerConfig, params: Params) {
    this.config = config;
    for (const name of this.slotNames()) {
      for (const [param, v] of Object.entries(params)) {
        this.slots[`${name}/${param}`] = tf.tidy(() => tf.variable(tf.zerosLike(v), false));
      }
    }
  }

  /** The slot that holds momentum: SGD's velocity or Adam's first moment. */
  momentumSlot(param: string): tf.Variable | undefined {
    return this.slots[`${this.config.name === "sgd" ? "v" : "m"}/${param}`];
  }

  private slotNames(): string[] {
    if (this.config.name === "adam") return ["m", "s"];
    return this.config.momentum > 0 ? ["v"] : [];
  }

  /** Applies one update with learning rate `lr`. */
  apply(params: Params, grads: Record<string, tf.Tensor>, lr: number): void {
    this.steps++;
    const c = this.config;
    tf.tidy(() => {
      for (const [name, w] of Object.entries(params)) {
        let g = grads[name];
        if (!g) continue;
        if (c.weightDecay > 0) g = tf.add(g, tf.mul(w, c.weightDecay));
        let update: tf.Tensor;
        if (c.name === "adam") {
          const m = this.slots[`m/${name}`];
          const s = this.slots[`s/${name}`];
          m.assign(tf.add(tf.mul(m, c.beta1), tf.mul(g, 1 - c.beta1)));
          s.assign(tf.add(tf.mul(s, c.beta2), tf.mul(tf.square(g), 1 - c.beta2)));
          const mHat = tf.div(m, 1 - c.beta1 ** this.steps);
          const sHat = tf.div(s, 1 - c.beta2 ** this.steps);
          update = tf.div(mHat, tf.add(tf.sqrt(sHat), c.epsilon));
        } else if (c.momentum > 0) {
          const v = this.slots[`v/${name}`];
          v.assign(tf.add(tf.mul(v, c.momentum), g));
          update = v;
        } else {
          update = g;
        }
        w.assign(tf.sub(w, tf.mul(update, lr)));
      }
    });
  }

  /**
   * Zeroes every slot of `param` at `indices`: a pruned connection that is
   * regrown later must start without stale momentum.
   */
  async zeroAt(param: string, indices: Int32Array): Promise<void> {
    if (indices.length === 0) return;
    for (const [name, v] of Object.entries(this.slots)) {
      if (!name.endsWith(`/${param}`)) continue;
      const data = (await v.data()) as Float32Array;
      for (const i of indices) data[i] = 0;
      tf.tidy(() => v.assign(tf.tensor(data, v.shape)));
    }
  }

  /** Frees the slot variables. */
  dispose(): void {
    tf.dispose(Object.values(this.slots));
  }

  /** Slot tensors as plain data, for checkpoints. */
  async toHost(): Promise<HostParams> {
    const out: HostParams = {};
    for (const [name, v] of Object.entries(this.slots)) {
      out[name] = { shape: v.shape, data: (await v.data()) as Float32Array };
    }
    return out;
  }

  /** Restores slots saved with {@link toHost}. */
  load(saved: HostParams, steps: number): void {
    this.steps = steps;
    for (const [name, v] of Object.entries(this.slots)) {
      const s = saved[name];
      if (s) tf.tidy(() => v.assign(tf.tensor(s.data, v.shape)));
    }
  }
}

/** Scales gradients so their global L2 norm is at most `maxNorm` (0 = off). */
export function clipByGlobalNorm(
  grads: Record<string, tf.Tensor>,
  maxNorm: number,
): Record<string, tf.Tensor> {
  if (!(maxNorm > 0)) return grads;
  return tf.tidy(() => {
    const squares = Object.values(grads).map((g) => tf.sum(tf.square(g)));
    // A chain of adds, not tf.addN: tfjs-webgpu 4.22's AddN drops inputs when given 8 or more
    // (test/backend/fused_webgpu_test.ts); on wasm both sum in the same order.
    const norm = tf.sqrt(squares.reduce((sum, s) => tf.add(sum, s)));
    const scale = tf.div(maxNorm, tf.maximum(norm, maxNorm));
    const out: Record<string, tf.Tensor> = {};
    for (const [name, g] of Object.entries(grads)) out[name] = tf.mul(g, scale);
    return out;
  });
}
