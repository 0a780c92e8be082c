/**
 * Schedules: the prune rate of dynamic sparse training over time, and the
 * target sparsity of gradual magnitude pruning.
 *
 * @module
 */

import { check } from "../spec/errors.ts";

/** The fraction of each layer's active weights to prune at `step` of `totalSteps`. */
export type PruneRateSchedule = (step: number, totalSteps: number) => number;

/**
 * Cosine decay from `initial` at step 0 to `floor` at the last step:
 * `floor + (initial - floor)·(1 + cos(π·step/total))/2`. Steps outside
 * `[0, total]` are clamped, as is a zero-length run (always `initial`).
 */
export function cosineSchedule(
  initial: number,
  floor = 0.005,
): PruneRateSchedule {
  checkRates(initial, floor);
  return (step, totalSteps) =>
    floor +
    (initial - floor) * (1 + Math.cos(Math.PI * progress(step, totalSteps))) /
      2;
}

/** Linear decay from `initial` at step 0 to `floor` at the last step. */
export function linearSchedule(
  initial: number,
  floor = 0,
): PruneRateSchedule {
  checkRates(initial, floor);
  return (step, totalSteps) => initial + (floor - initial) * progress(step, totalSteps);
}

/** The same rate at every step (SET). */
export function constantSchedule(rate: number): PruneRateSchedule {
  checkRates(rate, rate);
  return () => rate;
}

/** Schedule factories by the names the configuration uses: `(initial, floor?)`. */
export const schedulesByName: Readonly<
  Record<
    "cosine" | "linear" | "constant",
    (initial: number, floor?: number) => PruneRateSchedule
  >
> = {
  cosine: cosineSchedule,
  linear: linearSchedule,
  constant: (initial) => constantSchedule(initial),
};

/** A schedule's name. */
export type ScheduleName = keyof typeof schedulesByName;

/** The knobs of the gradual magnitude pruning schedule (Zhu & Gupta, 2017). */
export interface GmpScheduleOptions {
  initialSparsity: number;
  finalSparsity: number;
  /** The step at which pruning starts. */
  startStep: number;
  /** The step at which `finalSparsity` is reached. */
  endStep: number;
}

/**
 * The target sparsity at `step` under gradual magnitude pruning:
 * `s_f + (s_i - s_f)·(1 - (t - t0)/(t1 - t0))³`, held at `s_i` before
 * `startStep` and at `s_f` after `endStep`.
 */
export function gmpSparsity(step: number, options: GmpScheduleOptions): number {
  const { initialSparsity, finalSparsity, startStep, endStep } = options;
  check(
    initialSparsity >= 0 && initialSparsity <= finalSparsity &&
      finalSparsity < 1,
    `gradual pruning needs 0 <= initial sparsity <= final sparsity < 1, got ${initialSparsity} and ${finalSparsity}`,
  );
  check(
    Number.isFinite(startStep) && Number.isFinite(endStep) &&
      startStep <= endStep,
    `gradual pruning needs start step <= end step, got ${startStep} and ${endStep}`,
  );
  if (step < startStep) return initialSparsity;
  if (step >= endStep) return finalSparsity;
  const remaining = 1 - (step - startStep) / (endStep - startStep);
  return finalSparsity +
    (initialSparsity - finalSparsity) * remaining * remaining * remaining;
}

function progress(step: number, totalSteps: number): number {
  if (!(totalSteps > 0)) return 0;
  return Math.min(1, Math.max(0, step / totalSteps));
}

function checkRates(initial: number, floor: number): void {
  check(
    Number.isFinite(initial) && initial >= 0 && initial <= 1,
    `prune rate must be in [0, 1], got ${initial}: pass e.g. 0.5`,
  );
  check(
    Number.isFinite(floor) && floor >= 0 && floor <= initial,
    `prune rate floor must be in [0, prune rate ${initial}], got ${floor}`,
  );
}
