/**
 * The training loop: one function, readable top to bottom.
 *
 * Each step: forward and loss, gradients, (clip), mask the gradients of
 * sparse weights unless the method keeps dense momentum, optimizer step,
 * re-apply masks. After each epoch (or every `updateEvery` steps) the sparse
 * topology is updated: prune the smallest weights, regrow as many. After each
 * epoch: evaluate and write a checkpoint atomically, so an interrupted run
 * resumes from its last finished epoch.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../backend/backend.ts";
import { initMasks } from "../core/init.ts";
import { methodPreset } from "../core/methods.ts";
import { growersByName } from "../core/grow.ts";
import { prunersByName } from "../core/prune.ts";
import { redistributorsByName } from "../core/redistribute.ts";
import { Rng } from "../core/rng.ts";
import { schedulesByName } from "../core/schedule.ts";
import { UserError } from "../errors.ts";
import { paramSpecs } from "../model/config.ts";
import { initParams, toHost, toVariables } from "../model/params.ts";
import { type Checkpoint, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import { type TrainConfig, validateConfig } from "./config.ts";
import { clipByGlobalNorm, Optimizer } from "./optimizer.ts";
import { SparseWeights } from "./sparse_weights.ts";
import { loadTask } from "./tasks.ts";

/** Where progress lines go; the CLI prints them, tests collect them. */
export type Log = (line: string) => void;

/** What a finished run returns. */
export interface TrainResult {
  checkpoint: Checkpoint;
  /** Metrics of the last epoch. */
  metrics: Record<string, number>;
}

/** Trains a model as `config` says and returns its final checkpoint. */
export async function train(config: TrainConfig, log: Log = console.log): Promise<TrainResult> {
  validateConfig(config);
  await useBackend(config.backend);
  const task = await loadTask(config);
  const method = methodPreset(config.sparse.method);
  const specs = paramSpecs(task.model);

  // Fresh start, or resume an unfinished run from its last checkpoint.
  const previous = await resumable(config, task.model);
  let rng = new Rng(config.seed);
  const hostParams = previous?.params ?? initParams(task.model, rng);
  const masks = previous
    ? new Map(Object.entries(previous.masks))
    : method.kind === "dynamic"
    ? initMasks(specs, {
      method: config.sparse.epsilon !== undefined ? "er" : config.sparse.init,
      target: config.sparse.epsilon !== undefined ? { epsilon: config.sparse.epsilon } : { sparsity: config.sparse.sparsity },
      sparseEmbedding: config.sparse.sparseEmbedding,
      sparseDecoder: config.sparse.sparseDecoder,
    }, rng)
    : new Map<string, Uint8Array>();
  const params = toVariables(hostParams);
  const sparse = new SparseWeights(masks, Object.fromEntries(specs.map((s) => [s.name, s.shape])));
  sparse.applyMasks(params);
  const optimizer = new Optimizer(config.optimizer, params);
  const progress = previous?.meta.progress ?? { epoch: 0, step: 0, rngState: rng.state, optimizerSteps: 0, history: [], done: false };
  if (previous) {
    optimizer.load(previous.optimizer, progress.optimizerSteps);
    rng = Rng.fromState(progress.rngState);
    log(`resuming ${config.out} after epoch ${progress.epoch} (step ${progress.step})`);
  }
  log(describeRun(config, task.model.kind, sparse.nonzeros(), specs));

  const totalSteps = config.epochs * stepsPerEpoch(config, task.stepsPerEpoch);
  const schedule = schedulesByName[config.sparse.schedule](config.sparse.pruneRate);
  const isUpdateStep = (step: number) => config.sparse.updateEvery > 0 && step % config.sparse.updateEvery === 0;
  let metrics: Record<string, number> = {};

  for (let epoch = progress.epoch; epoch < config.epochs; epoch++) {
    const lr = config.learningRate * config.lrDecay ** epoch;
    const started = performance.now();
    let tokens = 0, lossSum = 0, steps = 0;
    let lastGrads: Record<string, tf.Tensor> | undefined;
    for (const batch of task.batches(rng)) {
      if (config.maxSteps > 0 && steps >= config.maxSteps) break;
      const drop = { rate: config.model.dropout, seed: rng.seed() };
      const { value, grads } = tf.variableGrads(() => task.loss(params, batch, drop));
      const clipped = clipByGlobalNorm(grads, config.clipNorm);
      tf.tidy(() =>
        optimizer.apply(params, method.needs.denseMomentumEveryStep ? clipped : sparse.maskGradients(clipped), lr)
      );
      sparse.applyMasks(params);
      progress.step++, steps++, tokens += batch.T * batch.B;
      lossSum += (await value.data())[0];
      // RigL grows by the dense gradient: keep the latest one for the next update.
      if (lastGrads) tf.dispose(Object.values(lastGrads));
      lastGrads = method.needs.denseGradientAtUpdate ? clipped : undefined;
      const kept = new Set(Object.values(lastGrads ?? {}));
      tf.dispose([value, ...Object.values(grads), ...Object.values(clipped)].filter((t) => !kept.has(t)));
      if (method.kind === "dynamic" && isUpdateStep(progress.step) && progress.step < totalSteps) {
        await updateTopology(progress.step);
      }
      if (config.logEvery > 0 && steps % config.logEvery === 0) {
        const seconds = (performance.now() - started) / 1000;
        log(`epoch ${epoch + 1} step ${steps}/${task.stepsPerEpoch} loss ${(lossSum / steps).toFixed(3)} ` +
          `${Math.round(tokens / seconds)} tok/s`);
      }
    }
    const lastEpoch = epoch === config.epochs - 1;
    if (method.kind === "dynamic" && config.sparse.updateEvery === 0 && !lastEpoch) {
      await updateTopology(progress.step);
    }
    if (lastGrads) tf.dispose(Object.values(lastGrads));
    metrics = { epoch: epoch + 1, train_loss: lossSum / Math.max(steps, 1), ...(await task.evaluate(params, "valid")) };
    if (lastEpoch) Object.assign(metrics, await task.evaluate(params, "test"));
    metrics.seconds = (performance.now() - started) / 1000;
    log(`epoch ${epoch + 1}/${config.epochs} ` + formatMetrics(metrics));
    progress.history.push(metrics);
    progress.epoch = epoch + 1;
    progress.optimizerSteps = optimizer.steps;
    progress.rngState = rng.state;
    progress.done = lastEpoch;
    await saveCheckpoint(config.out, await snapshot());
    log(`checkpoint written to ${config.out}`);

    async function updateTopology(step: number) {
      const report = await sparse.update(params, optimizer, {
        pruneRate: schedule(step, totalSteps),
        prune: prunersByName[config.sparse.prune],
        grow: growersByName[config.sparse.grow],
        redistribute: redistributorsByName[config.sparse.redistribution],
        rng,
        useMomentum: config.sparse.grow === "momentum" || config.sparse.redistribution === "momentum",
      }, lastGrads);
      const moved = report.layers.reduce((n, l) => n + l.grown.length, 0);
      log(`  topology update at step ${step}: prune rate ${report.pruneRate.toFixed(3)}, ${moved} connections moved`);
    }
  }

  const checkpoint = await snapshot();
  tf.dispose(Object.values(params));
  sparse.dispose();
  return { checkpoint, metrics };

  async function snapshot(): Promise<Checkpoint> {
    return {
      meta: {
        format: CHECKPOINT_FORMAT,
        version: CHECKPOINT_VERSION,
        model: task.model,
        training: config as unknown as Record<string, unknown>,
        vocab: task.vocab,
        labels: task.labels,
        tokenizer: task.tokenizer,
        progress: structuredClone(progress),
      },
      params: await toHost(params),
      masks: Object.fromEntries(sparse.masks),
      optimizer: await optimizer.toHost(),
    };
  }
}

