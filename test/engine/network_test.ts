/**
 * The engine's forward and backward against the tfjs model (autodiff through
 * the same equations): the same loss and the same gradients at every stored
 * entry, for both model kinds, sparse and dense matrices, with dropout.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../src/backend/backend.ts";
import { initMasks } from "../../src/core/init.ts";
import { Rng } from "../../src/core/rng.ts";
import { classifierForward } from "../../src/model/classifier.ts";
import { crossEntropy, languageModelForward, zeroState } from "../../src/model/language_model.ts";
import { toVariables } from "../../src/model/params.ts";
import {
  type ClassifierConfig,
  type LanguageModelConfig,
  type ModelConfig,
  paramSpecs,
  sizeOf,
} from "../../src/spec/config.ts";
import type { HostParams } from "../../src/spec/params.ts";
import type { Kernels } from "../../src/engine/kernels.ts";
import { type EngineBatch, Network } from "../../src/engine/network.ts";
import { createOracleKernels } from "../../src/engine/oracle.ts";

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

function randomParams(model: ModelConfig, rng: Rng): HostParams {
  const params: HostParams = {};
  for (const spec of paramSpecs(model)) {
    const data = Float32Array.from({ length: sizeOf(spec.shape) }, () => 0.5 * rng.normal());
    params[spec.name] = { shape: spec.shape, data };
  }
  return params;
}

function sparseMasks(model: ModelConfig, rng: Rng, all: boolean): Map<string, Uint8Array> {
  return initMasks(paramSpecs(model), {
    method: "uniform",
    target: { sparsity: 0.6 },
    sparseEmbedding: all,
    sparseDecoder: all,
  }, rng);
}

function masked(params: HostParams, masks: Map<string, Uint8Array>): HostParams {
  const out: HostParams = {};
  for (const [name, p] of Object.entries(params)) {
    const mask = masks.get(name);
    out[name] = { shape: p.shape, data: p.data.map((v, i) => (mask && !mask[i] ? 0 : v)) };
  }
  return out;
}

function randomBatch(model: ModelConfig, T: number, B: number, rng: Rng): EngineBatch {
  const tokens = Int32Array.from({ length: T * B }, () => rng.int(model.vocabSize));
  if (model.kind === "lm") {
    const targets = Int32Array.from({ length: T * B }, () => rng.int(model.vocabSize));
    return { tokens, T, B, targets };
  }
  const lengths = Int32Array.from({ length: B }, (_, b) => (b === 0 ? T : 1 + rng.int(T)));
  const targets = Int32Array.from({ length: B }, () => rng.int(model.numClasses));
  return { tokens, T, B, targets, lengths };
}

/** Loss and dense gradients from tfjs autodiff. */
function tfjsLossAndGradients(
  model: ModelConfig,
  params: HostParams,
  batch: EngineBatch,
  seed: number,
  h0?: Float32Array[],
): { loss: number; grads: Record<string, Float32Array> } {
  const vars = toVariables(params);
  try {
    const drop = { rate: model.dropout, seed };
    const { value, grads } = tf.variableGrads(() => {
      const tokens = tf.tensor2d(batch.tokens, [batch.T, batch.B], "int32");
      if (model.kind === "lm") {
        const state = zeroState(model, batch.B);
        if (h0) {
          // Engine state is [H][B]; tfjs state is [B, H].
          state.forEach((s, l) => {
            s.h = tf.transpose(tf.tensor2d(h0[l], [model.hiddenSize, batch.B])) as tf.Tensor2D;
          });
        }
        const { logits } = languageModelForward(model, vars, tokens, state, drop);
        return crossEntropy(logits, tf.tensor1d(batch.targets, "int32"));
      }
      const logits = classifierForward(model, vars, tokens, batch.lengths!, drop);
      return crossEntropy(logits, tf.tensor1d(batch.targets, "int32"));
    });
    const out: Record<string, Float32Array> = {};
    for (const [name, g] of Object.entries(grads)) out[name] = g.dataSync() as Float32Array;
    const loss = value.dataSync()[0];
    tf.dispose([value, ...Object.values(grads)]);
    return { loss, grads: out };
  } finally {
    tf.dispose(Object.values(vars));
  }
}

function assertGradientsMatch(
  network: Network,
  expected: Record<string, Float32Array>,
  masks: Map<string, Uint8Array>,
  storeNonzerosOnly: boolean,
): void {
  for (const p of network.params) {
    const got = network.hostValues(p, p.grad);
    const want = expected[p.name];
    const scale = Math.max(1e-3, ...want.map(Math.abs));
    const mask = storeNonzerosOnly ? masks.get(p.name) : undefined;
    for (let i = 0; i < want.length; i++) {
      const target = mask && !mask[i] ? 0 : want[i];
      assert.ok(
        Math.abs(got[i] - target) <= 2e-5 * scale,
        `${p.name}[${i}]: engine ${got[i]}, tfjs ${target}`,
      );
    }
  }
}

function check(model: ModelConfig, kernels: Kernels, storeNonzerosOnly: boolean, seed: number) {
  const rng = new Rng(seed);
  const masks = sparseMasks(model, rng, seed % 2 === 0);
  const params = masked(randomParams(model, rng), masks);
  const batch = randomBatch(model, 5, 3, rng);
  const network = new Network(kernels, model, { params, masks, storeNonzerosOnly });
  const state = network.zeroState(batch.B);
  // A nonzero carried state for the LM: the window continues a stream.
  const h0 = model.kind === "lm"
    ? state.h.map((h) => h.map(() => rng.uniform(-0.5, 0.5)))
    : undefined;
  if (h0) state.h.forEach((h, l) => h.set(h0[l]));
  const dropSeed = 12345 + seed;
  const { nats, count } = network.run(batch, state, { rate: model.dropout, seed: dropSeed }, true);
  const expected = tfjsLossAndGradients(model, params, batch, dropSeed, h0);
  assert.ok(
    Math.abs(nats / count - expected.loss) <= 1e-5 * Math.abs(expected.loss),
    `loss: engine ${nats / count}, tfjs ${expected.loss}`,
  );
  assertGradientsMatch(network, expected.grads, masks, storeNonzerosOnly);
  kernels.reset();
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
    const kernels = createOracleKernels();
    const rng = new Rng(5);
    const masks = sparseMasks(model, rng, true);
    const params = masked(randomParams(model, rng), masks);
    const batch = randomBatch(model, 4, 2, rng);
    const network = new Network(kernels, model, { params, masks, storeNonzerosOnly: true });
    network.run(batch, network.zeroState(batch.B), { rate: model.dropout, seed: 9 }, true);
    const dense = network.denseGradients(masks.keys());
    const expected = tfjsLossAndGradients(model, params, batch, 9).grads;
    assert.equal(Object.keys(dense).length, masks.size);
    for (const [name, got] of Object.entries(dense)) {
      const want = expected[name];
      const scale = Math.max(1e-3, ...want.map(Math.abs));
      for (let i = 0; i < want.length; i++) {
        assert.ok(
          Math.abs(got[i] - want[i]) <= 2e-5 * scale,
          `${name}[${i}]: ${got[i]} vs ${want[i]}`,
        );
      }
    }
  });
}
