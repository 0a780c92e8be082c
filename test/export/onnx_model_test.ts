import assert from "node:assert/strict";
import {
  buildOnnx,
  buildOnnxModel,
  COMPUTE_MODES,
  type ComputeMode,
  STORAGE_CHOICES,
  VALUE_PRECISIONS,
  type ValuePrecision,
} from "../../export/onnx_model.ts";
import type { LanguageModelConfig } from "../../src/spec/config.ts";
import { decodeModel } from "../../export/onnx/proto.ts";
import { checkOnnxModel } from "../../export/onnx/check.ts";
import { fromFloat16Bits, toFloat16Bits } from "../../export/onnx/float16.ts";
import { referenceClassifierForward, referenceLmForward } from "../../src/spec/reference.ts";
import type { HostParams } from "../../src/spec/params.ts";
import { openSession, runClassifier, runLanguageModel } from "../../src/infer/onnx_runtime.ts";
import { Rng } from "../../src/core/rng.ts";
import { UserError } from "../../src/spec/errors.ts";
import { maxAbsDiff, randomWeights } from "./helpers.ts";
import { TINY_LM as LM, tinyClassifier } from "./helpers.ts";

const CLASSIFIER = tinyClassifier(2);

/** The weights an fp16 export computes with: every value rounded to float16. */
function roundedToFloat16(weights: HostParams): HostParams {
  return Object.fromEntries(
    Object.entries(weights).map(([name, w]) => [
      name,
      { shape: w.shape, data: Float32Array.from(w.data, (v) => fromFloat16Bits(toFloat16Bits(v))) },
    ]),
  );
}

/**
 * How close each compute mode must come to the float64 reference run on the
 * weights it stores: exact modes to 1e-4. int8 quantizes inputs and state to
 * uint8 at every step; on these 5- and 7-wide toy layers that costs up to
 * about a tenth of the output's range (trained models do better: see
 * docs/export.md), so the bound here only catches a wrong graph.
 */
function tolerance(compute: ComputeMode, reference: Float32Array): number {
  const range = reference.reduce((m, v) => Math.max(m, Math.abs(v)), 1);
  return compute === "int8" ? 0.15 * range : 1e-4;
}

async function checkLm(
  compute: ComputeMode,
  values: ValuePrecision,
  weights: HostParams,
  storage = "auto",
) {
  const { bytes } = buildOnnx(LM, weights, { compute, values, storage: storage as "auto" });
  assert.deepEqual(checkOnnxModel(bytes), []);
  const session = await openSession(bytes);
  const rng = new Rng(7);
  const tokens = Array.from({ length: 6 }, () => [rng.int(13), rng.int(13), rng.int(13)]);
  // h = o·tanh(c) always lies in (-1, 1); c is unbounded.
  const initial = {
    h: Float32Array.from({ length: 2 * 3 * 7 }, () => rng.uniform(-1, 1)),
    c: Float32Array.from({ length: 2 * 3 * 7 }, () => rng.normal()),
  };
  const got = await runLanguageModel(session, tokens, initial);
  const want = referenceLmForward(
    LM,
    values === "fp16" ? roundedToFloat16(weights) : weights,
    tokens,
    initial,
  );
  await session.release();
  assert.deepEqual(got.dims, [6, 3, 13]);
  const label = `${compute}/${storage}/${values}`;
  const diff = maxAbsDiff(got.logits, want.logits);
  assert.ok(diff <= tolerance(compute, want.logits), `${label}: ${diff}`);
  assert.ok(maxAbsDiff(got.state.h, want.state.h) <= tolerance(compute, want.state.h), label);
  assert.ok(maxAbsDiff(got.state.c, want.state.c) <= tolerance(compute, want.state.c), label);
}

async function checkClassifier(
  compute: ComputeMode,
  values: ValuePrecision,
  weights: HostParams,
  storage = "auto",
) {
  const { bytes } = buildOnnx(CLASSIFIER, weights, { compute, values, storage: storage as "auto" });
  assert.deepEqual(checkOnnxModel(bytes), []);
  const session = await openSession(bytes);
  const rng = new Rng(11);
  const sequences = [9, 1, 4, 6].map((n) => Array.from({ length: n }, () => rng.int(13)));
  const got = await runClassifier(session, sequences);
  await session.release();
  const want = referenceClassifierForward(
    CLASSIFIER,
    values === "fp16" ? roundedToFloat16(weights) : weights,
    sequences,
  );
  assert.deepEqual(got.dims, [4, 3]);
  const diff = maxAbsDiff(got.logits, want);
  assert.ok(diff <= tolerance(compute, want), `${compute}/${storage}/${values}: ${diff}`);
}

