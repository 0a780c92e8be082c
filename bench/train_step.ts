/**
 * One training-step timing, run in its own process by bench/train.ts so
 * that kernel fixes (global in tfjs) can differ between measurements.
 * Prints one JSON line: `{ msPerStep, tokensPerSecond }`.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { Command } from "commander";
import { useBackend } from "../src/backend/backend.ts";
import type { WasmFix } from "../src/backend/wasm_fixes.ts";
import { initMasks } from "../src/core/init.ts";
import { Rng } from "../src/core/rng.ts";
import { classifierForward } from "../src/model/classifier.ts";
import { type ModelConfig, paramSpecs } from "../src/spec/config.ts";
import { crossEntropy, languageModelForward, zeroState } from "../src/model/language_model.ts";
import { toVariables } from "../src/model/params.ts";
import { initParams } from "../src/core/init.ts";
import { DEFAULT_OPTIMIZER, Optimizer } from "../src/train/optimizer.ts";
import { SparseWeights } from "../src/train/sparse_weights.ts";
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

async function main(): Promise<void> {
  const flags = new Command("train_step")
    .option("--workload <name>", "lm or cls", "lm")
    .option("--fixes <list>", "comma-separated wasm fixes to install", "segmentSum,matMul,slice")
    .option("--sparsity <s>", "sparsity of the gate matrices", number, 0.8)
    .option("--scale <f>", "shrink the workload (vocab, hidden) by this factor", number, 1)
    .option("--repeats <n>", "timed steps", integer, 3)
    .parse(Deno.args, { from: "user" })
    .opts();

  const w = WORKLOADS[flags.workload as keyof typeof WORKLOADS];
  const hidden = Math.max(8, Math.round(w.hidden * flags.scale));
  const vocab = Math.max(16, Math.round(w.vocab * flags.scale));
  const config: ModelConfig = w.kind === "lm"
    ? {
      kind: "lm",
      cell: "lstm",
      vocabSize: vocab,
      embedSize: hidden,
      hiddenSize: hidden,
      layers: w.layers,
      dropout: 0,
    }
    : {
      kind: "classifier",
      cell: "lstm",
      vocabSize: vocab,
      embedSize: hidden,
      hiddenSize: hidden,
      layers: 1,
      numClasses: w.classes,
      dropout: 0,
    };
  await useBackend("wasm", flags.fixes.split(",").filter(Boolean) as WasmFix[]);
  const rng = new Rng(1);
  const params = toVariables(initParams(config, rng));
  const specs = paramSpecs(config);
  const masks = flags.sparsity > 0
    ? initMasks(specs, { method: "uniform", target: { sparsity: flags.sparsity } }, rng)
    : new Map<string, Uint8Array>();
  const sparse = new SparseWeights(masks, Object.fromEntries(specs.map((s) => [s.name, s.shape])));
  sparse.applyMasks(params);
  const optimizer = new Optimizer(DEFAULT_OPTIMIZER.sgd, params);
  const T = w.steps, B = w.batch;
  const tokens = tf.tensor2d(
    Int32Array.from({ length: T * B }, () => rng.int(vocab)),
    [T, B],
    "int32",
  );
  const targets = Int32Array.from(
    { length: w.kind === "lm" ? T * B : B },
    () => rng.int(w.kind === "lm" ? vocab : w.classes),
  );
  const lengths = new Int32Array(B).fill(T);

  const step = (): void => {
    const { value, grads } = tf.variableGrads(() => {
      const logits = config.kind === "lm"
        ? languageModelForward(config, params, tokens, zeroState(config, B)).logits
        : classifierForward(config, params, tokens, lengths);
      return crossEntropy(logits, tf.tensor1d(targets, "int32"));
    });
    tf.tidy(() => optimizer.apply(params, sparse.maskGradients(grads), 0.1));
    sparse.applyMasks(params);
    tf.dispose([value, ...Object.values(grads)]);
  };

  step(); // warm-up: XNNPACK packs weights, kernels compile
  const started = performance.now();
  for (let i = 0; i < flags.repeats; i++) step();
  const msPerStep = (performance.now() - started) / flags.repeats;
  console.log(
    JSON.stringify({ msPerStep, tokensPerSecond: (T * B) / (msPerStep / 1000), hidden, vocab }),
  );
}

if (import.meta.main) await main();
