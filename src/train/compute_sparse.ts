/**
 * The `sparse` compute path: the CPU engine (../engine), which stores each
 * sparse matrix as CSR and computes on its nonzeros only. A topology update
 * goes through plain data: the engine's state is read out in the spec
 * layout, the core prunes and regrows, and the engine is rebuilt on the
 * new masks (once per epoch, or every `--update-every` steps).
 *
 * @module
 */

import type { TopologyLayer, TopologyReport } from "../core/topology.ts";
import { pruneToSparsity, updateTopology } from "../core/topology.ts";
import type { Kernels } from "../engine/kernels.ts";
import type { RecurrentStates } from "../engine/network.ts";
import { EngineTrainer } from "../engine/trainer.ts";
import type { DropoutPlan } from "../model/language_model.ts";
import type { HostParams } from "../spec/params.ts";
import type { Compute, ComputeInit } from "./compute.ts";
import type { UpdateOptions } from "./sparse_weights.ts";
import type { Batch, EvalTotals } from "./tasks.ts";

/** The sparse compute path on a set of kernels. */
export class SparseCompute implements Compute {
  readonly masks: Map<string, Uint8Array>;
  readonly #init: ComputeInit;
  readonly #kernels: Kernels;
  #trainer: EngineTrainer;
  #state?: RecurrentStates;
  #evalState?: RecurrentStates;
  #denseGradients?: Record<string, Float32Array>;

  constructor(kernels: Kernels, init: ComputeInit) {
    this.#kernels = kernels;
    this.#init = init;
    this.masks = init.masks;
    this.#trainer = this.#build(
      init.params,
      init.optimizerState?.slots ?? {},
      init.optimizerState?.steps ?? 0,
    );
  }

  #build(params: HostParams, slots: HostParams, steps: number): EngineTrainer {
    // The LM's carried state outlives a rebuild in the middle of an epoch.
    const carried = this.#state && {
      h: this.#state.h.map((h) => h.slice()),
      c: this.#state.c.map((c) => c.slice()),
    };
    this.#kernels.reset();
    this.#state = this.#evalState = undefined;
    const trainer = new EngineTrainer(this.#kernels, {
      model: this.#init.model,
      params,
      masks: this.masks,
      optimizer: this.#init.optimizer,
      slots,
      steps,
      denseMomentum: this.#init.denseMomentum,
    });
    if (carried) {
      this.#state = trainer.network.zeroState(carried.h[0].length / this.#init.model.hiddenSize);
      carried.h.forEach((h, l) => this.#state!.h[l].set(h));
      carried.c.forEach((c, l) => this.#state!.c[l].set(c));
    }
    return trainer;
  }

  /** `state` zeroed for `B` sequences, reusing its buffers when the size allows. */
  #zeroed(state: RecurrentStates | undefined, B: number): RecurrentStates {
    const H = this.#init.model.hiddenSize;
    if (!state || state.h[0].length !== H * B) return this.#trainer.network.zeroState(B);
    for (const s of [...state.h, ...state.c]) s.fill(0);
    return state;
  }

  step(batch: Batch, drop: DropoutPlan, lr: number, keepDenseGradients: boolean): Promise<number> {
    const network = this.#trainer.network;
    if (!this.#state || batch.reset || this.#init.model.kind === "classifier") {
      this.#state = this.#zeroed(this.#state, batch.B);
    }
    const loss = this.#trainer.step(batch, this.#state, drop, lr, this.#init.clipNorm);
    this.#denseGradients = keepDenseGradients
      ? network.denseGradients(this.masks.keys())
      : undefined;
    return Promise.resolve(loss);
  }

  evaluate(split: "valid" | "test"): Promise<Record<string, number>> {
    const network = this.#trainer.network;
    const totals: EvalTotals = { nats: 0, count: 0, correct: 0 };
    let state: RecurrentStates | undefined;
    for (const batch of this.#init.task.evalBatches(split)) {
      if (!state || batch.reset || this.#init.model.kind === "classifier") {
        state = this.#evalState = this.#zeroed(this.#evalState, batch.B);
      }
      const r = network.run(batch, state, undefined, false);
      totals.nats += r.nats, totals.count += r.count, totals.correct += r.correct;
    }
    return Promise.resolve(this.#init.task.metrics(split, totals));
  }

  /** The engine's state as the core's topology layers (weights, masks, growth signals). */
  #layers(
    useMomentum: boolean,
  ): { layers: TopologyLayer[]; params: HostParams; slots: HostParams } {
    const params = this.#trainer.params();
    const slots = this.#trainer.slots();
    const layers = [...this.masks].map(([name, mask]) => ({
      name,
      weights: params[name].data,
      mask,
      gradient: this.#denseGradients?.[name],
      momentum: useMomentum ? this.#trainer.momentum(name) : undefined,
    }));
    return { layers, params, slots };
  }

  /** Rebuilds the engine on the new masks, with optimizer state zeroed where connections left. */
  #rebuild(params: HostParams, slots: HostParams, pruned: Int32Array[]): void {
    [...this.masks.keys()].forEach((name, l) => {
      for (const [key, slot] of Object.entries(slots)) {
        if (key.endsWith(`/${name}`)) { for (const i of pruned[l]) slot.data[i] = 0; }
      }
    });
    this.#trainer = this.#build(params, slots, this.#trainer.steps);
    this.#denseGradients = undefined;
  }

  updateTopology(options: UpdateOptions): Promise<TopologyReport> {
    const { layers, params, slots } = this.#layers(options.useMomentum);
    const report = updateTopology(layers, options);
    this.#rebuild(params, slots, report.layers.map((l) => l.pruned));
    return Promise.resolve(report);
  }

  pruneToSparsity(sparsity: number): Promise<number> {
    const { layers, params, slots } = this.#layers(false);
    const pruned = pruneToSparsity(layers, sparsity);
    this.#rebuild(params, slots, pruned);
    return Promise.resolve(pruned.reduce((n, p) => n + p.length, 0));
  }

  snapshot(): Promise<{ params: HostParams; slots: HostParams; steps: number }> {
    return Promise.resolve({
      params: this.#trainer.params(),
      slots: this.#trainer.slots(),
      steps: this.#trainer.steps,
    });
  }

  dispose(): void {
    this.#kernels.reset();
  }
}
