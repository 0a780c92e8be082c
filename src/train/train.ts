/**
 * The training loop: one function, readable top to bottom.
 *
 * Each step runs on a compute path (./compute.ts): the sparse CPU engine
 * or masked tfjs. Forward and loss, gradients of the connections that exist
 * (dense ones when the method keeps dense momentum), clip, optimizer step.
 * After each epoch: evaluate on the valid split and keep the best epoch's
 * model (./selection.ts, which also lowers the learning rate on a plateau).
 * Then, after each epoch or every `updateEvery` steps, the sparse topology
 * changes (./topology_updates.ts): prune the smallest weights and regrow as
 * many, or for gmp prune towards its schedule. Last, write the checkpoint
 * atomically, so an interrupted run resumes from its last finished epoch.
 * The test split is evaluated once, at the end, on the best epoch's model.
 *
 * A run holds a lock on its `--out` (./run_lock.ts), finds out what the
 * checkpoint already there means for it (./resume.ts: resume, extend, or
 * nothing to do), and stops at the first non-finite loss, keeping the last
 * good checkpoint.
 *
 * @module
 */

import { useBackend } from "../backend/backend.ts";
import { sparseParams } from "../core/density.ts";
import { initMasks, initParams, scaleByDensity } from "../core/init.ts";
import { countActive } from "../core/mask.ts";
import { methodPreset, smallDenseHiddenSize } from "../core/methods.ts";
import { Rng } from "../core/rng.ts";
import { writeFileAtomic } from "../spec/atomic.ts";
import { UserError } from "../spec/errors.ts";
import { type ModelConfig, paramSpecs, sizeOf } from "../spec/config.ts";
import {
  type Checkpoint,
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  type Progress,
} from "../spec/checkpoint.ts";
import { sparseNeeds, type TrainConfig, validateConfig } from "./config.ts";
import { connections, createCompute } from "./compute.ts";
import { allocationFailure, checkEpsilon, checkMemory } from "./preflight.ts";
import { checkpointReport, countStep, formatReport, type RunReport } from "./report.ts";
import { planRun } from "./resume.ts";
import { RunOutput, type WriteFile } from "./run_output.ts";
import { learningRateAt, selectEpoch, testBest } from "./selection.ts";
import { acquireRunLock } from "./run_lock.ts";
import { loadTask, type Task } from "./tasks.ts";
import { TopologyUpdates } from "./topology_updates.ts";
import { type ClassificationMetrics, formatClassificationMetrics } from "../core/metrics.ts";
import type { TestResult } from "./evaluation.ts";
import { recordNonzeros, recordUpdate } from "./history.ts";
import { ProgressMeter, type ProgressMode } from "./progress.ts";
import { writeRunReport } from "./run_report.ts";

/** Where progress lines go; the CLI prints them, tests collect them. */
export type Log = (line: string) => void;

/** How a run treats what is already at its `--out`, and how it writes. */
export interface TrainOptions {
  /**
   * Start over even when `--out` holds a run. The old checkpoint stays until
   * the new run has written its first epoch over it (atomically).
   */
  restart?: boolean;
  /** Writes a checkpoint file atomically; tests pass one that fails (a full disk). */
  write?: WriteFile;
  /** Step progress redrawn on one terminal line, or plain lines (the default). */
  progress?: ProgressMode;
  /** Writes the run report (HTML) beside the checkpoint after each epoch (the CLI does). */
  htmlReport?: boolean;
}

/** What a finished run returns. */
export interface TrainResult {
  checkpoint: Checkpoint;
  /**
   * Metrics of the best epoch by validation (its `epoch` says which), with
   * the test metrics of its model; see ./selection.ts.
   */
  metrics: Record<string, number>;
  /** Parameters and FLOPs, absolute and relative to dense. */
  report: RunReport;
  /** False when `--out` already held a finished run and nothing was trained. */
  trained: boolean;
  /** A classifier's test split: accuracy, per-class scores, confusion matrix. */
  classification?: ClassificationMetrics;
}

/**
 * Trains a model as `config` says and returns its final checkpoint. A
 * finished run at `config.out` is kept and returned as it is, unless
 * `config.epochs` asks for more epochs (the run is extended) or
 * `options.restart` is set.
 */
