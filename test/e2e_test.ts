/**
 * End to end through the public API (mod.ts): train a tiny sparse model for
 * a few steps on the bundled fixtures, export it to ONNX, run it with
 * onnxruntime and check it against the trained weights, for both kinds; an
 * export whose graph does not match the checkpoint is refused.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { classify, exportBundle, generate, loadCheckpoint, score, streamStep } from "../mod.ts";
import { buildOnnx } from "../export/onnx_model.ts";
import { runClassifier, runLanguageModel } from "../src/infer/onnx_runtime.ts";
import type { HostParams } from "../src/spec/params.ts";
import { referenceClassifierForward, referenceLmForward } from "../src/spec/reference.ts";
import { UserError } from "../src/spec/errors.ts";
import { trainE2eClassifier, trainE2eLm, withBundle } from "./e2e_helpers.ts";
import { maxAbsDiff, withTempDir } from "./helpers.ts";

const BUNDLE_FILES = ["metadata.json", "model.onnx", "vocab.json"];

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

/**
 * Exporting `checkpoint` with a graph built from weights where one decoder
 * weight moved (a tiny, barely trained model has tiny hidden states, so the
 * decoder is where one weight visibly moves the logits) is refused: nothing
 * appears in a fresh directory and the bundle already in `out` is untouched.
 */
async function assertCorruptExportRefused(checkpoint: string, out: string, dir: string) {
  const before = await Promise.all(BUNDLE_FILES.map((f) => Deno.readFile(join(out, f))));
  const build = (...[model, weights, modes]: Parameters<typeof buildOnnx>) => {
    const corrupted: HostParams = structuredClone(weights);
    corrupted["decoder.W"].data[0] += 1;
    return buildOnnx(model, corrupted, modes);
  };
  const fresh = join(dir, "never-written");
  for (const target of [fresh, out]) {
    await assert.rejects(() => exportBundle(checkpoint, target, { build }), (err: unknown) => {
      assert.ok(err instanceof UserError, `not a UserError: ${err}`);
      assert.match(err.message, /^export refused: .*differ.*nothing was written/);
      return true;
    });
  }
  assert.equal(await Deno.stat(fresh).then(() => true, () => false), false);
  const after = await Promise.all(BUNDLE_FILES.map((f) => Deno.readFile(join(out, f))));
  assert.deepEqual(after, before);
}

Deno.test("language model: train, export, run in onnxruntime, score and generate", async () => {
  await withTempDir(async (dir) => {
    const checkpoint = join(dir, "lm.sparrow");
    const { metrics } = await trainE2eLm(checkpoint, { cell: "lstm" });
    assert.ok(Number.isFinite(metrics.valid_ppl) && Number.isFinite(metrics.test_ppl));

    const out = join(dir, "bundle");
    const metadata = await exportBundle(checkpoint, out);
    assert.deepEqual(await listDir(out), BUNDLE_FILES);
    assert.ok(metadata.parity.maxAbsDiff <= 1e-4);
    await assertCorruptExportRefused(checkpoint, out, dir);
    const gates = metadata.layers.filter((l) => l.name.startsWith("lstm."));
    assert.ok(gates.every((l) => Math.abs(l.sparsity - 0.8) < 0.02), JSON.stringify(gates));

    // Independently of the exporter's check: onnxruntime on the written file
    // reproduces the checkpoint's weights run by the reference forward pass.
    const ckpt = await loadCheckpoint(checkpoint);
    const model = ckpt.meta.model;
    if (model.kind !== "lm") throw new Error("expected a language model");
    assert.deepEqual(JSON.parse(await Deno.readTextFile(join(out, "vocab.json"))), ckpt.meta.vocab);
    await withBundle(out, async (bundle) => {
      const text = "the company said\nthe fund plans to add N jobs";
      const ids = text.split("\n").flatMap((line) => [...line.split(" "), "<eos>"])
        .map((w) => bundle.vocab.encode(w));
      const tokens = ids.map((id) => [id]);
      const { logits } = await runLanguageModel(bundle.session, tokens);
      const expected = referenceLmForward(model, ckpt.params, tokens).logits;
      assert.ok(maxAbsDiff(logits, expected) <= 1e-4);

      const { perplexity, tokens: scored } = await score(bundle, text);
      assert.equal(scored, ids.length - 1);
      assert.ok(Number.isFinite(perplexity) && perplexity > 1);
      const words = await generate(bundle, "the company", { length: 8, temperature: 0.8, seed: 1 });
      assert.equal(words.length, 8);
      assert.ok(words.every((w) => ckpt.meta.vocab.includes(w)));
      const step = await streamStep(bundle, "the");
      assert.equal(step.next.length, 3);
    });
  });
});

Deno.test("classifier: train, export, run in onnxruntime and classify", async () => {
  await withTempDir(async (dir) => {
    const checkpoint = join(dir, "classifier.sparrow");
    const { metrics } = await trainE2eClassifier(checkpoint, { cell: "lstm" });
    assert.ok(metrics.test_acc >= 0 && metrics.test_acc <= 1);

    const out = join(dir, "bundle");
    const metadata = await exportBundle(checkpoint, out);
    assert.deepEqual(await listDir(out), BUNDLE_FILES);
    assert.ok(metadata.parity.maxAbsDiff <= 1e-4);
    await assertCorruptExportRefused(checkpoint, out, dir);
    const ckpt = await loadCheckpoint(checkpoint);
    const model = ckpt.meta.model;
    if (model.kind !== "classifier") throw new Error("expected a classifier");

    await withBundle(out, async (bundle) => {
      const reviews = [
        "I really enjoyed the performances and the story was moving.",
        "This is not a good film: the plot was tedious.",
        "Dull.",
      ];
      const results = await classify(bundle, reviews);
      assert.deepEqual(results.map((r) => r.text), reviews);
      for (const r of results) {
        assert.ok(ckpt.meta.labels!.includes(r.label));
        const total = Object.values(r.probabilities).reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(total - 1) < 1e-9);
      }
      // onnxruntime on padded sequences of different lengths equals the reference.
      const sequences = [[2, 3, 4, 5, 6, 7], [8], [9, 10, 11]];
      const { logits } = await runClassifier(bundle.session, sequences);
      const expected = referenceClassifierForward(model, ckpt.params, sequences);
      assert.ok(maxAbsDiff(logits, expected) <= 1e-4);
    });
  });
});
