/**
 * The end-of-run report, as the paper's Tables 2–3 compare methods:
 * parameters (total, nonzeros per layer), inference FLOPs per token and
 * training FLOPs for the whole run, each absolute and relative to the same
 * model trained dense. Conventions: docs/flops.md.
 *
 * @module
 */

import {
  type InferenceFlops,
  inferenceFlops,
  type NonzeroCounts,
  type ParameterReport,
  parameterReport,
  type TrainingFlops,
  trainingFlops,
  type TrainingRun,
} from "../core/flops.ts";
import type { ModelConfig } from "../spec/config.ts";
import type { Checkpoint, Progress } from "../spec/checkpoint.ts";
import { countActive } from "../core/mask.ts";
import { sparseNeeds, type TrainConfig } from "./config.ts";

/** Everything a run reports about its cost. */
export interface RunReport {
  parameters: ParameterReport;
  inference: InferenceFlops & {
    /** Per-token FLOPs of the reference model trained dense. */
    denseReferencePerToken: number;
    /** `perToken / denseReferencePerToken`. */
    normalized: number;
  };
  training: TrainingFlops;
}

/**
 * The report of a run of `model` with final `nonzeros`. `reference` is the
 * dense model it is compared with: the model itself, except for
 * small-dense, which is compared with the full-size model.
 */
export function runReport(
  model: ModelConfig,
  reference: ModelConfig,
  nonzeros: NonzeroCounts,
  run: TrainingRun,
): RunReport {
  const inference = inferenceFlops(model, nonzeros);
  const denseReferencePerToken = inferenceFlops(reference).maskedDensePerToken;
  return {
    parameters: parameterReport(model, nonzeros),
    inference: {
      ...inference,
      denseReferencePerToken,
      normalized: inference.perToken / denseReferencePerToken,
    },
    training: trainingFlops(model, nonzeros, run, reference),
  };
}

/**
 * Counts one optimizer step on `batch` (`B` sequences of `T` tokens) in
 * `progress`: the totals the FLOPs report is computed from. `prunedFraction`
 * is gmp's current sparsity over its final one (0 for other methods).
 */
export function countStep(
  progress: Progress,
  batch: { T: number; B: number },
  prunedFraction: number,
): void {
  progress.step++;
  progress.tokens += batch.T * batch.B;
  progress.sequences += batch.B;
  progress.prunedFractionSum += prunedFraction;
}

/**
 * The report of the run recorded in `ckpt`, trained as `config` says;
 * `reference` is the dense model it is compared with (see {@link runReport}).
 */
export function checkpointReport(
  ckpt: Checkpoint,
  config: TrainConfig,
  reference: ModelConfig,
): RunReport {
  const { progress } = ckpt.meta;
  const needs = sparseNeeds(config);
  const nonzeros = Object.fromEntries(
    Object.entries(ckpt.masks).map(([name, mask]) => [name, countActive(mask)]),
  );
  const steps = Math.max(progress.step, 1);
  return runReport(ckpt.meta.model, reference, nonzeros, {
    // FLOPs follow the dense quantities the run really computed.
    method: needs.denseMomentumEveryStep
      ? "snfs"
      : needs.denseGradientAtUpdate
      ? "rigl"
      : config.sparse.method,
    tokens: progress.tokens,
    steps,
    sequences: progress.sequences,
    topologyUpdates: progress.topologyUpdates,
    gmpMeanPrunedFraction: progress.prunedFractionSum / steps,
  });
}

const count = (n: number) => n.toLocaleString("en-US");
const flops = (n: number) => n.toExponential(3);
const ratio = (r: number) => `${r.toFixed(3)}x`;

/** The report as an aligned text table. */
export function formatReport(r: RunReport): string {
  const rows = r.parameters.params.map((p) => [
    p.name,
    count(p.size),
    count(p.nonzeros),
    `${(100 * (1 - p.nonzeros / p.size)).toFixed(2)}%`,
  ]);
  const header = ["parameter", "size", "nonzeros", "sparsity"];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)));
  const line = (cells: string[]) => "  " + cells.map((x, c) => x.padStart(widths[c])).join("  ");
  return [
    `parameters: ${count(r.parameters.total)} total, ${count(r.parameters.nonzeros)} nonzero ` +
    `(${(100 * r.parameters.sparsity).toFixed(2)}% sparse)`,
    line(header),
    ...rows.map(line),
    `inference FLOPs per token: ${flops(r.inference.perToken)} needed = ${
      ratio(r.inference.normalized)
    } dense; ` +
    `masked-dense (--compute masked) ${flops(r.inference.maskedDensePerToken)} = ` +
    `${ratio(r.inference.maskedDensePerToken / r.inference.denseReferencePerToken)}`,
    `training FLOPs (whole run): ${flops(r.training.total)} needed = ${
      ratio(r.training.normalized)
    } dense; ` +
    `masked-dense (--compute masked) ${flops(r.training.maskedDense)} = ${
      ratio(r.training.maskedDenseNormalized)
    }`,
  ].join("\n");
}
