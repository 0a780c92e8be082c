/**
 * An RHN end to end through the public API: train a tiny sparse RHN for a
 * few steps, export it (both exact compute modes), and run it in
 * onnxruntime: the LM scores, generates and streams with carried state; the
 * classifier classifies padded batches as the reference does.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  classify,
  DEFAULT_CLASSIFIER_CONFIG,
  DEFAULT_LM_CONFIG,
  exportBundle,
  generate,
  loadCheckpoint,
  openBundle,
  score,
  sparseConfigFor,
  streamStep,
  train,
} from "../mod.ts";
import { runClassifier, runLanguageModel } from "../src/infer/onnx_runtime.ts";
import { referenceClassifierForward, referenceLmForward } from "../src/spec/reference.ts";
import { maxAbsDiff, REPO_ROOT, withTempDir } from "./helpers.ts";

const quiet = () => {};

const SHORT_RUN = {
  epochs: 2,
  maxSteps: 3,
  batchSize: 8,
  logEvery: 0,
  sparse: sparseConfigFor("strnn", { sparsity: 0.8 }),
};

Deno.test("RHN language model: train, export, score, generate and stream", async () => {
  await withTempDir(async (dir) => {
    const checkpoint = join(dir, "lm.sparrow");
    await train({
      ...DEFAULT_LM_CONFIG,
      ...SHORT_RUN,
      data: join(REPO_ROOT, "fixtures/tinylm"),
      out: checkpoint,
      model: { cell: "rhn", depth: 3, embedSize: 16, hiddenSize: 16, layers: 2, dropout: 0.1 },
      bptt: 10,
    }, quiet);
    const ckpt = await loadCheckpoint(checkpoint);
    const model = ckpt.meta.model;
    if (model.kind !== "lm") throw new Error("expected a language model");
    for (const compute of ["op", "sparse-scan"] as const) {
      const out = join(dir, `bundle-${compute}`);
      const metadata = await exportBundle(checkpoint, out, { compute });
      assert.ok(metadata.parity.maxAbsDiff <= 1e-4, compute);
      const gates = metadata.layers.filter((l) => l.name.startsWith("rhn."));
      assert.equal(gates.length, 2 * (1 + 3), JSON.stringify(metadata.layers));
      assert.ok(gates.every((l) => Math.abs(l.sparsity - 0.8) < 0.05), JSON.stringify(gates));
      const bundle = await openBundle(out);
      try {
        const ids = "the company said <eos>".split(" ").map((w) => bundle.vocab.encode(w));
        const tokens = ids.map((id) => [id]);
        const { logits } = await runLanguageModel(bundle.session, tokens);
        const expected: Float32Array = referenceLmForward(model, ckpt.params, tokens).logits;
        assert.ok(maxAbsDiff(logits, expected) <= 1e-4, compute);
        const { perplexity } = await score(bundle, "the company said");
        assert.ok(Number.isFinite(perplexity) && perplexity > 1);
        const words = await generate(bundle, "the", { length: 5, temperature: 0.8, seed: 1 });
        assert.equal(words.length, 5);
        const step = await streamStep(bundle, "the");
        assert.equal(step.next.length, 3);
      } finally {
        await bundle.session.release();
      }
    }
  });
});

Deno.test("RHN classifier: train, export and classify padded batches", async () => {
  await withTempDir(async (dir) => {
    const checkpoint = join(dir, "classifier.sparrow");
    await train({
      ...DEFAULT_CLASSIFIER_CONFIG,
      ...SHORT_RUN,
      data: join(REPO_ROOT, "fixtures/sentiment"),
      out: checkpoint,
      model: { cell: "rhn", depth: 2, embedSize: 16, hiddenSize: 16, layers: 1, dropout: 0.1 },
      maxLength: 30,
    }, quiet);
    const ckpt = await loadCheckpoint(checkpoint);
    if (ckpt.meta.model.kind !== "classifier") throw new Error("expected a classifier");
    for (const compute of ["op", "sparse-scan"] as const) {
      const out = join(dir, `bundle-${compute}`);
      const metadata = await exportBundle(checkpoint, out, { compute });
      assert.ok(metadata.parity.maxAbsDiff <= 1e-4, compute);
      const bundle = await openBundle(out);
      try {
        const results = await classify(bundle, ["A moving story.", "Dull and tedious, not good."]);
        for (const r of results) assert.ok(ckpt.meta.labels!.includes(r.label));
        const sequences = [[1, 2, 3, 4, 5, 6], [7, 8], [9]];
        const { logits } = await runClassifier(bundle.session, sequences);
        const expected = referenceClassifierForward(ckpt.meta.model, ckpt.params, sequences);
        assert.ok(maxAbsDiff(logits, expected) <= 1e-4, compute);
      } finally {
        await bundle.session.release();
      }
    }
  });
});
