/**
 * The `sparse` compute path: the CPU engine (../engine), which stores each
 * sparse matrix as CSR and computes on its nonzeros only, with the batch
 * split across a pool of threads. A topology update goes through plain
 * data: the engine's state is read out in the spec layout, the core prunes
 * and regrows, and the engine is rebuilt on the new masks (once per epoch,
 * or every `--update-every` steps).
 *
 * @module
 */

import { addConfusion } from "../core/metrics.ts";
import type { TopologyLayer, TopologyReport } from "../core/topology.ts";
import { pruneToSparsity, updateTopology } from "../core/topology.ts";
import type { EnginePool, SavedStates } from "../engine/pool.ts";
import { EngineTrainer, momentumSlot } from "../engine/trainer.ts";
import type { WasmKernels } from "../engine/wasm.ts";
import type { DropoutPlan } from "../model/language_model.ts";
import type { HostParams } from "../spec/params.ts";
import type { Compute, ComputeInit } from "./compute.ts";
import type { UpdateOptions } from "./sparse_weights.ts";
import type { Batch, EvalTotals } from "./tasks.ts";

/** The sparse compute path on a pool of threads. */
export class SparseCompute implements Compute {
  readonly masks: Map<string, Uint8Array>;
  readonly #init: ComputeInit;
  readonly #kernels: WasmKernels;
  readonly #pool: EnginePool;
  #trainer!: EngineTrainer;
  #denseGradients?: Record<string, Float32Array>;

  private constructor(kernels: WasmKernels, pool: EnginePool, init: ComputeInit) {
    this.#kernels = kernels;
    this.#pool = pool;
    this.#init = init;
    this.masks = init.masks;
  }

  /** The engine on `pool`'s threads, holding `init`'s model. */
  static async start(
    kernels: WasmKernels,
    pool: EnginePool,
    init: ComputeInit,
  ): Promise<SparseCompute> {
    const compute = new SparseCompute(kernels, pool, init);
    const { slots = {}, steps = 0 } = init.optimizerState ?? {};
    await compute.#build(init.params, slots, steps, {});
    return compute;
  }

  /** (Re)builds the engine from plain data; `saved` are the main thread's carried states. */
  async #build(
    params: HostParams,
    slots: HostParams,
    steps: number,
    saved: SavedStates,
  ): Promise<void> {
    this.#kernels.reset();
    this.#trainer = new EngineTrainer(this.#kernels, {
      model: this.#init.model,
      params,
      masks: this.masks,
      optimizer: this.#init.optimizer,
      slots,
      steps,
      denseMomentum: this.#init.denseMomentum,
    });
    this.#denseGradients = undefined;
    await this.#pool.attach(this.#trainer.network, saved);
  }

  async step(
    batch: Batch,
    drop: DropoutPlan,
    lr: number,
    keepDenseGradients: boolean,
  ): Promise<number> {
    const { nats, count } = await this.#pool.run(batch, "train", drop, true);
    this.#denseGradients = keepDenseGradients
      ? await this.#pool.denseGradients([...this.masks.keys()])
      : undefined;
    this.#trainer.applyGradients(lr, this.#init.clipNorm);
    return nats / count;
  }

  async evaluate(split: "valid" | "test"): Promise<Record<string, number>> {
    return this.#init.task.metrics(split, await this.evaluateTotals(split));
  }

  async evaluateTotals(split: "valid" | "test"): Promise<EvalTotals> {
    const totals: EvalTotals = { nats: 0, count: 0, correct: 0 };
    for (const batch of this.#init.task.evalBatches(split)) {
      const r = await this.#pool.run(batch, "eval", undefined, false);
      totals.nats += r.nats, totals.count += r.count, totals.correct += r.correct;
      if (r.confusion) {
        totals.confusion = totals.confusion
          ? addConfusion(totals.confusion, r.confusion)
          : r.confusion;
      }
    }
    return totals;
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
      momentum: useMomentum
        ? slots[`${momentumSlot(this.#init.optimizer)}/${name}`]?.data
        : undefined,
    }));
    return { layers, params, slots };
  }

  /** Rebuilds the engine on the new masks, with optimizer state zeroed where connections left. */
  async #rebuild(params: HostParams, slots: HostParams, pruned: Int32Array[]): Promise<void> {
    [...this.masks.keys()].forEach((name, l) => {
      for (const [key, slot] of Object.entries(slots)) {
        if (key.endsWith(`/${name}`)) { for (const i of pruned[l]) slot.data[i] = 0; }
      }
    });
    // The LM's carried state outlives a rebuild in the middle of an epoch.
    const saved = await this.#pool.detach();
    await this.#build(params, slots, this.#trainer.steps, saved);
  }

  async updateTopology(options: UpdateOptions): Promise<TopologyReport> {
    const { layers, params, slots } = this.#layers(options.useMomentum);
    const report = updateTopology(layers, options);
    await this.#rebuild(params, slots, report.layers.map((l) => l.pruned));
    return report;
  }

  async pruneToSparsity(sparsity: number): Promise<number> {
    const { layers, params, slots } = this.#layers(false);
    const pruned = pruneToSparsity(layers, sparsity);
    await this.#rebuild(params, slots, pruned);
    return pruned.reduce((n, p) => n + p.length, 0);
  }

  get optimizerSteps(): number {
    return this.#trainer.steps;
  }

  snapshot(): Promise<{ params: HostParams; slots: HostParams }> {
    return Promise.resolve({ params: this.#trainer.params(), slots: this.#trainer.slots() });
  }

  dispose(): void {
    this.#pool.close();
    this.#kernels.reset();
  }
}