export async function train(
  config: TrainConfig,
  log: Log = console.log,
  options: TrainOptions = {},
): Promise<TrainResult> {
  validateConfig(config);
  const lock = await acquireRunLock(config.out);
  try {
    const plan = await planRun(config, options.restart ?? false);
    if (plan.kind === "finished") return keepFinished(config, plan.checkpoint, log);
    const previous = plan.kind === "resume" ? plan.checkpoint : undefined;
    return await run(config, previous, log, options.write ?? writeFileAtomic, options);
  } catch (err) {
    throw allocationFailure(err, config) ?? err;
  } finally {
    await lock.release();
  }
}

/** Trains from scratch, or from `previous` (an unfinished run, or one to extend). */
async function run(
  config: TrainConfig,
  previous: Checkpoint | undefined,
  log: Log,
  write: WriteFile,
  options: TrainOptions = {},
): Promise<TrainResult> {
  if (config.compute === "masked") await useBackend(config.backend);
  const method = methodPreset(config.sparse.method);
  const needs = sparseNeeds(config);
  const fullSize = await loadTask(config);
  const task = await sizedTask(config, fullSize);
  if (previous) checkSameModel(previous, task.model, config.out);

  let rng = new Rng(config.seed);
  const hostParams = previous?.params ?? initParams(task.model, rng, config.weightInit);
  const masks = previous
    ? new Map(Object.entries(previous.masks))
    : initialMasks(config, task.model, rng);
  if (!previous && config.weightInit === "fan-in") scaleByDensity(hostParams, masks);
  const progress: Progress = previous?.meta.progress ?? newProgress(rng);
  if (previous) rng = Rng.fromState(progress.rngState);
  // A run recorded before best checkpoints existed selects among the epochs it trains from now.
  progress.runId ??= crypto.randomUUID();
  const compute = await createCompute(config.compute, {
    task,
    model: task.model,
    params: hostParams,
    masks,
    optimizer: config.optimizer,
    optimizerState: previous && { slots: previous.optimizer, steps: progress.optimizerSteps },
    denseMomentum: needs.denseMomentumEveryStep,
    clipNorm: config.clipNorm,
    threads: config.threads || navigator.hardwareConcurrency,
  });
  // Testing the best model at the end may need the memory of this one.
  let released = false;
  const release = () => {
    if (!released) compute.dispose();
    released = true;
  };
  try {
    if (previous) {
      log(
        progress.done
          ? `extending ${config.out} from ${progress.epoch} to ${config.epochs} epochs`
          : `resuming ${config.out} after epoch ${progress.epoch} (step ${progress.step})`,
      );
    }
    for (const line of task.summary) log(line);
    log(describeRun(config, task.model, connections(masks)));
    const stepsPerEpoch = config.maxSteps > 0
      ? Math.min(config.maxSteps, task.stepsPerEpoch)
      : task.stepsPerEpoch;
    const meter = new ProgressMeter({
      log,
      mode: options.progress ?? "plain",
      logEvery: config.logEvery,
      epochs: config.epochs,
      stepsPerEpoch,
      firstEpoch: progress.epoch,
    });
    log = meter.log;
    const topology = new TopologyUpdates(config.sparse, method, config.epochs, stepsPerEpoch);
    const updateTopology = async () => {
      progress.topologyUpdates++;
      log("  " + await topology.apply(progress.step, compute, rng));
      recordUpdate(progress, progress.step, topology.lastRewired);
    };
    const snapshot = async (): Promise<Checkpoint> => {
      const state = await compute.snapshot();
      return {
        meta: {
          format: CHECKPOINT_FORMAT,
          version: CHECKPOINT_VERSION,
          model: task.model,
          training: config as unknown as Record<string, unknown>,
          vocab: task.vocab,
          labels: task.labels,
          tokenizer: task.tokenizer,
          ...(task.data ? { data: task.data as unknown as Record<string, unknown> } : {}),
          progress: structuredClone(progress),
        },
        params: state.params,
        masks: Object.fromEntries(masks),
        optimizer: state.slots,
      };
    };
    const output = await RunOutput.open(config, write, previous && progress.epoch);
    // A finished run skipped the update after its last epoch; a longer run makes it.
    if (progress.done && topology.dueAfterLastEpoch(progress.step)) await updateTopology();

    const selection = { config, task, progress, output, snapshot, log };
    let tested: TestResult = { metrics: progress.best?.metrics ?? {} };
    let checkpoint: Checkpoint | undefined;
    for (let epoch = progress.epoch; epoch < config.epochs; epoch++) {
      const lr = learningRateAt(config, epoch, progress.history);
      const started = performance.now();
      let tokens = 0, lossSum = 0, steps = 0;
      const lastEpoch = epoch === config.epochs - 1;
      meter.startEpoch(epoch);
      for (const batch of task.batches(rng)) {
        if (steps >= stepsPerEpoch) break;
        const drop = { rate: config.model.dropout, seed: rng.seed() };
        // Gradient growth ranks by the dense gradients of the step before an update.
        const updateFollows = topology.dueAfterStep(progress.step + 1) ||
          (steps + 1 === stepsPerEpoch && topology.dueAfterEpoch(lastEpoch));
        const loss = await compute.step(
          batch,
          drop,
          lr,
          needs.denseGradientAtUpdate && updateFollows,
        );
        output.checkLoss(loss, epoch + 1, steps + 1);
        lossSum += loss, steps++, tokens += batch.T * batch.B;
        countStep(progress, batch, topology.prunedFraction(masks));
        if (topology.dueAfterStep(progress.step)) await updateTopology();
        meter.step(steps, tokens, lossSum);
      }
      // Evaluate, and keep the best, before the topology update (as the authors' code does).
      if (config.logEvery > 0) log(`epoch ${epoch + 1}: evaluating`);
      const epochMetrics = {
        epoch: epoch + 1,
        train_loss: lossSum / Math.max(steps, 1),
        ...(await compute.evaluate("valid")),
        seconds: (performance.now() - started) / 1000,
      };
      log(`epoch ${epoch + 1}/${config.epochs} ` + formatMetrics(epochMetrics));
      Object.assign(progress, {
        epoch: epoch + 1,
        optimizerSteps: compute.optimizerSteps,
        rngState: rng.state,
        done: lastEpoch,
      });
      progress.history.push(epochMetrics);
      await selectEpoch(selection, lastEpoch);
      if (topology.dueAfterEpoch(lastEpoch)) await updateTopology();
      progress.rngState = rng.state;
      recordNonzeros(progress, compute.masks);
      checkpoint = await snapshot();
      if (lastEpoch) tested = await testBest(selection, compute, checkpoint, release);
      await output.save(checkpoint);
      log(`checkpoint written to ${config.out}`);
      if (options.htmlReport) await writeRunReport(config.out, checkpoint, log);
    }

    checkpoint ??= await snapshot();
    const report = checkpointReport(checkpoint, config, fullSize.model);
    log(formatReport(report));
    const { metrics, classification } = tested;
    if (classification) log(formatClassificationMetrics(classification, "test: "));
    return {
      checkpoint,
      metrics,
      report,
      trained: true,
      ...(classification && { classification }),
    };
  } finally {
    release();
  }
}

