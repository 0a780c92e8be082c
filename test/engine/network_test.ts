/**
 * The engine's forward and backward against the tfjs model (autodiff through
 * the same equations): the same loss and the same gradients at every stored
 * entry, for both model kinds, sparse and dense matrices, with dropout.
 */
import assert from "node:assert/strict";
import { useBackend } from "../../src/backend/backend.ts";
import type { ClassifierConfig, LanguageModelConfig, ModelConfig } from "../../src/spec/config.ts";
import type { Kernels } from "../../src/engine/kernels.ts";
import { createOracleKernels } from "../../src/engine/oracle.ts";
import {
  assertScaledClose,
  checkAgainstTfjs,
  denseGrowthGradients,
  type ParitySettings,
} from "./tfjs_parity.ts";

await useBackend("wasm");

const LM: LanguageModelConfig = {
  kind: "lm",
  cell: "lstm",
  vocabSize: 23,
  embedSize: 6,
  hiddenSize: 7,
  layers: 2,
  dropout: 0.3,
};

const CLS: ClassifierConfig = {
  kind: "classifier",
  cell: "lstm",
  vocabSize: 17,
  embedSize: 5,
  hiddenSize: 6,
  layers: 1,
  numClasses: 3,
  dropout: 0.3,
};

/** This file's cases: parameters of deviation 0.5, masks 60% sparse, gradients within 2e-5. */
const SETTINGS: ParitySettings = { scale: 0.5, sparsity: 0.6, tolerance: 2e-5 };

function check(model: ModelConfig, kernels: Kernels, storeNonzerosOnly: boolean, seed: number) {
  checkAgainstTfjs(SETTINGS, model, kernels, storeNonzerosOnly, seed, 5, 12345 + seed);
}

const GRU_LM: LanguageModelConfig = { ...LM, cell: "gru" };
const GRU_CLS: ClassifierConfig = { ...CLS, cell: "gru" };

for (const model of [LM, CLS, GRU_LM, GRU_CLS]) {
  for (const storeNonzerosOnly of [true, false]) {
    Deno.test(
      `engine ${model.cell} ${model.kind} loss and gradients equal tfjs autodiff (${
        storeNonzerosOnly ? "sparse" : "masked-dense"
      } storage, dropout)`,
      () => {
        const kernels = createOracleKernels();
        for (const seed of [1, 2, 3]) check(model, kernels, storeNonzerosOnly, seed);
      },
    );
  }
}

for (const model of [LM, GRU_LM]) {
  Deno.test(`engine ${model.cell} dense gradients of the last step equal tfjs autodiff (gradient growth)`, () => {
    const { masks, dense, expected } = denseGrowthGradients(SETTINGS, model, createOracleKernels());
    assert.equal(Object.keys(dense).length, masks.size);
    for (const [name, got] of Object.entries(dense)) {
      assertScaledClose(name, got, expected[name], SETTINGS.tolerance);
    }
  });
}
