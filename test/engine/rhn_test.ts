/**
 * The engine's RHN layers against the tfjs RHN (autodiff through the same
 * equations) and the float64 reference: the same loss, final state and
 * gradients at every stored entry, for both model kinds, sparse and
 * masked-dense storage, with dropout and padding; and tied weights (the
 * decoder is the embedding's transpose) for an RHN and an LSTM LM.
 */
import assert from "node:assert/strict";
import { useBackend } from "../../src/backend/backend.ts";
import { Rng } from "../../src/core/rng.ts";
import {
  type ClassifierConfig,
  type LanguageModelConfig,
  type ModelConfig,
  paramSpecs,
} from "../../src/spec/config.ts";
import { referenceClassifierForward, referenceLmForward } from "../../src/spec/reference.ts";
import type { Kernels } from "../../src/engine/kernels.ts";
import { createKernels } from "../../src/engine/mod.ts";
import { Network } from "../../src/engine/network.ts";
import { createOracleKernels } from "../../src/engine/oracle.ts";
import {
  assertScaledClose,
  checkAgainstTfjs,
  denseGrowthGradients,
  type ParitySettings,
  randomBatch,
} from "./tfjs_parity.ts";
import { randomParams } from "../random_params.ts";

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

/** This file's cases: parameters of deviation 0.6, masks half sparse, gradients within 5e-5. */
const SETTINGS: ParitySettings = { scale: 0.6, sparsity: 0.5, tolerance: 5e-5 };

function check(model: ModelConfig, kernels: Kernels, storeNonzerosOnly: boolean, seed: number) {
  const network = checkAgainstTfjs(
    SETTINGS,
    model,
    kernels,
    storeNonzerosOnly,
    seed,
    4,
    777 + seed,
  );
  assert.equal(network.params.length, paramSpecs(model).length);
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
    const params = randomParams(model, rng, SETTINGS.scale);
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
  const params = randomParams(CLS, rng, SETTINGS.scale);
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
    const { masks, dense, expected } = denseGrowthGradients(SETTINGS, model, createOracleKernels());
    assert.ok(masks.has("rhn.1.R.2") && masks.has("embedding"));
    assert.equal(masks.has("decoder.W"), !model.tieWeights);
    for (const [name, got] of Object.entries(dense)) {
      assertScaledClose(name, got, expected[name], SETTINGS.tolerance);
    }
  });
}

Deno.test("variational dropout changes a training pass and leaves evaluation alone", () => {
  const rng = new Rng(21);
  const params = randomParams(LM, rng, SETTINGS.scale);
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
