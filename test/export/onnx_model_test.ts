import assert from "node:assert/strict";
import { buildOnnxModel } from "../../export/onnx_model.ts";
import { decodeModel } from "../../export/onnx/proto.ts";
import { checkOnnxModel } from "../../export/onnx/check.ts";
import {
  type ClassifierConfig,
  type LanguageModelConfig,
  type ModelConfig,
  paramSpecs,
  sizeOf,
} from "../../src/model/config.ts";
import {
  referenceClassifierForward,
  referenceLmForward,
  type Weights,
} from "../../src/model/reference.ts";
import {
  openSession,
  runClassifier,
  runLanguageModel,
} from "../../src/infer/onnx_runtime.ts";
import { Rng } from "../../src/core/rng.ts";
import { UserError } from "../../src/errors.ts";

const TOLERANCE = 1e-4;

function lmConfig(layers: number): LanguageModelConfig {
  return {
    kind: "lm",
    cell: "lstm",
    vocabSize: 13,
    embedSize: 5,
    hiddenSize: 7,
    layers,
    dropout: 0,
  };
}

function classifierConfig(layers: number): ClassifierConfig {
  return {
    kind: "classifier",
    cell: "lstm",
    vocabSize: 13,
    embedSize: 5,
    hiddenSize: 7,
    layers,
    numClasses: 3,
    dropout: 0,
  };
}

/** Random weights where each entry is nonzero with probability `density`. */
function randomWeights(config: ModelConfig, density: number, seed: number) {
  const rng = new Rng(seed);
  const weights: Weights = {};
  for (const spec of paramSpecs(config)) {
    const data = new Float32Array(sizeOf(spec.shape));
    for (let i = 0; i < data.length; i++) {
      if (rng.next() < density) data[i] = rng.normal() * 0.8;
    }
    weights[spec.name] = { shape: spec.shape, data };
  }
  return weights;
}

