/**
 * The training loop: one function, readable top to bottom.
 *
 * Each step (./step.ts): forward and loss, gradients, clip, mask the
 * gradients of sparse weights (unless the method keeps dense momentum),
 * optimizer step, re-apply masks. After each epoch, or every `updateEvery`
 * steps, the sparse topology changes (./topology_updates.ts): prune the
 * smallest weights and regrow as many, or for gmp prune towards its
 * schedule. After each epoch: evaluate and write a checkpoint atomically,
 * so an interrupted run resumes from its last finished epoch.
 *
 * @module
 */

import { useBackend } from "../backend/backend.ts";
import { sparseParams } from "../core/density.ts";
import { initMasks, initParams } from "../core/init.ts";
import { countActive } from "../core/mask.ts";
import { methodPreset, smallDenseHiddenSize } from "../core/methods.ts";
import { Rng } from "../core/rng.ts";
import { UserError } from "../spec/errors.ts";
import { type ModelConfig, paramSpecs, sizeOf } from "../spec/config.ts";
import {
  type Checkpoint,
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  loadCheckpoint,
  type Progress,
  saveCheckpoint,
} from "../spec/checkpoint.ts";
import { sparseNeeds, type TrainConfig, validateConfig } from "./config.ts";
import { formatReport, type RunReport, runReport } from "./report.ts";
import { connections, createCompute, nonzeros } from "./compute.ts";
import { loadTask, type Task } from "./tasks.ts";
import { TopologyUpdates } from "./topology_updates.ts";

/** Where progress lines go; the CLI prints them, tests collect them. */
export type Log = (line: string) => void;

/** What a finished run returns. */
export interface TrainResult {
  checkpoint: Checkpoint;
  /** Metrics of the last epoch. */
  metrics: Record<string, number>;
  /** Parameters and FLOPs, absolute and relative to dense. */
  report: RunReport;
}

