/**
 * RHN export: every storage mode and value precision under compute `op`
 * (dense `MatMul`s in a Scan) and `sparse-scan` (nonzeros only) passes the
 * structural check and matches the float64 reference within 1e-4, whole and
 * streamed one token at a time, for both model kinds; int8 is refused.
 */
import assert from "node:assert/strict";
import { buildOnnx, buildOnnxModel } from "../../../export/onnx_model.ts";
import { checkOnnxModel } from "../../../export/onnx/check.ts";
import { decodeModel } from "../../../export/onnx/proto.ts";
import { checkParity, PARITY_TOLERANCE } from "../../../export/parity.ts";
import type { ClassifierConfig, LanguageModelConfig } from "../../../src/spec/config.ts";
import { randomWeights } from "../helpers.ts";

const LM: LanguageModelConfig = {
  kind: "lm",
  cell: "rhn",
  depth: 3,
  vocabSize: 11,
  embedSize: 6,
  hiddenSize: 5,
  layers: 2,
  dropout: 0,
};

const CLS: ClassifierConfig = {
  kind: "classifier",
  cell: "rhn",
  depth: 2,
  vocabSize: 11,
  embedSize: 4,
  hiddenSize: 6,
  layers: 1,
  numClasses: 3,
  dropout: 0,
};

for (const model of [LM, CLS]) {
  for (const compute of ["op", "sparse-scan"] as const) {
    Deno.test(`RHN ${model.kind} exports with --compute ${compute}: parity within 1e-4`, async () => {
      const weights = randomWeights(model, 0.3, 5, 0.7);
      const settings = [
        { storage: "dense", values: "fp32" },
        { storage: "packed", values: "fp32" },
        { storage: "bitmask", values: "fp32" },
        { storage: "sparse-init", values: "fp32" },
      ] as const;
      for (const options of settings) {
        const what = `${compute} ${options.storage}`;
        const { bytes } = buildOnnx(model, weights, { compute, ...options });
        assert.deepEqual(checkOnnxModel(bytes), [], what);
        const report = await checkParity(model, weights, bytes, compute);
        assert.ok(report.maxAbsDiff <= PARITY_TOLERANCE, `${what}: ${report.maxAbsDiff}`);
        assert.ok(report.referenceMaxAbs > 0.1, what);
        if (model.kind === "lm") assert.ok(report.streamedVsWhole! <= PARITY_TOLERANCE, what);
      }
      // A changed weight of the last micro-layer shows: the graph really uses it.
      const perturbed = structuredClone(weights);
      const last = perturbed[`rhn.0.R.${model.depth! - 1}`].data;
      last.forEach((_, i) => last[i] += 0.3);
      const bad = await checkParity(model, weights, buildOnnxModel(model, perturbed, { compute }));
      assert.ok(bad.maxAbsDiff > 1e-3, `${compute}: ${bad.maxAbsDiff}`);
    });
  }
}

Deno.test("an RHN graph is a Scan per layer; sparse-scan stores only the nonzeros", () => {
  const weights = randomWeights(LM, 0.1, 2);
  const nodes = (compute: "op" | "sparse-scan") =>
    decodeModel(buildOnnxModel(LM, weights, { compute, storage: "dense" })).graph!.node!;
  for (const compute of ["op", "sparse-scan"] as const) {
    assert.deepEqual(
      nodes(compute).filter((n) => n.op_type === "Scan").map((n) => n.name),
      ["rhn.0", "rhn.1"],
    );
    assert.ok(!nodes(compute).some((n) => n.op_type === "LSTM"));
  }
  const { tensors } = buildOnnx(LM, weights, { compute: "sparse-scan" });
  const values = tensors.filter((t) => t.name.endsWith(".values"));
  assert.equal(values.length, 2 * 3);
});

Deno.test("an RHN refuses --compute int8 in one line", () => {
  const weights = randomWeights(LM, 0.5, 1);
  assert.throws(
    () => buildOnnxModel(LM, weights, { compute: "int8" }),
    /--compute int8 .*RHN.*--compute op or sparse-scan/,
  );
});
