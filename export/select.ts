/**
 * Which checkpoint of a run an export takes: the best epoch by validation
 * (`<run>.best.sparrow`, see ../src/spec/selection.ts) when the run has one,
 * or the last epoch's (`<run>.sparrow`) when asked for or when the run
 * predates best checkpoints.
 *
 * @module
 */

import { type Checkpoint, loadCheckpoint } from "../src/spec/checkpoint.ts";
import { UserError } from "../src/spec/errors.ts";
import { bestCheckpointPath, describeSelection, selectionMetric } from "../src/spec/selection.ts";

/** The checkpoint an export reads, and the line that says which epoch it is. */
export interface ChosenCheckpoint {
  path: string;
  /** E.g. `exporting the best epoch 4 of 6 (valid_ppl 84.21)`. */
  line: string;
}

/**
 * The checkpoint to export for the run whose checkpoint is `path`: its best
 * checkpoint unless `last`. A best checkpoint that is not the one `path`
 * records (another run's, or an interrupted epoch's) is a UserError.
 */
export async function chooseCheckpoint(path: string, last = false): Promise<ChosenCheckpoint> {
  const run = await loadCheckpoint(path);
  const { epoch, best, runId } = run.meta.progress;
  const bestPath = bestCheckpointPath(path);
  const metrics = run.meta.progress.history.at(-1) ?? {};
  const lastLine = `exporting the last epoch ${epoch} of ${epoch}` +
    (selectionMetric(metrics) ? ` (${describeSelection(metrics)})` : "");
  if (last || !best) return { path, line: lastLine };
  if (!await Deno.stat(bestPath).then(() => true, () => false)) {
    throw new UserError(
      `${path} records its best epoch ${best.epoch} in ${bestPath}, which is missing; ` +
        `pass --last to export the last epoch`,
    );
  }
  if (!sameRunEpoch(await loadCheckpoint(bestPath), runId, best.epoch)) {
    throw new UserError(
      `${bestPath} is not the best epoch ${best.epoch} that ${path} records (another run's, ` +
        `or an interrupted epoch's): run the training command again to finish the run, or ` +
        `pass --last to export the last epoch`,
    );
  }
  return {
    path: bestPath,
    line: `exporting the best epoch ${best.epoch} of ${epoch} (${describeSelection(best.metrics)})`,
  };
}

function sameRunEpoch(checkpoint: Checkpoint, runId: string | undefined, epoch: number): boolean {
  const { progress } = checkpoint.meta;
  return progress.runId === runId && progress.epoch === epoch;
}
