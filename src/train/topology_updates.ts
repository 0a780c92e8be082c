/**
 * When and how the sparse topology changes during a run: ST-RNN and the
 * other dynamic methods prune and regrow (once per epoch, or every
 * `updateEvery` steps) with a decaying prune rate; gmp prunes towards its
 * cubic sparsity schedule; dense methods never change.
 *
 * @module
 */

import { growersByName } from "../core/grow.ts";
import type { MethodPreset } from "../core/methods.ts";
import { prunersByName } from "../core/prune.ts";
import { redistributorsByName } from "../core/redistribute.ts";
import type { Rng } from "../core/rng.ts";
import { type GmpScheduleOptions, gmpSparsity, schedulesByName } from "../core/schedule.ts";
import type { SparseConfig } from "./config.ts";
import { type Compute, connections } from "./compute.ts";

/** The topology schedule of one run. */
export class TopologyUpdates {
  readonly #sparse: SparseConfig;
  readonly #method: MethodPreset;
  readonly #totalSteps: number;
  /** Steps between updates; 0 = once per epoch. */
  readonly #every: number;
  readonly #pruneRate: (step: number, total: number) => number;
  /** gmp's sparsity schedule; the last epoch fine-tunes at the final sparsity. */
  readonly gmpSchedule: GmpScheduleOptions;
  /** gmp's current sparsity over its final one; counted again after each prune. */
  #prunedFraction: number | undefined;
  /** The fraction of active connections the last {@link apply} moved (gmp: pruned). */
  lastRewired = 0;

  constructor(sparse: SparseConfig, method: MethodPreset, epochs: number, stepsPerEpoch: number) {
    this.#sparse = sparse;
    this.#method = method;
    this.#totalSteps = epochs * stepsPerEpoch;
    // A one-epoch gmp run has no epoch boundary to prune at: prune ten times within it.
    this.#every = sparse.updateEvery > 0 || method.kind !== "gradual" || epochs > 1
      ? sparse.updateEvery
      : Math.max(1, Math.floor(stepsPerEpoch / 10));
    this.#pruneRate = method.kind === "dynamic"
      ? schedulesByName[sparse.schedule](sparse.pruneRate)
      : () => 0;
    this.gmpSchedule = {
      initialSparsity: 0,
      finalSparsity: sparse.sparsity,
      startStep: 0,
      endStep: epochs > 1 ? (epochs - 1) * stepsPerEpoch : Math.floor(0.75 * this.#totalSteps),
    };
  }

  /** Whether an update follows optimizer step `step` (per-step cadence). */
  dueAfterStep(step: number): boolean {
    const every = this.#every;
    return this.#method.kind !== "dense" && every > 0 && step % every === 0 &&
      step < this.#totalSteps;
  }

  /** Whether an update follows an epoch (per-epoch cadence; never after the last). */
  dueAfterEpoch(lastEpoch: boolean): boolean {
    return this.#method.kind !== "dense" && this.#every === 0 && !lastEpoch;
  }

  /**
   * Whether a finished run that is extended makes the update it skipped
   * after its last epoch (or last step, `step`) before training on.
   */
  dueAfterLastEpoch(step: number): boolean {
    return this.dueAfterEpoch(false) || this.dueAfterStep(step);
  }

  /**
   * The fraction of its final sparsity the weights are at now, which gmp's
   * training FLOPs follow step by step; 0 for the other methods, whose
   * sparsity does not change.
   */
  prunedFraction(masks: ReadonlyMap<string, Uint8Array>): number {
    if (this.#method.kind !== "gradual") return 0;
    if (this.#prunedFraction === undefined) {
      const { active, size } = connections(masks);
      const final = this.#sparse.sparsity;
      this.#prunedFraction = size > 0 && final > 0 ? (1 - active / size) / final : 0;
    }
    return this.#prunedFraction;
  }

  /**
   * Updates the topology of `compute` after step `step` and returns a
   * one-line summary. Gradient growth uses the dense gradients the compute
   * path kept from the step before.
   */
  async apply(step: number, compute: Compute, rng: Rng): Promise<string> {
    if (this.#method.kind === "gradual") {
      const target = gmpSparsity(step, this.gmpSchedule);
      const before = connections(compute.masks).active;
      const removed = await compute.pruneToSparsity(target);
      this.lastRewired = before > 0 ? removed / before : 0;
      this.#prunedFraction = undefined;
      return `gmp prune at step ${step}: sparsity ${
        (100 * target).toFixed(1)
      }%, ${removed} connections removed`;
    }
    const s = this.#sparse;
    const report = await compute.updateTopology({
      pruneRate: this.#pruneRate(step, this.#totalSteps),
      prune: prunersByName[s.prune],
      grow: growersByName[s.grow],
      redistribute: redistributorsByName[s.redistribution],
      rng,
      useMomentum: s.grow === "momentum" || s.redistribution === "momentum",
    });
    const moved = report.layers.reduce((n, l) => n + l.grown.length, 0);
    const active = report.layers.reduce((n, l) => n + l.activeBefore, 0);
    this.lastRewired = active > 0 ? moved / active : 0;
    return `topology update at step ${step}: prune rate ${
      report.pruneRate.toFixed(3)
    }, ${moved} connections moved`;
  }
}
