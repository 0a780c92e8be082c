/**
 * A table run's record is its checkpoint: the run's settings, its progress
 * (metrics per epoch, the best epoch) and its masks, from which parameters
 * and FLOPs follow (src/train/report.ts). Reading records from a directory
 * gives the same table wherever the runs were trained.
 *
 * @module
 */

import { join } from "node:path";
import { loadCheckpoint } from "../spec/checkpoint.ts";
import { UserError } from "../spec/errors.ts";
import type { TrainConfig } from "../train/config.ts";
import { checkpointReport } from "../train/report.ts";
import type { RunSpec } from "./tables.ts";

/** What the table shows of one run. */
export interface RunRecord {
  name: string;
  /** Finished epochs, and how many the run asked for. */
  epochs: number;
  epochsPlanned: number;
  done: boolean;
  /** The epoch whose metrics are reported: the best-validation one where recorded. */
  reportedEpoch: number;
  /** Metrics of that epoch (`valid_ppl`, `test_ppl`, or `valid_acc`, `test_acc`, …). */
  metrics: Record<string, number>;
  /** Seconds spent training and evaluating, summed over epochs (and over resumptions). */
  seconds: number;
  /** Sparsity of the sparse matrices (0 for a dense run). */
  sparsity: number;
  /** All parameters, and the nonzero ones. */
  parameters: number;
  nonzeros: number;
  /** Inference and training FLOPs relative to the same model trained dense. */
  inferenceFlops: number;
  trainingFlops: number;
}

/** The checkpoint of `run` in `dir`. */
export function runPath(dir: string, run: Pick<RunSpec, "name">): string {
  return join(dir, `${run.name}.sparrow`);
}

/**
 * The record of `run` from its checkpoint in `dir`, or undefined when it
 * has not finished an epoch yet.
 */
export async function readRecord(dir: string, run: RunSpec): Promise<RunRecord | undefined> {
  const path = runPath(dir, run);
  try {
    await Deno.stat(path);
  } catch {
    return undefined;
  }
  const checkpoint = await loadCheckpoint(path);
  const { progress, model } = checkpoint.meta;
  const config = checkpoint.meta.training as unknown as TrainConfig;
  if (!config?.model || !config.sparse) {
    throw new UserError(`${path} records no training settings; is it a sparrow run's checkpoint?`);
  }
  // Written by runs that keep their best-validation epoch (issue 10); else the last epoch.
  const best = (progress as { best?: { epoch: number; metrics: Record<string, number> } }).best;
  const last = progress.history.at(-1) ?? {};
  const metrics = best?.metrics ?? last;
  // small-dense is compared with the full-size model it stands in for.
  const reference = { ...model, hiddenSize: config.model.hiddenSize };
  const report = checkpointReport(checkpoint, config, reference);
  let active = 0, size = 0;
  for (const mask of Object.values(checkpoint.masks)) {
    for (const m of mask) active += m;
    size += mask.length;
  }
  return {
    name: run.name,
    epochs: progress.epoch,
    epochsPlanned: config.epochs,
    done: progress.done,
    reportedEpoch: best?.epoch ?? progress.epoch,
    metrics,
    seconds: progress.history.reduce((sum, h) => sum + (h.seconds ?? 0), 0),
    sparsity: size === 0 ? 0 : 1 - active / size,
    parameters: report.parameters.total,
    nonzeros: report.parameters.nonzeros,
    inferenceFlops: report.inference.normalized,
    trainingFlops: report.training.normalized,
  };
}

/** The records of `runs` in `dir`, undefined for runs with no checkpoint yet. */
export async function readRecords(
  dir: string,
  runs: RunSpec[],
): Promise<(RunRecord | undefined)[]> {
  return await Promise.all(runs.map((run) => readRecord(dir, run)));
}