function randomTokens(rng: Rng, T: number, B: number, V: number): number[][] {
  return Array.from(
    { length: T },
    () => Array.from({ length: B }, () => rng.int(V)),
  );
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

for (const layers of [1, 2]) {
  for (const density of [1, 0.5, 0.2, 0.1]) {
    for (const storage of ["dense", "sparse", "auto"] as const) {
      Deno.test(`LM export (${layers} layers, density ${density}, ${storage}) matches the reference`, async () => {
        const config = lmConfig(layers);
        const weights = randomWeights(
          config,
          density,
          100 * layers + density * 10,
        );
        const bytes = buildOnnxModel(config, weights, { storage });
        assert.deepEqual(checkOnnxModel(bytes), []);
        const session = await openSession(bytes);
        const rng = new Rng(7);
        const tokens = randomTokens(rng, 6, 3, config.vocabSize);
        const initial = {
          h: Float32Array.from({ length: layers * 3 * 7 }, () => rng.normal()),
          c: Float32Array.from({ length: layers * 3 * 7 }, () => rng.normal()),
        };
        const got = await runLanguageModel(session, tokens, initial);
        const want = referenceLmForward(config, weights, tokens, initial);
        assert.deepEqual(got.dims, [6, 3, config.vocabSize]);
        assert.ok(maxAbsDiff(got.logits, want.logits) <= TOLERANCE);
        assert.ok(maxAbsDiff(got.state.h, want.state.h) <= TOLERANCE);
        assert.ok(maxAbsDiff(got.state.c, want.state.c) <= TOLERANCE);
      });
    }
  }
}

for (const layers of [1, 2]) {
  for (const density of [1, 0.2]) {
    for (const storage of ["dense", "sparse"] as const) {
      Deno.test(`classifier export (${layers} layers, density ${density}, ${storage}) matches the reference per example`, async () => {
        const config = classifierConfig(layers);
        const weights = randomWeights(
          config,
          density,
          31 * layers + density * 10,
        );
        const bytes = buildOnnxModel(config, weights, { storage });
        assert.deepEqual(checkOnnxModel(bytes), []);
        const session = await openSession(bytes);
        const rng = new Rng(11);
        const sequences = [9, 1, 4, 6].map((n) =>
          Array.from({ length: n }, () => rng.int(config.vocabSize))
        );
        const got = await runClassifier(session, sequences);
        const want = referenceClassifierForward(config, weights, sequences);
        assert.deepEqual(got.dims, [4, 3]);
        assert.ok(maxAbsDiff(got.logits, want) <= TOLERANCE);
      });
    }
  }
}

Deno.test("sparse storage writes sparse initializers and a smaller file at 90% sparsity", () => {
  // Large enough that tensor bytes dominate the graph's fixed overhead.
  const config: LanguageModelConfig = {
    ...lmConfig(2),
    vocabSize: 200,
    embedSize: 32,
    hiddenSize: 48,
  };
  const weights = randomWeights(config, 0.1, 5);
  const dense = buildOnnxModel(config, weights, { storage: "dense" });
  const sparse = buildOnnxModel(config, weights, { storage: "sparse" });
  const denseGraph = decodeModel(dense).graph!;
  const sparseGraph = decodeModel(sparse).graph!;
  assert.equal(denseGraph.sparse_initializer!.length, 0);
  const sparseNames = sparseGraph.sparse_initializer!.map((s) =>
    s.values!.name
  );
  for (const spec of paramSpecs(config)) {
    assert.ok(sparseNames.includes(spec.name));
  }
  // 12 bytes per nonzero at density 0.1 against 4 per entry: about 0.3x.
  assert.ok(sparse.length < dense.length * 0.4);
});

Deno.test("auto storage is sparse exactly for weights below density 1/3", () => {
  const config = lmConfig(1);
  const weights = randomWeights(config, 1, 9);
  // Zero out most of the embedding only; everything else stays dense.
  const embedding = weights.embedding.data;
  for (let i = 0; i < embedding.length; i++) if (i % 5 !== 0) embedding[i] = 0;
  const graph = decodeModel(buildOnnxModel(config, weights)).graph!;
  assert.deepEqual(graph.sparse_initializer!.map((s) => s.values!.name), [
    "embedding",
  ]);
  const denseNames = graph.initializer!.map((t) => t.name);
  assert.ok(
    denseNames.includes("lstm.0.W") && denseNames.includes("decoder.W"),
  );
});

Deno.test("all-zero weights survive sparse storage", async () => {
  const config = classifierConfig(1);
  const weights = randomWeights(config, 0, 1);
  const session = await openSession(
    buildOnnxModel(config, weights, { storage: "sparse" }),
  );
  const got = await runClassifier(session, [[1, 2], [3]]);
  assert.deepEqual(Array.from(got.logits), new Array(6).fill(0));
});

Deno.test("metadata records the kind and the config", () => {
  const config = classifierConfig(1);
  const model = decodeModel(
    buildOnnxModel(config, randomWeights(config, 1, 2)),
  );
  const meta = new Map(model.metadata_props!.map((e) => [e.key, e.value]));
  assert.equal(meta.get("kind"), "classifier");
  assert.deepEqual(JSON.parse(meta.get("config")!), config);
  assert.equal(model.producer_name, "sparrow");
  assert.ok(model.ir_version! >= 8);
});

Deno.test("export rejects weights that do not fit the config", () => {
  const config = lmConfig(1);
  const weights = randomWeights(config, 1, 3);
  delete weights["decoder.b"];
  assert.throws(() => buildOnnxModel(config, weights), UserError);
  const other = randomWeights(lmConfig(2), 1, 3);
  other["lstm.0.R"] = { shape: [7, 20], data: new Float32Array(140) };
  assert.throws(() => buildOnnxModel(lmConfig(2), other), /lstm\.0\.R/);
  assert.throws(
    () =>
      buildOnnxModel(config, randomWeights(config, 1, 3), {
        storage: "zip" as "auto",
      }),
    UserError,
  );
});
