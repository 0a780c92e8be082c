/**
 * The checkpoint: everything needed to resume training or to export a model,
 * in one sparrow container file (see ../io/container.ts), written atomically.
 *
 * Tensors are named `param/<name>` (float32 weights, zero where masked),
 * `mask/<name>` (uint8, 1 = active connection; only sparse parameters have
 * one) and `optim/<slot>/<name>` (optimizer state). The metadata is
 * {@link CheckpointMeta}: plain JSON with the model and training
 * configuration, vocabulary or labels, tokenizer settings and progress.
 *
 * @module
 */

import { UserError } from "./errors.ts";
import { type Container, decodeContainer, encodeContainer, readContainer } from "./container.ts";
import { writeFileAtomic } from "./atomic.ts";
import { type ModelConfig, paramSpecs, sizeOf } from "./config.ts";
import type { HostParams } from "../spec/params.ts";
import type { BestEpoch } from "./selection.ts";

/** The checkpoint format's name and version, checked on load. */
export const CHECKPOINT_FORMAT = "sparrow-checkpoint";
/** Bumped when the layout changes incompatibly. */
export const CHECKPOINT_VERSION = 1;

/** Where a run stands, so an interrupted run resumes where it left off. */
export interface Progress {
  /** Completed epochs. */
  epoch: number;
  /** Completed optimizer steps. */
  step: number;
  /** The run's Rng state after `epoch` epochs. */
  rngState: number;
  /** Steps taken by the optimizer (Adam's bias correction needs it). */
  optimizerSteps: number;
  /** Tokens and sequences trained on so far, for the FLOPs report. */
  tokens: number;
  sequences: number;
  /** Topology updates so far (RigL pays a dense gradient at each). */
  topologyUpdates: number;
  /** Sum over steps of (sparsity the step ran at) / (final sparsity), for gmp's FLOPs. */
  prunedFractionSum: number;
  /** One entry per completed epoch. */
  history: Record<string, number>[];
  /**
   * Nonzeros of each sparse matrix at the end of each completed epoch, for
   * the run report (absent in runs recorded before it was kept).
   */
  nonzeros?: Record<string, number>[];
  /**
   * Each topology update: the step it followed and the fraction of the
   * active connections it moved (gmp: pruned), for the run report.
   */
  updates?: { step: number; rewired: number }[];
  /** True once training has finished all its epochs. */
  done: boolean;
  /**
   * The epoch with the best validation metric so far, whose weights the best
   * checkpoint beside this one holds (see ./selection.ts). Absent in runs
   * recorded before best checkpoints existed.
   */
  best?: BestEpoch;
  /**
   * A random id of the run, the same in its checkpoint and its best
   * checkpoint, so a best file left by another run is never taken for this one's.
   */
  runId?: string;
}

/** Checkpoint metadata (the container's JSON header). */
export interface CheckpointMeta {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  model: ModelConfig;
  /** The training configuration the run used (free-form for export). */
  training: Record<string, unknown>;
  /** Vocabulary in id order. */
  vocab: string[];
  /** Class labels in id order (classifiers only). */
  labels?: string[];
  /** Tokenizer settings, so inference tokenises like training. */
  tokenizer?: Record<string, unknown>;
  /** What the run read: src/data/summary.ts's `DataSummary` (runs since it existed). */
  data?: Record<string, unknown>;
  progress: Progress;
}

/** A checkpoint in memory. */
export interface Checkpoint {
  meta: CheckpointMeta;
  params: HostParams;
  masks: Record<string, Uint8Array>;
  optimizer: HostParams;
}

/** Encodes a checkpoint as container bytes. */
export function encodeCheckpoint(ckpt: Checkpoint): Uint8Array {
  const tensors: Container["tensors"] = {};
  for (const [name, p] of Object.entries(ckpt.params)) {
    tensors[`param/${name}`] = { dtype: "float32", shape: p.shape, data: p.data };
  }
  for (const [name, m] of Object.entries(ckpt.masks)) {
    tensors[`mask/${name}`] = { dtype: "uint8", shape: ckpt.params[name].shape, data: m };
  }
  for (const [name, p] of Object.entries(ckpt.optimizer)) {
    tensors[`optim/${name}`] = { dtype: "float32", shape: p.shape, data: p.data };
  }
  return encodeContainer({ metadata: ckpt.meta, tensors });
}

/** Writes a checkpoint atomically (temp file + rename). */
export async function saveCheckpoint(path: string, ckpt: Checkpoint): Promise<void> {
  await writeFileAtomic(path, encodeCheckpoint(ckpt));
}

/** Decodes and validates checkpoint bytes; `source` names the file in errors. */
export function decodeCheckpoint(bytes: Uint8Array, source: string): Checkpoint {
  return fromContainer(decodeContainer<CheckpointMeta>(bytes, source), source);
}

/** Reads and validates a checkpoint file. */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  return fromContainer(await readContainer<CheckpointMeta>(path), path);
}

function fromContainer(container: Container<CheckpointMeta>, source: string): Checkpoint {
  const meta = container.metadata;
  const bad = (why: string): never => {
    throw new UserError(
      `${source} is not a usable sparrow checkpoint (${why}): train again with \`deno task train\``,
    );
  };
  if (!meta || meta.format !== CHECKPOINT_FORMAT) bad("it is not a checkpoint");
  if (meta.version !== CHECKPOINT_VERSION) {
    bad(`version ${meta.version}, expected ${CHECKPOINT_VERSION}`);
  }
  if (typeof meta.model !== "object" || meta.model === null) bad("it has no model configuration");
  if (!Array.isArray(meta.vocab)) bad("it has no vocabulary");
  const ckpt: Checkpoint = { meta, params: {}, masks: {}, optimizer: {} };
  for (const [key, t] of Object.entries(container.tensors)) {
    const slash = key.indexOf("/");
    const group = key.slice(0, slash);
    const name = key.slice(slash + 1);
    if (group === "param") ckpt.params[name] = { shape: t.shape, data: t.data as Float32Array };
    else if (group === "mask") ckpt.masks[name] = t.data as Uint8Array;
    else if (group === "optim") {
      ckpt.optimizer[name] = { shape: t.shape, data: t.data as Float32Array };
    }
  }
  for (const spec of paramSpecs(meta.model)) {
    const p = ckpt.params[spec.name];
    if (!p) bad(`parameter ${spec.name} is missing`);
    if (p.shape.join() !== spec.shape.join()) {
      bad(`parameter ${spec.name} has shape [${p.shape}], expected [${spec.shape}]`);
    }
    const mask = ckpt.masks[spec.name];
    if (mask && mask.length !== sizeOf(spec.shape)) bad(`mask of ${spec.name} has the wrong size`);
  }
  if (meta.vocab.length !== meta.model.vocabSize) bad("vocabulary size does not match the model");
  return ckpt;
}
