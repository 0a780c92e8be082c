/**
 * What a run records for its report beyond each epoch's metrics: the
 * nonzeros of every sparse matrix after each epoch and the fraction of
 * connections each topology update rewired (see `Progress` in
 * ../spec/checkpoint.ts). Runs recorded before these existed lack them;
 * their report shows what there is.
 *
 * @module
 */

import { countActive } from "../core/mask.ts";
import type { Progress } from "../spec/checkpoint.ts";

/** Records the nonzeros of each sparse matrix after an epoch. */
export function recordNonzeros(
  progress: Progress,
  masks: ReadonlyMap<string, Uint8Array>,
): void {
  const counts = Object.fromEntries([...masks].map(([name, mask]) => [name, countActive(mask)]));
  // A run resumed from before the list existed starts it at this epoch.
  (progress.nonzeros ??= []).push(counts);
}

/** Records a topology update after `step` that rewired `rewired` of the active connections. */
export function recordUpdate(progress: Progress, step: number, rewired: number): void {
  (progress.updates ??= []).push({ step, rewired });
}