for (const compute of COMPUTE_MODES) {
  Deno.test(`LM exports with compute ${compute} match the reference in every storage and precision`, async () => {
    for (const [density, seed] of [[1, 1], [0.2, 2]] as const) {
      // Trained LSTM weights are mostly well under 1 in magnitude.
      const weights = randomWeights(LM, density, seed, 0.4);
      for (const storage of STORAGE_CHOICES) {
        for (const values of VALUE_PRECISIONS) await checkLm(compute, values, weights, storage);
      }
    }
  });

  Deno.test(`classifier exports with compute ${compute} match the reference per example`, async () => {
    const weights = randomWeights(CLASSIFIER, 0.3, 3, 0.4);
    for (const storage of STORAGE_CHOICES) {
      for (const values of VALUE_PRECISIONS) {
        await checkClassifier(compute, values, weights, storage);
      }
    }
  });

  Deno.test(`all-zero weights survive compute ${compute}`, async () => {
    const weights = randomWeights(CLASSIFIER, 0, 1);
    for (const storage of ["packed", "bitmask", "sparse-init"] as const) {
      const session = await openSession(buildOnnxModel(CLASSIFIER, weights, { compute, storage }));
      const got = await runClassifier(session, [[1, 2], [3]]);
      assert.deepEqual(Array.from(got.logits), new Array(6).fill(0));
      await session.release();
    }
  });
}

Deno.test("int8 compute stores int8 LSTM weights and uses onnxruntime's contrib op", () => {
  const weights = randomWeights(LM, 0.5, 4);
  const { bytes, tensors } = buildOnnx(LM, weights, { compute: "int8", storage: "dense" });
  const model = decodeModel(bytes);
  assert.ok(model.opset_import!.some((o) => o.domain === "com.microsoft" && o.version === 1));
  const lstm = model.graph!.node!.filter((n) => n.op_type === "DynamicQuantizeLSTM");
  assert.equal(lstm.length, 2);
  assert.ok(lstm.every((n) => n.domain === "com.microsoft"));
  const W = model.graph!.initializer!.find((t) => t.name === "lstm.0.W")!;
  assert.equal(W.data_type, 3); // INT8
  assert.deepEqual(W.dims, [1, 5, 28]);
  // One byte per weight: a quarter of the fp32 size.
  assert.equal(tensors.find((t) => t.name === "lstm.0.W")!.bytes, 5 * 28);
});

Deno.test("sparse-init storage writes spec sparse tensors and is smaller at 90% sparsity", () => {
  // Large enough that tensor bytes dominate the graph's fixed overhead.
  const config: LanguageModelConfig = { ...LM, vocabSize: 200, embedSize: 32, hiddenSize: 48 };
  const weights = randomWeights(config, 0.1, 5);
  const dense = buildOnnx(config, weights, { storage: "dense" });
  const sparse = buildOnnx(config, weights, { storage: "sparse-init" });
  const sparseConstants = (bytes: Uint8Array) =>
    decodeModel(bytes).graph!.node!.filter((n) =>
      n.op_type === "Constant" && n.attribute?.[0]?.name === "sparse_value"
    ).map((n) => n.output![0]);
  assert.deepEqual(sparseConstants(dense.bytes), []);
  // Constant nodes with sparse_value, not sparse_initializers: onnx's strict checker rejects
  // a Gather (or Cast) that reads a sparse_initializer directly.
  assert.equal(decodeModel(sparse.bytes).graph!.sparse_initializer!.length, 0);
  const sparseNames = sparseConstants(sparse.bytes);
  for (const name of ["embedding", "lstm.0.W", "lstm.1.R", "decoder.W"]) {
    assert.ok(sparseNames.includes(name), name);
  }
  // Each tensor is stored sparse where that is smaller, else dense.
  for (const t of sparse.tensors) {
    assert.ok(["sparse-init", "dense"].includes(t.storage), t.name);
  }
  // 12 bytes per nonzero at density 0.1 against 4 per entry: about 0.3x.
  assert.ok(sparse.bytes.length < dense.bytes.length * 0.4);
});

