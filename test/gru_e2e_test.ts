/**
 * A GRU end to end: train a tiny sparse GRU for a few steps on the bundled
 * fixtures, export it (every storage mode, fp32 and fp16 values), run it in
 * onnxruntime whole and streamed with its state (h only), and check it
 * against the float64 reference forward; the LSTM-only compute modes are
 * refused in one line.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { classify, exportBundle, generate, loadCheckpoint, score, streamStep } from "../mod.ts";
import { buildOnnx } from "../export/onnx_model.ts";
import { checkOnnxModel } from "../export/onnx/check.ts";
import { STORAGE_MODES } from "../export/onnx/storage.ts";
import { openSession, runClassifier, runLanguageModel } from "../src/infer/onnx_runtime.ts";
import { referenceClassifierForward, referenceLmForward } from "../src/spec/reference.ts";
import { UserError } from "../src/spec/errors.ts";
import { trainE2eClassifier, trainE2eLm, withBundle } from "./e2e_helpers.ts";
import { maxAbsDiff, withTempDir } from "./helpers.ts";

Deno.test("gru language model: train, export, stream in onnxruntime, score and generate", async () => {
  await withTempDir(async (dir) => {
    const checkpoint = join(dir, "lm.sparrow");
    await trainE2eLm(checkpoint, { cell: "gru" });
    const ckpt = await loadCheckpoint(checkpoint);
    const model = ckpt.meta.model;
    if (model.kind !== "lm") throw new Error("expected a language model");
    assert.equal(model.cell, "gru");

    const out = join(dir, "bundle");
    const metadata = await exportBundle(checkpoint, out);
    assert.ok(metadata.parity.maxAbsDiff <= 1e-4, JSON.stringify(metadata.parity));
    const gates = metadata.layers.filter((l) => /^gru\.\d\.[WR]$/.test(l.name));
    assert.equal(gates.length, 4);
    assert.ok(gates.every((l) => Math.abs(l.sparsity - 0.8) < 0.02), JSON.stringify(gates));

    await withBundle(out, async (bundle) => {
      // The graph carries h only.
      assert.deepEqual([...bundle.session.inputNames].sort(), ["state_h", "tokens"]);
      const text = "the company said\nthe fund plans to add N jobs";
      const ids = text.split("\n").flatMap((line) => [...line.split(" "), "<eos>"])
        .map((w) => bundle.vocab.encode(w));
      const tokens = ids.map((id) => [id]);
      const whole = await runLanguageModel(bundle.session, tokens);
      const expected = referenceLmForward(model, ckpt.params, tokens);
      assert.ok(maxAbsDiff(whole.logits, expected.logits) <= 1e-4);
      assert.ok(maxAbsDiff(whole.state.h, expected.state.h) <= 1e-5);
      assert.equal(whole.state.c.length, 0);
      // Streamed one token per call with the carried state: the same logits.
      let state = undefined;
      const V = model.vocabSize;
      for (let t = 0; t < tokens.length; t++) {
        const step = await runLanguageModel(bundle.session, [tokens[t]], state);
        state = step.state;
        assert.ok(maxAbsDiff(step.logits, expected.logits.subarray(t * V, (t + 1) * V)) <= 1e-4);
      }
      // A state of the wrong size is one line.
      await assert.rejects(
        () => runLanguageModel(bundle.session, [[1]], { h: new Float32Array(3), c: state!.c }),
        UserError,
      );

      const { perplexity } = await score(bundle, text);
      assert.ok(Number.isFinite(perplexity) && perplexity > 1);
      const words = await generate(bundle, "the company", { length: 5, temperature: 0.8, seed: 1 });
      assert.equal(words.length, 5);
      assert.equal((await streamStep(bundle, "the")).next.length, 3);

      // The Scan over the nonzeros: whole and streamed, as the reference.
      const scan = await exportBundle(checkpoint, join(dir, "scan"), { compute: "sparse-scan" });
      assert.ok(scan.parity.maxAbsDiff <= 1e-4, JSON.stringify(scan.parity));
      const session = await openSession(
        buildOnnx(model, ckpt.params, { compute: "sparse-scan" }).bytes,
      );
      try {
        const { logits, state } = await runLanguageModel(session, tokens);
        assert.ok(maxAbsDiff(logits, expected.logits) <= 1e-4);
        assert.ok(maxAbsDiff(state.h, expected.state.h) <= 1e-5);
      } finally {
        await session.release();
      }

      // Every storage mode and both value precisions pass the same parity gate.
      for (const storage of STORAGE_MODES) {
        for (const values of ["fp32", "fp16"] as const) {
          const { bytes } = buildOnnx(model, ckpt.params, { storage, values });
          assert.deepEqual(checkOnnxModel(bytes), [], `${storage} ${values}`);
          const session = await openSession(bytes);
          try {
            const { logits } = await runLanguageModel(session, tokens);
            const tol = values === "fp16" ? 5e-2 : 1e-4;
            assert.ok(maxAbsDiff(logits, expected.logits) <= tol, `${storage} ${values}`);
          } finally {
            await session.release();
          }
        }
      }
    });

    // int8 (LSTM only) is refused in one line that names the fix.
    assert.throws(() => buildOnnx(model, ckpt.params, { compute: "int8" }), (err: unknown) => {
      assert.ok(err instanceof UserError);
      assert.match(err.message, /^--compute int8 .* GRU.*--compute op or sparse-scan$/);
      assert.ok(!err.message.includes("\n"));
      return true;
    });
  });
});

Deno.test("gru classifier: train, export, run in onnxruntime and classify", async () => {
  await withTempDir(async (dir) => {
    const checkpoint = join(dir, "classifier.sparrow");
    await trainE2eClassifier(checkpoint, { cell: "gru" });
    const out = join(dir, "bundle");
    const metadata = await exportBundle(checkpoint, out);
    assert.ok(metadata.parity.maxAbsDiff <= 1e-4);
    const ckpt = await loadCheckpoint(checkpoint);
    const model = ckpt.meta.model;
    if (model.kind !== "classifier") throw new Error("expected a classifier");
    await withBundle(out, async (bundle) => {
      const results = await classify(bundle, ["A moving story.", "Dull."]);
      for (const r of results) assert.ok(ckpt.meta.labels!.includes(r.label));
      // Padded sequences of different lengths equal the reference.
      const sequences = [[2, 3, 4, 5, 6, 7], [8], [9, 10, 11]];
      const { logits } = await runClassifier(bundle.session, sequences);
      const expected = referenceClassifierForward(model, ckpt.params, sequences);
      assert.ok(maxAbsDiff(logits, expected) <= 1e-4);
      // The Scan freezes each sequence's state past its length, as the GRU op does.
      const scan = await openSession(
        buildOnnx(model, ckpt.params, { compute: "sparse-scan" }).bytes,
      );
      try {
        const { logits } = await runClassifier(scan, sequences);
        assert.ok(maxAbsDiff(logits, expected) <= 1e-4);
      } finally {
        await scan.release();
      }
    });
  });
});