function stepsPerEpoch(config: TrainConfig, steps: number): number {
  return config.maxSteps > 0 ? Math.min(config.maxSteps, steps) : steps;
}

/** The checkpoint to resume from, if `config.out` holds an unfinished run of the same model. */
async function resumable(config: TrainConfig, model: unknown): Promise<Checkpoint | undefined> {
  try {
    await Deno.stat(config.out);
  } catch {
    return undefined;
  }
  const ckpt = await loadCheckpoint(config.out);
  if (ckpt.meta.progress.done) return undefined;
  if (JSON.stringify(ckpt.meta.model) !== JSON.stringify(model)) {
    throw new UserError(
      `${config.out} holds an unfinished run of a different model; pass another --out or delete that file to start over`,
    );
  }
  return ckpt;
}

function describeRun(
  config: TrainConfig,
  kind: string,
  nonzeros: Record<string, number>,
  specs: ReturnType<typeof paramSpecs>,
): string {
  const sizes = Object.fromEntries(specs.map((s) => [s.name, s.shape.reduce((a, b) => a * b, 1)]));
  const sparseSize = Object.keys(nonzeros).reduce((n, k) => n + sizes[k], 0);
  const active = Object.values(nonzeros).reduce((a, b) => a + b, 0);
  const total = Object.values(sizes).reduce((a, b) => a + b, 0);
  const sparsity = sparseSize > 0 ? 1 - active / sparseSize : 0;
  return `training ${kind} with ${config.sparse.method} on ${config.data} (backend ${config.backend}): ` +
    `${total} parameters, sparse matrices ${(100 * sparsity).toFixed(2)}% sparse ` +
    `(${active} of ${sparseSize} connections active)`;
}

/** `key value` pairs of a metrics record, perplexities and accuracies rounded sensibly. */
export function formatMetrics(metrics: Record<string, number>): string {
  return Object.entries(metrics)
    .filter(([k]) => k !== "epoch")
    .map(([k, v]) => `${k} ${k.endsWith("acc") ? (100 * v).toFixed(1) + "%" : v.toFixed(k === "seconds" ? 1 : 3)}`)
    .join("  ");
}
