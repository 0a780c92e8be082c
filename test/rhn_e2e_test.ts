/**
 * An RHN end to end through the public API: train a tiny sparse RHN for a
 * few steps, export it (both exact compute modes), and run it in
 * onnxruntime: the LM scores, generates and streams with carried state; the
 * classifier classifies padded batches as the reference does.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { classify, exportBundle, generate, loadCheckpoint, score, streamStep } from "../mod.ts";
import { runClassifier, runLanguageModel } from "../src/infer/onnx_runtime.ts";
import { referenceClassifierForward, referenceLmForward } from "../src/spec/reference.ts";
import { trainE2eClassifier, trainE2eLm, withBundle } from "./e2e_helpers.ts";
import { maxAbsDiff, withTempDir } from "./helpers.ts";

Deno.test("RHN language model: train, export, score, generate and stream", async () => {
  await withTempDir(async (dir) => {
    const checkpoint = join(dir, "lm.sparrow");
    await trainE2eLm(checkpoint, { cell: "rhn", depth: 3 });
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
      await withBundle(out, async (bundle) => {
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
      });
    }
  });
});

Deno.test("RHN classifier: train, export and classify padded batches", async () => {
  await withTempDir(async (dir) => {
    const checkpoint = join(dir, "classifier.sparrow");
    await trainE2eClassifier(checkpoint, { cell: "rhn", depth: 2 });
    const ckpt = await loadCheckpoint(checkpoint);
    const model = ckpt.meta.model;
    if (model.kind !== "classifier") throw new Error("expected a classifier");
    for (const compute of ["op", "sparse-scan"] as const) {
      const out = join(dir, `bundle-${compute}`);
      const metadata = await exportBundle(checkpoint, out, { compute });
      assert.ok(metadata.parity.maxAbsDiff <= 1e-4, compute);
      await withBundle(out, async (bundle) => {
        const results = await classify(bundle, ["A moving story.", "Dull and tedious, not good."]);
        for (const r of results) assert.ok(ckpt.meta.labels!.includes(r.label));
        const sequences = [[1, 2, 3, 4, 5, 6], [7, 8], [9]];
        const { logits } = await runClassifier(bundle.session, sequences);
        const expected = referenceClassifierForward(model, ckpt.params, sequences);
        assert.ok(maxAbsDiff(logits, expected) <= 1e-4, compute);
      });
    }
  });
});
