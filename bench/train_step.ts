/**
 * One training-step timing, run in its own process by bench/train.ts so that
 * each measurement has its own heap and its own peak memory. It times the
 * real step of a compute path (../src/train/compute.ts) on a synthetic batch:
 * the median of `--repeats` steps, after `--warmup` (three) warm-up steps.
 * Prints one JSON line: `{ msPerStep, tokensPerSecond, peakRssBytes, peakGpuBytes, ... }`
 * (`peakGpuBytes`: tfjs-webgpu's allocated buffers, NaN on other backends).
 *
 * @module
 */

import { Command, Option } from "commander";
import { initMasks, initParams } from "../src/core/init.ts";
import { Rng } from "../src/core/rng.ts";
import { CELL_TYPES, type CellType, type ModelConfig, paramSpecs } from "../src/spec/config.ts";
import { type ComputeMode, createCompute } from "../src/train/compute.ts";
import { DEFAULT_OPTIMIZER } from "../src/spec/optimizer.ts";
import type { Batch, Task } from "../src/train/tasks.ts";
import { integer, number } from "../cli/common.ts";

/** The measured workloads, as in shared/notes/measured-facts.md. */
export const WORKLOADS = {
  lm: { kind: "lm", vocab: 10000, hidden: 200, layers: 2, batch: 20, steps: 35, classes: 0 },
  cls: {
    kind: "classifier",
    vocab: 20000,
    hidden: 256,
    layers: 1,
    batch: 64,
    steps: 100,
    classes: 2,
  },
} as const;

/** Workloads only `bench gpu` measures (too large for the CPU comparisons of `bench train`). */
export const GPU_WORKLOADS = {
  /** Zaremba et al.'s medium PTB model, the size a GPU is for. */
  "lm-medium": {
    kind: "lm",
    vocab: 10000,
    hidden: 650,
    layers: 2,
    batch: 20,
    steps: 35,
    classes: 0,
  },
} as const;

/** The largest resident set this process has had (Linux), in bytes; NaN elsewhere. */
function peakRssBytes(): number {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
    return kb ? Number(kb) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

async function main(): Promise<void> {
  const flags = new Command("train_step")
    .option("--workload <name>", "lm, cls or lm-medium", "lm")
    .addOption(new Option("--cell <type>", "recurrent cell").choices(CELL_TYPES).default("lstm"))
    .option("--compute <mode>", "sparse or masked", "sparse")
    .option("--sparsity <s>", "sparsity of the sparse matrices", number, 0.8)
    .option("--sparse-io", "make the embedding and the decoder sparse too", false)
    .option("--scale <f>", "shrink the workload (vocab, hidden) by this factor", number, 1)
    .option("--repeats <n>", "timed steps", integer, 3)
    .option("--warmup <n>", "untimed steps first", integer, 3)
    .option("--threads <n>", "threads of the sparse path", integer, 1)
    .option("--backend <name>", "tfjs backend of the masked path", "wasm")
    .option("--no-fused", "on webgpu, the op-by-op recurrence instead of the fused one")
    .parse(Deno.args, { from: "user" })
    .opts();

  const all = { ...WORKLOADS, ...GPU_WORKLOADS };
  const w = all[flags.workload as keyof typeof all];
  const hidden = Math.max(8, Math.round(w.hidden * flags.scale));
  const vocab = Math.max(16, Math.round(w.vocab * flags.scale));
  const common = {
    cell: flags.cell as CellType,
    vocabSize: vocab,
    embedSize: hidden,
    hiddenSize: hidden,
  } as const;
  const model: ModelConfig = w.kind === "lm"
    ? { kind: "lm", ...common, layers: w.layers, dropout: 0 }
    : { kind: "classifier", ...common, layers: 1, numClasses: w.classes, dropout: 0 };
  const compute = flags.compute as ComputeMode;
  // Only the masked path loads tfjs, so the sparse path's memory is its own.
  let gpuBytes = (): number => NaN;
  if (compute === "masked") {
    await (await import("../src/backend/backend.ts")).useBackend(flags.backend);
    (await import("../src/model/fused_webgpu.ts")).setFusedRecurrence(flags.fused);
    const tf = await import("@tensorflow/tfjs");
    // tfjs-webgpu counts the bytes of the GPU buffers it holds (pooled ones too); sampled per step.
    gpuBytes = () =>
      (tf.memory() as { numBytesAllocatedInGPU?: number }).numBytesAllocatedInGPU ?? NaN;
  }

  const rng = new Rng(1);
  const params = initParams(model, rng);
  const masks = flags.sparsity > 0
    ? initMasks(paramSpecs(model), {
      method: "uniform",
      target: { sparsity: flags.sparsity },
      sparseEmbedding: flags.sparseIo,
      sparseDecoder: flags.sparseIo,
    }, rng)
    : new Map<string, Uint8Array>();
  const T = w.steps, B = w.batch;
  const batch: Batch = {
    tokens: Int32Array.from({ length: T * B }, () => rng.int(vocab)),
    T,
    B,
    targets: Int32Array.from(
      { length: w.kind === "lm" ? T * B : B },
      () => rng.int(w.kind === "lm" ? vocab : w.classes),
    ),
    lengths: new Int32Array(B).fill(T),
    reset: true,
  };
  const task: Task = {
    model,
    vocab: [],
    summary: [],
    stepsPerEpoch: 1,
    batches: () => [batch],
    evalBatches: () => [],
    metrics: () => ({}),
  };
  const runner = await createCompute(compute, {
    task,
    model,
    params,
    masks,
    optimizer: DEFAULT_OPTIMIZER.sgd,
    denseMomentum: false,
    clipNorm: 0,
    threads: flags.threads,
  });
  const drop = { rate: 0, seed: 1 };
  // Warm-up: XNNPACK packs weights; V8 first runs WebAssembly on its baseline compiler and
  // moves the kernels to its optimizing one only after some calls.
  let peakGpuBytes = NaN;
  const sampleGpu = () => {
    const bytes = gpuBytes();
    if (!(bytes <= peakGpuBytes)) peakGpuBytes = bytes;
  };
  for (let i = 0; i < flags.warmup; i++) await runner.step(batch, drop, 0.1, false), sampleGpu();
  // The median step: one slow step (a collection, another process) does not move it.
  const times: number[] = [];
  for (let i = 0; i < flags.repeats; i++) {
    const started = performance.now();
    await runner.step(batch, drop, 0.1, false);
    times.push(performance.now() - started);
    sampleGpu();
  }
  const msPerStep = times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
  runner.dispose();
  console.log(JSON.stringify({
    msPerStep,
    tokensPerSecond: (T * B) / (msPerStep / 1000),
    peakRssBytes: peakRssBytes(),
    peakGpuBytes,
    hidden,
    vocab,
  }));
}

if (import.meta.main) await main();
