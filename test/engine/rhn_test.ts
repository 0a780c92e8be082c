/**
 * The engine's RHN layers against the tfjs RHN (autodiff through the same
 * equations) and the float64 reference: the same loss, final state and
 * gradients at every stored entry, for both model kinds, sparse and
 * masked-dense storage, with dropout and padding; and tied weights (the
 * decoder is the embedding's transpose) for an RHN and an LSTM LM.
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
import { referenceClassifierForward, referenceLmForward } from "../../src/spec/reference.ts";
import type { Kernels } from "../../src/engine/kernels.ts";
import { createKernels } from "../../src/engine/mod.ts";
import { type EngineBatch, Network } from "../../src/engine/network.ts";
import { createOracleKernels } from "../../src/engine/oracle.ts";

await useBackend("wasm");

const LM: LanguageModelConfig = {
  kind: "lm",
  cell: "rhn",
  depth: 3,
  vocabSize: 19,
  embedSize: 5,
  hiddenSize: 6,
  layers: 2,
  dropout: 0.3,
};

const CLS: ClassifierConfig = {
  kind: "classifier",
  cell: "rhn",
  depth: 2,
  vocabSize: 13,
  embedSize: 4,
  hiddenSize: 5,
  layers: 1,
  numClasses: 3,
  dropout: 0.3,
};

function randomParams(model: ModelConfig, rng: Rng): HostParams {
  const params: HostParams = {};
  for (const spec of paramSpecs(model)) {
    const data = Float32Array.from({ length: sizeOf(spec.shape) }, () => 0.6 * rng.normal());
    params[spec.name] = { shape: spec.shape, data };
  }
  return params;
}

function sparseMasks(model: ModelConfig, rng: Rng, all: boolean): Map<string, Uint8Array> {
  return initMasks(paramSpecs(model), {
    method: "uniform",
    target: { sparsity: 0.5 },
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

function check(model: ModelConfig, kernels: Kernels, storeNonzerosOnly: boolean, seed: number) {
  const rng = new Rng(seed);
  const masks = sparseMasks(model, rng, seed % 2 === 0);
  const params = masked(randomParams(model, rng), masks);
  const batch = randomBatch(model, 4, 3, rng);
  const network = new Network(kernels, model, { params, masks, storeNonzerosOnly });
  const state = network.zeroState(batch.B);
  const h0 = model.kind === "lm"
    ? state.h.map((h) => h.map(() => rng.uniform(-0.5, 0.5)))
    : undefined;
  if (h0) state.h.forEach((h, l) => h.set(h0[l]));
  const dropSeed = 777 + seed;
  const { nats, count } = network.run(batch, state, { rate: model.dropout, seed: dropSeed }, true);
  const expected = tfjsLossAndGradients(model, params, batch, dropSeed, h0);
  assert.ok(
    Math.abs(nats / count - expected.loss) <= 1e-5 * Math.abs(expected.loss),
    `loss: engine ${nats / count}, tfjs ${expected.loss}`,
  );
  assert.equal(network.params.length, paramSpecs(model).length);
  for (const p of network.params) {
    const got = network.hostValues(p, p.grad);
    const want = expected.grads[p.name];
    const scale = Math.max(1e-3, ...want.map(Math.abs));
    const mask = storeNonzerosOnly ? masks.get(p.name) : undefined;
    for (let i = 0; i < want.length; i++) {
      const target = mask && !mask[i] ? 0 : want[i];
      assert.ok(
        Math.abs(got[i] - target) <= 5e-5 * scale,
        `${p.name}[${i}]: engine ${got[i]}, tfjs ${target}`,
      );
    }
  }
  kernels.reset();
}

/** Tied LMs: embed = hidden, no decoder.W. */
const TIED_RHN: LanguageModelConfig = { ...LM, embedSize: 6, tieWeights: true };
const TIED_LSTM: LanguageModelConfig = { ...TIED_RHN, cell: "lstm", depth: undefined };

/** Variational dropout at all four sites, on top of plain dropout. */
const VARIATIONAL = { embedding: 0.3, input: 0.4, hidden: 0.35, output: 0.45 };
const VAR_RHN: LanguageModelConfig = { ...LM, variational: VARIATIONAL };
const VAR_LSTM: LanguageModelConfig = {
  ...LM,
  cell: "lstm",
  depth: undefined,
  dropout: 0,
  variational: { ...VARIATIONAL, hidden: 0 },
};

const wasm = await createKernels();
for (const model of [LM, CLS, TIED_RHN, TIED_LSTM, VAR_RHN, VAR_LSTM]) {
  const name = `${model.cell.toUpperCase()} ${model.kind}${
    model.kind === "lm" && model.tieWeights ? " (tied weights)" : ""
  }${model.kind === "lm" && model.variational ? " (variational dropout)" : ""}`;
  for (const storeNonzerosOnly of [true, false]) {
    Deno.test(
      `engine ${name} loss and gradients equal tfjs autodiff (${
        storeNonzerosOnly ? "sparse" : "masked-dense"
      } storage, dropout)`,
      () => {
        for (const seed of [1, 2]) check(model, createOracleKernels(), storeNonzerosOnly, seed);
        check(model, wasm, storeNonzerosOnly, 3);
      },
    );
  }
}