/** A finished run at `--out` with the epochs asked for: kept as it is. */
function keepFinished(config: TrainConfig, checkpoint: Checkpoint, log: Log): TrainResult {
  const { epoch, history, best } = checkpoint.meta.progress;
  log(
    `${config.out} already holds a run trained for ${epoch} epochs; nothing to train ` +
      `(pass --epochs above ${epoch} to extend it, or --restart to start over)`,
  );
  const reference = { ...checkpoint.meta.model, hiddenSize: config.model.hiddenSize };
  return {
    checkpoint,
    metrics: best?.metrics ?? history.at(-1) ?? {},
    report: checkpointReport(checkpoint, config, reference),
    trained: false,
  };
}

/**
 * The task the run trains, after the checks that need the model's shape:
 * `fullSize` itself, or for small-dense the same data with a smaller model.
 */
async function sizedTask(config: TrainConfig, fullSize: Task): Promise<Task> {
  checkEpsilon(config, fullSize.model);
  checkMemory(config, fullSize.model, Deno.systemMemoryInfo().total);
  return config.sparse.method === "small-dense"
    ? await smallDenseTask(config, fullSize.model)
    : fullSize;
}

/** Refuses to resume a run whose model (its vocabulary, say) came out differently. */
function checkSameModel(previous: Checkpoint, model: ModelConfig, out: string): void {
  if (canonicalJson(previous.meta.model) !== canonicalJson(model)) {
    throw new UserError(
      `${out} holds a run of a different model (${canonicalJson(previous.meta.model)}, now ` +
        `${canonicalJson(model)}): has the data changed? Pass another --out, or --restart`,
    );
  }
}

