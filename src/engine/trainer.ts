/**
 * A training step on the CPU engine: forward and backward (./network.ts),
 * global-norm clipping, the optimizer on the stored entries only, and the
 * masks re-applied where the engine stores every entry (SNFS's dense
 * momentum). Its state moves to and from plain spec-layout data, so
 * checkpoints and topology updates are the same as on the tfjs path.
 *
 * @module
 */

import type { ModelConfig } from "../spec/config.ts";
import type { OptimizerConfig } from "../spec/optimizer.ts";
import type { HostParams } from "../spec/params.ts";
import type { Kernels } from "./kernels.ts";
import { gather } from "./layout.ts";
import {
  type EngineBatch,
  type EngineDropout,
  type EngineParam,
  Network,
  type RecurrentStates,
} from "./network.ts";

/** Everything a trainer starts from. */
export interface TrainerState {
  model: ModelConfig;
  params: HostParams;
  masks: ReadonlyMap<string, Uint8Array>;
  optimizer: OptimizerConfig;
  /** Optimizer slots `slot/param` in the spec layout (missing ones start at zero). */
  slots: HostParams;
  /** Optimizer steps taken so far (Adam's bias correction). */
  steps: number;
  /** Dense gradients and momentum for the sparse matrices (SNFS). */
  denseMomentum: boolean;
}

/** Slot names of an optimizer, as the tfjs optimizer names them. */
export function slotNames(o: OptimizerConfig): string[] {
  if (o.name === "adam") return ["m", "s"];
  return o.momentum > 0 ? ["v"] : [];
}

/** The slot that holds momentum: SGD's velocity or Adam's first moment. */
export function momentumSlot(o: OptimizerConfig): string {
  return o.name === "sgd" ? "v" : "m";
}

/** Trains one model on one set of kernels. */
export class EngineTrainer {
  readonly network: Network;
  readonly #k: Kernels;
  readonly #optimizer: OptimizerConfig;
  /** Per parameter, its slots in storage order. */
  readonly #slots = new Map<EngineParam, Record<string, Float32Array>>();
  steps: number;

  constructor(kernels: Kernels, state: TrainerState) {
    this.#k = kernels;
    this.#optimizer = state.optimizer;
    this.steps = state.steps;
    this.network = new Network(kernels, state.model, {
      params: state.params,
      masks: state.masks,
      storeNonzerosOnly: !state.denseMomentum,
    });
    for (const p of this.network.params) {
      const slots: Record<string, Float32Array> = {};
      for (const slot of slotNames(state.optimizer)) {
        const values = kernels.f32(p.values.length);
        const saved = state.slots[`${slot}/${p.name}`];
        if (saved) {
          if (p.index) gather(saved.data, p.index, values);
          else values.set(saved.data);
        }
        slots[slot] = values;
      }
      this.#slots.set(p, slots);
    }
  }

  /**
   * One optimizer step on `batch`: returns the mean loss (nats). The
   * gradient's global L2 norm is clipped to `clipNorm` (0 = off).
   */
  step(
    batch: EngineBatch,
    state: RecurrentStates,
    drop: EngineDropout,
    lr: number,
    clipNorm: number,
  ): number {
    const { nats, count } = this.network.run(batch, state, drop, true);
    this.applyGradients(lr, clipNorm);
    return nats / count;
  }

  /**
   * Clips the gradients in the network's `grad` buffers to a global L2 norm
   * of `clipNorm` (0 = off) and takes one optimizer step with them.
   */
  applyGradients(lr: number, clipNorm: number): void {
    const k = this.#k;
    const params = this.network.params;
    if (clipNorm > 0) {
      let squares = 0;
      for (const p of params) squares += k.sumSquares(p.grad, p.grad.length);
      const norm = Math.sqrt(squares);
      if (norm > clipNorm) {
        for (const p of params) k.scale(p.grad, p.grad.length, clipNorm / norm);
      }
    }
    this.steps++;
    const o = this.#optimizer;
    for (const p of params) {
      const slots = this.#slots.get(p)!;
      const n = p.values.length;
      if (o.name === "adam") {
        k.adam(p.values, p.grad, slots.m, slots.s, n, {
          lr,
          beta1: o.beta1,
          beta2: o.beta2,
          epsilon: o.epsilon,
          c1: 1 - o.beta1 ** this.steps,
          c2: 1 - o.beta2 ** this.steps,
          weightDecay: o.weightDecay,
        });
      } else {
        k.sgd(p.values, p.grad, slots.v ?? null, n, {
          lr,
          momentum: o.momentum,
          weightDecay: o.weightDecay,
        });
      }
      if (p.keep) k.multiply(p.values, p.keep, n);
    }
  }

  /** Parameters in the spec layout. */
  params(): HostParams {
    return Object.fromEntries(
      this.network.params.map((
        p,
      ) => [p.name, { shape: p.shape, data: this.network.hostValues(p) }]),
    );
  }

  /** Optimizer slots in the spec layout, `slot/param` (zero where nothing is stored). */
  slots(): HostParams {
    const out: HostParams = {};
    for (const [p, slots] of this.#slots) {
      for (const [slot, values] of Object.entries(slots)) {
        out[`${slot}/${p.name}`] = { shape: p.shape, data: this.network.hostValues(p, values) };
      }
    }
    return out;
  }
}