Deno.test("auto storage packs exactly the tensors where packing is smaller", () => {
  const weights = randomWeights(LM, 1, 9);
  const embedding = weights.embedding.data;
  for (let i = 0; i < embedding.length; i++) if (i % 5 !== 0) embedding[i] = 0;
  const { tensors } = buildOnnx(LM, weights);
  const storageOf = (name: string) => tensors.find((t) => t.name === name)!.storage;
  assert.equal(storageOf("embedding"), "packed");
  assert.equal(storageOf("lstm.0.W"), "dense");
  assert.equal(storageOf("decoder.W"), "dense");
});

Deno.test("the default export is over 8x smaller than dense at 95% sparsity", () => {
  const config: LanguageModelConfig = {
    ...LM,
    vocabSize: 50,
    embedSize: 64,
    hiddenSize: 64,
    layers: 1,
  };
  const weights = randomWeights(config, 0.05, 6);
  const dense = buildOnnxModel(config, weights, { storage: "dense" }).length;
  const packed = buildOnnxModel(config, weights).length;
  assert.ok(dense / packed >= 8, `${dense} / ${packed}`);
});

Deno.test("fp16 values halve the stored value bytes", () => {
  const weights = randomWeights(LM, 1, 8);
  const fp32 = buildOnnx(LM, weights, { storage: "dense" }).tensors;
  const fp16 = buildOnnx(LM, weights, { storage: "dense", values: "fp16" }).tensors;
  fp32.forEach((t, i) => assert.equal(fp16[i].bytes * 2, t.bytes, t.name));
});

Deno.test("metadata records the kind, the config and the modes", () => {
  const model = decodeModel(
    buildOnnxModel(CLASSIFIER, randomWeights(CLASSIFIER, 1, 2), {
      compute: "sparse-scan",
      values: "fp16",
    }),
  );
  const meta = new Map(model.metadata_props!.map((e) => [e.key, e.value]));
  assert.equal(meta.get("kind"), "classifier");
  assert.deepEqual(JSON.parse(meta.get("config")!), CLASSIFIER);
  assert.equal(meta.get("storage"), "auto");
  assert.equal(meta.get("compute"), "sparse-scan");
  assert.equal(meta.get("values"), "fp16");
  assert.equal(model.producer_name, "sparrow");
  assert.ok(model.ir_version! >= 8);
});

Deno.test("export rejects weights that do not fit the config, and unknown modes", () => {
  const weights = randomWeights(LM, 1, 3);
  delete weights["decoder.b"];
  assert.throws(() => buildOnnxModel(LM, weights), UserError);
  const other = randomWeights(LM, 1, 3);
  other["lstm.0.R"] = { shape: [7, 20], data: new Float32Array(140) };
  assert.throws(() => buildOnnxModel(LM, other), /lstm\.0\.R/);
  const good = randomWeights(LM, 1, 3);
  assert.throws(() => buildOnnxModel(LM, good, { storage: "sparse" as "auto" }), /sparse-init/);
  assert.throws(() => buildOnnxModel(LM, good, { compute: "gpu" as "op" }), /sparse-scan/);
  assert.throws(() => buildOnnxModel(LM, good, { values: "int4" as "fp32" }), /fp16/);
});

Deno.test("every explicit storage mode stores each tensor in at most its dense bytes", () => {
  // Half the entries nonzero: sparse-init and packed would enlarge every weight.
  const weights = randomWeights(LM, 0.5, 12);
  const dense = new Map(
    buildOnnx(LM, weights, { storage: "dense" }).tensors.map((t) => [
      t.name,
      t.bytes,
    ]),
  );
  for (const storage of ["sparse-init", "packed", "bitmask", "auto"] as const) {
    for (const t of buildOnnx(LM, weights, { storage }).tensors) {
      assert.ok(t.bytes <= dense.get(t.name)!, `${storage} ${t.name}: ${t.bytes} bytes`);
    }
  }
});

Deno.test("the ONNX producer version is the package version", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  const model = decodeModel(buildOnnxModel(LM, randomWeights(LM, 0.5, 13)));
  assert.equal(model.producer_name, "sparrow");
  assert.equal(model.producer_version, config.version);
});