function newProgress(rng: Rng): Progress {
  return {
    epoch: 0,
    step: 0,
    rngState: rng.state,
    optimizerSteps: 0,
    tokens: 0,
    sequences: 0,
    topologyUpdates: 0,
    prunedFractionSum: 0,
    history: [],
    done: false,
    runId: crypto.randomUUID(),
  };
}

/**
 * The starting masks: a random sparse topology for dynamic methods, all
 * ones for gmp (it starts dense and prunes), none for dense methods.
 */
function initialMasks(config: TrainConfig, model: ModelConfig, rng: Rng): Map<string, Uint8Array> {
  const method = methodPreset(config.sparse.method);
  const specs = paramSpecs(model);
  const which = {
    sparseEmbedding: config.sparse.sparseEmbedding,
    sparseDecoder: config.sparse.sparseDecoder,
  };
  if (method.kind === "gradual") {
    return new Map(
      sparseParams(specs, which).map((s) => [s.name, new Uint8Array(sizeOf(s.shape)).fill(1)]),
    );
  }
  if (method.kind === "dense") return new Map();
  const { epsilon } = config.sparse;
  return initMasks(specs, {
    ...which,
    // ε is an Erdős–Rényi density: per gate matrix (er) or per variable (erk).
    method: epsilon !== undefined && config.sparse.init !== "erk" ? "er" : config.sparse.init,
    target: epsilon !== undefined ? { epsilon } : { sparsity: config.sparse.sparsity },
  }, rng);
}

/**
 * The small-dense baseline: the same task with the hidden size shrunk so the
 * dense model has as many parameters as the sparse one has nonzeros.
 */
async function smallDenseTask(config: TrainConfig, fullSize: ModelConfig): Promise<Task> {
  const sparseConfig = { ...config, sparse: { ...config.sparse, method: "strnn" as const } };
  const masks = initialMasks(sparseConfig, fullSize, new Rng(config.seed));
  const specs = paramSpecs(fullSize);
  const nonzeros = specs.reduce((n, s) => {
    const mask = masks.get(s.name);
    return n + (mask ? countActive(mask) : sizeOf(s.shape));
  }, 0);
  const hiddenSize = smallDenseHiddenSize(fullSize, nonzeros);
  return await loadTask({ ...config, model: { ...config.model, hiddenSize } });
}

/** JSON with object keys sorted, so equal settings compare equal whatever their key order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_, v) =>
      v && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
        : v,
  );
}

function describeRun(
  config: TrainConfig,
  model: ModelConfig,
  connections: { active: number; size: number },
): string {
  const { active, size: sparseSize } = connections;
  const total = paramSpecs(model).reduce((n, s) => n + sizeOf(s.shape), 0);
  const sparsity = sparseSize > 0 ? 1 - active / sparseSize : 0;
  return `training ${model.kind} (hidden ${model.hiddenSize}) with ${config.sparse.method} on ${
    config.input.train || config.data
  } ` +
    `(${computeLabel(config)}): ${total} parameters` +
    (sparseSize > 0
      ? `, sparse matrices ${
        (100 * sparsity).toFixed(2)
      }% sparse (${active} of ${sparseSize} connections active)`
      : ", all dense");
}

/** `key value` pairs of a metrics record, perplexities and accuracies rounded sensibly. */
export function formatMetrics(metrics: Record<string, number>): string {
  return Object.entries(metrics)
    .filter(([k]) => k !== "epoch")
    .map(([k, v]) =>
      `${k} ${k.endsWith("acc") ? (100 * v).toFixed(1) + "%" : v.toFixed(k === "seconds" ? 1 : 3)}`
    )
    .join("  ");
}

/** Which compute path runs the steps, for the run's first line. */
function computeLabel(config: TrainConfig): string {
  return config.compute === "sparse" ? "sparse CPU engine" : `masked tfjs on ${config.backend}`;
}
