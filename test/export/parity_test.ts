import assert from "node:assert/strict";
import { useBackend } from "../../src/backend/backend.ts";
import {
  checkParity,
  INT8_RELATIVE_TOLERANCE,
  PARITY_TOLERANCE,
  parityTolerance,
  sampleSequences,
} from "../../export/parity.ts";
import { buildOnnxModel } from "../../export/onnx_model.ts";
import type { ClassifierConfig } from "../../src/spec/config.ts";
import { randomWeights, TINY_LM as LM } from "./helpers.ts";

Deno.test("tolerances: 1e-4 for exact modes, a share of the logit range for int8", () => {
  assert.equal(parityTolerance("op", 30), PARITY_TOLERANCE);
  assert.equal(parityTolerance("sparse-scan", 30), PARITY_TOLERANCE);
  assert.equal(parityTolerance("int8", 30), INT8_RELATIVE_TOLERANCE * 30);
  // Small logits do not shrink the int8 bound below its floor.
  assert.equal(parityTolerance("int8", 0.2), INT8_RELATIVE_TOLERANCE);
});

Deno.test("sample inputs are fixed by the seed and within the vocabulary", () => {
  const a = sampleSequences(LM);
  assert.deepEqual(a, sampleSequences(LM));
  assert.deepEqual(a.map((s) => s.length), [16, 16]);
  assert.ok(a.flat().every((id) => id >= 0 && id < LM.vocabSize));
  const classifier: ClassifierConfig = { ...LM, kind: "classifier", numClasses: 2 };
  assert.deepEqual(sampleSequences(classifier).map((s) => s.length), [12, 5, 1]);
});

Deno.test("a faithful export passes, whole and streamed, and a perturbed one does not", async () => {
  await useBackend("wasm");
  const weights = randomWeights(LM, 0.5, 1, 0.3);
  const good = await checkParity(LM, weights, buildOnnxModel(LM, weights));
  assert.ok(good.maxAbsDiff <= PARITY_TOLERANCE, `${good.maxAbsDiff}`);
  assert.equal(good.compared, 2 * 2 * 16 * 13);
  assert.match(good.samples, /streamed/);
  assert.ok(good.referenceMaxAbs > 0);
  const perturbed = structuredClone(weights);
  perturbed["lstm.1.R"].data[3] += 0.5;
  const bad = await checkParity(LM, weights, buildOnnxModel(LM, perturbed));
  assert.ok(bad.maxAbsDiff > 1e-3, `${bad.maxAbsDiff}`);
});