for (const model of [LM, TIED_RHN]) {
  Deno.test(`engine RHN LM${model.tieWeights ? " (tied)" : ""} logits and final state equal the float64 reference`, () => {
    const rng = new Rng(11);
    const params = randomParams(model, rng);
    const batch = randomBatch(model, 5, 2, rng);
    const kernels = createOracleKernels();
    const network = new Network(kernels, model, {
      params,
      masks: new Map(),
      storeNonzerosOnly: true,
    });
    const state = network.zeroState(batch.B);
    const { nats } = network.run(batch, state, undefined, false);
    const tokens = Array.from(
      { length: batch.T },
      (_, t) => [...batch.tokens.subarray(t * 2, t * 2 + 2)],
    );
    const ref = referenceLmForward(model, params, tokens);
    let refNats = 0;
    const V = model.vocabSize;
    for (let n = 0; n < batch.T * batch.B; n++) {
      const row = ref.logits.subarray(n * V, n * V + V);
      const max = Math.max(...row);
      const sum = row.reduce((a, v) => a + Math.exp(v - max), 0);
      refNats += max + Math.log(sum) - row[batch.targets[n]];
    }
    assert.ok(Math.abs(nats - refNats) <= 1e-4 * refNats, `engine ${nats}, reference ${refNats}`);
    // Engine state is [H][B] per layer; the reference's is [L, B, H].
    const H = model.hiddenSize;
    for (let l = 0; l < model.layers; l++) {
      for (let b = 0; b < batch.B; b++) {
        for (let j = 0; j < H; j++) {
          const want = ref.state.h[(l * batch.B + b) * H + j];
          assert.ok(Math.abs(state.h[l][j * batch.B + b] - want) <= 1e-5, `state ${l},${b},${j}`);
        }
      }
    }
  });
}

Deno.test("engine RHN classifier predictions equal the float64 reference on padded batches", () => {
  const rng = new Rng(12);
  const params = randomParams(CLS, rng);
  const batch = randomBatch(CLS, 6, 4, rng);
  const network = new Network(createOracleKernels(), CLS, {
    params,
    masks: new Map(),
    storeNonzerosOnly: true,
  });
  const { nats } = network.run(batch, network.zeroState(batch.B), undefined, false);
  const sequences = Array.from(
    { length: batch.B },
    (_, b) => Array.from({ length: batch.lengths![b] }, (_, t) => batch.tokens[t * batch.B + b]),
  );
  const logits = referenceClassifierForward(CLS, params, sequences);
  const C = CLS.numClasses;
  let refNats = 0;
  for (let b = 0; b < batch.B; b++) {
    const row = logits.subarray(b * C, b * C + C);
    const max = Math.max(...row);
    refNats += max + Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0)) -
      row[batch.targets[b]];
  }
  assert.ok(Math.abs(nats - refNats) <= 1e-4 * refNats, `engine ${nats}, reference ${refNats}`);
});

for (const model of [LM, TIED_RHN, VAR_RHN]) {
  Deno.test(`engine ${model.tieWeights ? "tied " : ""}${model.variational ? "variational " : ""}RHN dense gradients of the last step equal tfjs autodiff (gradient growth)`, () => {
    const kernels = createOracleKernels();
    const rng = new Rng(5);
    const masks = sparseMasks(model, rng, true);
    const params = masked(randomParams(model, rng), masks);
    const batch = randomBatch(model, 4, 2, rng);
    const network = new Network(kernels, model, { params, masks, storeNonzerosOnly: true });
    network.run(batch, network.zeroState(batch.B), { rate: model.dropout, seed: 9 }, true);
    const dense = network.denseGradients(masks.keys());
    const expected = tfjsLossAndGradients(model, params, batch, 9).grads;
    assert.ok(masks.has("rhn.1.R.2") && masks.has("embedding"));
    assert.equal(masks.has("decoder.W"), !model.tieWeights);
    for (const [name, got] of Object.entries(dense)) {
      const want = expected[name];
      const scale = Math.max(1e-3, ...want.map(Math.abs));
      for (let i = 0; i < want.length; i++) {
        assert.ok(
          Math.abs(got[i] - want[i]) <= 5e-5 * scale,
          `${name}[${i}]: ${got[i]} vs ${want[i]}`,
        );
      }
    }
  });
}

Deno.test("variational dropout changes a training pass and leaves evaluation alone", () => {
  const rng = new Rng(21);
  const params = randomParams(LM, rng);
  const batch = randomBatch(LM, 4, 3, rng);
  const nats = (model: ModelConfig, train: boolean) => {
    const network = new Network(createOracleKernels(), model, {
      params,
      masks: new Map(),
      storeNonzerosOnly: true,
    });
    const drop = train ? { rate: model.dropout, seed: 5 } : undefined;
    return network.run(batch, network.zeroState(batch.B), drop, false).nats;
  };
  assert.notEqual(nats(VAR_RHN, true), nats(LM, true));
  assert.equal(nats(VAR_RHN, false), nats(LM, false));
});
