/**
 * The bridge between tfjs variables and the backend-free sparse core: it
 * keeps each sparse parameter's mask on the host (for the core) and on the
 * device (to mask weights and gradients), and runs topology updates.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import {
  pruneToSparsity,
  type TopologyLayer,
  type TopologyOptions,
  type TopologyReport,
  updateTopology,
} from "../core/topology.ts";
import type { Params } from "../model/params.ts";
import type { Optimizer } from "./optimizer.ts";

/** What a topology update needs besides the weights. */
export type UpdateOptions = TopologyOptions & {
  /** Read each layer's momentum from the optimizer (momentum growth or redistribution). */
  useMomentum: boolean;
};

/** Masks of the sparse parameters, on host and device. */
export class SparseWeights {
  readonly masks: Map<string, Uint8Array>;
  #device = new Map<string, tf.Tensor>();

  constructor(masks: Map<string, Uint8Array>, shapes: Record<string, number[]>) {
    this.masks = masks;
    for (const [name, mask] of masks) {
      this.#device.set(name, tf.keep(tf.tensor(Float32Array.from(mask), shapes[name])));
    }
  }

  /** Zeroes every masked weight (after init and after each optimizer step). */
  applyMasks(params: Params): void {
    tf.tidy(() => {
      for (const [name, mask] of this.#device) params[name].assign(tf.mul(params[name], mask));
    });
  }

  /** Gradients with masked positions zeroed, so optimizer state stays sparse. */
  maskGradients(grads: Record<string, tf.Tensor>): Record<string, tf.Tensor> {
    const out = { ...grads };
    for (const [name, mask] of this.#device) {
      if (out[name]) out[name] = tf.mul(out[name], mask);
    }
    return out;
  }

  /**
   * One prune-and-regrow update of every sparse parameter. `gradients` are
   * dense weight gradients (gradient growth); momentum comes from the
   * optimizer. Optimizer state at pruned positions is zeroed.
   */
  async update(
    params: Params,
    optimizer: Optimizer,
    options: UpdateOptions,
    gradients?: Record<string, tf.Tensor>,
  ): Promise<TopologyReport> {
    const layers = await this.#hostLayers(
      params,
      options.useMomentum ? optimizer : undefined,
      gradients,
    );
    const report = updateTopology(layers, options);
    await this.#writeBack(params, optimizer, layers, report.layers.map((l) => l.pruned));
    return report;
  }

  /**
   * Prunes every sparse parameter down to `1 - sparsity` of its entries by
   * magnitude, without regrowth (gradual magnitude pruning). Returns the
   * number of connections removed.
   */
  async pruneToSparsity(params: Params, optimizer: Optimizer, sparsity: number): Promise<number> {
    const layers = await this.#hostLayers(params);
    const pruned = pruneToSparsity(layers, sparsity);
    await this.#writeBack(params, optimizer, layers, pruned);
    return pruned.reduce((n, p) => n + p.length, 0);
  }

  async #hostLayers(
    params: Params,
    momentumFrom?: Optimizer,
    gradients?: Record<string, tf.Tensor>,
  ): Promise<TopologyLayer[]> {
    const layers: TopologyLayer[] = [];
    for (const [name, mask] of this.masks) {
      const momentum = momentumFrom?.momentumSlot(name);
      layers.push({
        name,
        weights: (await params[name].data()) as Float32Array,
        mask,
        gradient: gradients?.[name] ? (await gradients[name].data()) as Float32Array : undefined,
        momentum: momentum ? (await momentum.data()) as Float32Array : undefined,
      });
    }
    return layers;
  }

  async #writeBack(
    params: Params,
    optimizer: Optimizer,
    layers: TopologyLayer[],
    pruned: Int32Array[],
  ): Promise<void> {
    for (const [l, layer] of layers.entries()) {
      const name = layer.name;
      // The variable keeps the data; tidy frees the temporary tensor handle.
      tf.tidy(() => params[name].assign(tf.tensor(layer.weights, params[name].shape)));
      this.#device.get(name)!.dispose();
      this.#device.set(name, tf.keep(tf.tensor(Float32Array.from(layer.mask), params[name].shape)));
      await optimizer.zeroAt(name, pruned[l]);
    }
  }

  /** Frees the device masks. */
  dispose(): void {
    for (const m of this.#device.values()) m.dispose();
    this.#device.clear();
  }
}
