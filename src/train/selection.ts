/**
 * Which model a run keeps, and the learning rate validation decides: after
 * each epoch's evaluation (before its topology update, as the authors' code
 * orders it) an epoch that improves on the best so far is written as the
 * best checkpoint; one that does not divides the learning rate by
 * `--lr-plateau`. At the end the test split is evaluated, whole, on the best
 * epoch's model. Criteria: ../spec/selection.ts.
 *
 * @module
 */

import type { Checkpoint, Progress } from "../spec/checkpoint.ts";
import { bestCheckpointPath, describeSelection, improves } from "../spec/selection.ts";
import { createCompute } from "./compute.ts";
import type { Compute } from "./compute.ts";
import type { TrainConfig } from "./config.ts";
import type { RunOutput } from "./run_output.ts";
import type { Task } from "./tasks.ts";
import { type TestResult, testSplit } from "./evaluation.ts";

/**
 * The learning rate of epoch `epoch` (0-based): `--lr` decayed by
 * `--lr-decay` every epoch, and divided by `--lr-plateau` once for every
 * earlier epoch of `history` whose validation metric did not improve on the
 * best before it. Derived from the history alone, so a resumed run gets it
 * back exactly.
 */
export function learningRateAt(
  config: TrainConfig,
  epoch: number,
  history: readonly Record<string, number>[],
): number {
  return config.learningRate * config.lrDecay ** epoch /
    config.lrPlateau ** plateauEpochs(history.slice(0, epoch));
}

/** How many epochs of `history` did not improve on the best epoch before them. */
export function plateauEpochs(history: readonly Record<string, number>[]): number {
  let best: Record<string, number> | undefined;
  let plateaus = 0;
  for (const metrics of history) {
    if (improves(metrics, best)) best = metrics;
    else plateaus++;
  }
  return plateaus;
}

/** Where a run writes its weights, as selection needs it. */
export interface SelectionContext {
  config: TrainConfig;
  task: Task;
  /** The run's progress, whose `best` this keeps up to date. */
  progress: Progress;
  output: RunOutput;
  /** The current model as a checkpoint. */
  snapshot: () => Promise<Checkpoint>;
  log: (line: string) => void;
}

/**
 * Records the epoch just evaluated (already in `progress.history`): if it is
 * the best so far, it becomes `progress.best` and is written as the best
 * checkpoint (in the last epoch, {@link testBest} writes it with its test
 * metrics). Otherwise says so, with the learning rate from now on when
 * `--lr-plateau` changes it.
 */
export async function selectEpoch(context: SelectionContext, lastEpoch: boolean): Promise<void> {
  const { config, progress, log } = context;
  const metrics = progress.history.at(-1)!;
  if (improves(metrics, progress.best?.metrics)) {
    progress.best = { epoch: progress.epoch, metrics: { ...metrics } };
    if (!lastEpoch) {
      await context.output.saveBest(await context.snapshot());
      log(`  best so far: written to ${bestCheckpointPath(config.out)}`);
    }
    return;
  }
  const best = progress.best;
  const lr = learningRateAt(config, progress.epoch, progress.history);
  log(
    `  ${describeSelection(metrics)} is no better than ` +
      (best ? `epoch ${best.epoch} (${describeSelection(best.metrics)})` : "none") +
      (config.lrPlateau > 1 ? `: learning rate divided by ${config.lrPlateau}, now ${lr}` : ""),
  );
}

/**
 * At the end of a run: evaluates the whole test split on the best epoch's
 * model (`compute` itself when that is the epoch just trained, `last`; else
 * the best checkpoint's weights, after `release` has freed `compute`), adds
 * the test metrics to `progress.best` and to `last`'s record, writes the best
 * checkpoint with them and returns them.
 */
export async function testBest(
  context: SelectionContext,
  compute: Compute,
  last: Checkpoint,
  release: () => void,
): Promise<TestResult> {
  const { config, progress, output } = context;
  const best = progress.best;
  // Only a diverged last epoch leaves none; saving the last checkpoint says so.
  if (!best) return { metrics: progress.history.at(-1) ?? {} };
  let checkpoint = last;
  let test: TestResult;
  if (best.epoch === progress.epoch) test = await testSplit(context.task, compute);
  else {
    checkpoint = await output.loadBest(best.epoch, progress.runId);
    // The masked path names its tfjs variables: one model at a time.
    release();
    test = await evaluateTest(config, context.task, checkpoint);
  }
  best.metrics = { ...best.metrics, ...test.metrics };
  last.meta.progress.best = structuredClone(best);
  checkpoint.meta.progress.best = structuredClone(best);
  await output.saveBest(checkpoint);
  context.log(
    `best epoch ${best.epoch} of ${progress.epoch}: ${formatBest(best.metrics)} ` +
      `(written to ${bestCheckpointPath(config.out)})`,
  );
  return { ...test, metrics: best.metrics };
}

/** The test metrics of `checkpoint`'s weights, on a compute path of their own. */
async function evaluateTest(
  config: TrainConfig,
  task: Task,
  checkpoint: Checkpoint,
): Promise<TestResult> {
  const compute = await createCompute(config.compute, {
    task,
    model: task.model,
    params: checkpoint.params,
    masks: new Map(Object.entries(checkpoint.masks)),
    optimizer: config.optimizer,
    denseMomentum: false,
    clipNorm: config.clipNorm,
    threads: config.threads || navigator.hardwareConcurrency,
  });
  try {
    return await testSplit(task, compute);
  } finally {
    compute.dispose();
  }
}

function formatBest(metrics: Record<string, number>): string {
  return Object.entries(metrics)
    .filter(([k]) => k.startsWith("valid_") || k.startsWith("test_"))
    .map(([k, v]) => `${k} ${k.endsWith("acc") ? (100 * v).toFixed(1) + "%" : v.toFixed(3)}`)
    .join("  ");
}