/** Trains a model as `config` says and returns its final checkpoint. */
export async function train(config: TrainConfig, log: Log = console.log): Promise<TrainResult> {
  validateConfig(config);
  const method = methodPreset(config.sparse.method);
  const needs = sparseNeeds(config);
  if (config.compute === "masked") await useBackend(config.backend);
  const fullSize = await loadTask(config);
  const task = method.name === "small-dense"
    ? await smallDenseTask(config, fullSize.model)
    : fullSize;

  // Fresh start, or resume an unfinished run from its last checkpoint.
  const previous = await resumable(config, task.model, log);
  let rng = new Rng(config.seed);
  const hostParams = previous?.params ?? initParams(task.model, rng);
  const masks = previous
    ? new Map(Object.entries(previous.masks))
    : initialMasks(config, task.model, rng);
  const progress: Progress = previous?.meta.progress ?? newProgress(rng);
  if (previous) rng = Rng.fromState(progress.rngState);
  const compute = await createCompute(config.compute, {
    task,
    model: task.model,
    params: hostParams,
    masks,
    optimizer: config.optimizer,
    optimizerState: previous &&
      { slots: previous.optimizer, steps: progress.optimizerSteps },
    denseMomentum: needs.denseMomentumEveryStep,
    clipNorm: config.clipNorm,
  });
  try {
    if (previous) {
      log(`resuming ${config.out} after epoch ${progress.epoch} (step ${progress.step})`);
    }
    for (const line of task.summary) log(line);
    log(describeRun(config, task.model, connections(masks)));
    const stepsPerEpoch = config.maxSteps > 0
      ? Math.min(config.maxSteps, task.stepsPerEpoch)
      : task.stepsPerEpoch;
    const topology = new TopologyUpdates(config.sparse, method, config.epochs, stepsPerEpoch);
    // gmp's training cost follows the sparsity each step really ran at.
    const prunedFraction = () => {
      const { active, size } = connections(masks);
      return size > 0 && config.sparse.sparsity > 0
        ? (1 - active / size) / config.sparse.sparsity
        : 0;
    };
    let currentPrunedFraction = method.kind === "gradual" ? prunedFraction() : 0;
    const updateTopology = async () => {
      progress.topologyUpdates++;
      log("  " + await topology.apply(progress.step, compute, rng));
      if (method.kind === "gradual") currentPrunedFraction = prunedFraction();
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
          progress: structuredClone(progress),
        },
        params: state.params,
        masks: Object.fromEntries(masks),
        optimizer: state.slots,
      };
    };

    let metrics: Record<string, number> = {};
    for (let epoch = progress.epoch; epoch < config.epochs; epoch++) {
      const lr = config.learningRate * config.lrDecay ** epoch;
      const started = performance.now();
      let tokens = 0, lossSum = 0, steps = 0;
      const lastEpoch = epoch === config.epochs - 1;
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
        lossSum += loss, steps++, tokens += batch.T * batch.B;
        progress.step++, progress.tokens += batch.T * batch.B, progress.sequences += batch.B;
        progress.prunedFractionSum += currentPrunedFraction;
        if (topology.dueAfterStep(progress.step)) await updateTopology();
        if (config.logEvery > 0 && steps % config.logEvery === 0) {
          const perSecond = Math.round(tokens / ((performance.now() - started) / 1000));
          const loss = (lossSum / steps).toFixed(3);
          log(`epoch ${epoch + 1} step ${steps}/${stepsPerEpoch} loss ${loss} ${perSecond} tok/s`);
        }
      }
      if (topology.dueAfterEpoch(lastEpoch)) await updateTopology();
      if (config.logEvery > 0) log(`epoch ${epoch + 1}: evaluating`);
      metrics = {
        epoch: epoch + 1,
        train_loss: lossSum / Math.max(steps, 1),
        ...(await compute.evaluate("valid")),
        ...(lastEpoch ? await compute.evaluate("test") : {}),
        seconds: (performance.now() - started) / 1000,
      };
      log(`epoch ${epoch + 1}/${config.epochs} ` + formatMetrics(metrics));
      Object.assign(progress, {
        epoch: epoch + 1,
        optimizerSteps: (await compute.snapshot()).steps,
        rngState: rng.state,
        done: lastEpoch,
      });
      progress.history.push(metrics);
      await saveCheckpoint(config.out, await snapshot());
      log(`checkpoint written to ${config.out}`);
    }

    const report = runReport(task.model, fullSize.model, nonzeros(masks), {
      // FLOPs follow the dense quantities the run really computed.
      method: needs.denseMomentumEveryStep
        ? "snfs"
        : needs.denseGradientAtUpdate
        ? "rigl"
        : method.name,
      tokens: progress.tokens,
      steps: Math.max(progress.step, 1),
      sequences: progress.sequences,
      topologyUpdates: progress.topologyUpdates,
      gmp: topology.gmpSchedule,
      gmpMeanPrunedFraction: progress.prunedFractionSum / Math.max(progress.step, 1),
    });
    log(formatReport(report));
    return { checkpoint: await snapshot(), metrics, report };
  } finally {
    compute.dispose();
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

/** The checkpoint to resume from, if `config.out` holds an unfinished run of the same model. */
async function resumable(
  config: TrainConfig,
  model: ModelConfig,
  log: Log,
): Promise<Checkpoint | undefined> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(config.out);
  } catch {
    return undefined;
  }
  if (!stat.isFile) {
    throw new UserError(
      `--out ${config.out} is a directory; pass a file path such as ${config.out}/checkpoint.sparrow`,
    );
  }
  const ckpt = await loadCheckpoint(config.out);
  if (ckpt.meta.progress.done) {
    log(`${config.out} holds a finished run; starting a new run that will replace it`);
    return undefined;
  }
  const saved = ckpt.meta.training as Partial<TrainConfig>;
  const differs = [
    ["model", ckpt.meta.model, model],
    ["method", saved.sparse, config.sparse],
    ["optimizer", saved.optimizer, config.optimizer],
    ["data", saved.data, config.data],
  ].filter(([, a, b]) => canonicalJson(a) !== canonicalJson(b)).map(([what]) => what);
  if (differs.length > 0) {
    throw new UserError(
      `${config.out} holds an unfinished run with a different ${differs.join(", ")}; ` +
        `pass another --out, or delete that file to start over`,
    );
  }
  return ckpt;
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
  return `training ${model.kind} (hidden ${model.hiddenSize}) with ${config.sparse.method} on ${config.data} ` +
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
