import assert from "node:assert/strict";
import {
  openSession,
  runClassifier,
  runClassifierPadded,
  runLanguageModel,
} from "../../src/infer/onnx_runtime.ts";
import { buildOnnxModel, COMPUTE_MODES } from "../../export/onnx_model.ts";
import { referenceClassifierForward } from "../../src/spec/reference.ts";
import { Rng } from "../../src/core/rng.ts";
import { UserError } from "../../src/spec/errors.ts";
import { maxAbsDiff, randomWeights, TINY_LM as LM, tinyClassifier } from "../export/helpers.ts";

const TOLERANCE = 1e-4;

const CLASSIFIER = tinyClassifier(1);

Deno.test("streaming token by token equals the full-sequence run", async () => {
  const session = await openSession(
    buildOnnxModel(LM, randomWeights(LM, 0.3, 1)),
  );
  const rng = new Rng(2);
  const T = 8;
  const B = 2;
  const tokens = Array.from(
    { length: T },
    () => Array.from({ length: B }, () => rng.int(LM.vocabSize)),
  );
  const full = await runLanguageModel(session, tokens);
  const V = LM.vocabSize;
  let state = undefined;
  for (let t = 0; t < T; t++) {
    const step = await runLanguageModel(session, [tokens[t]], state);
    assert.deepEqual(step.dims, [1, B, V]);
    const want = full.logits.subarray(t * B * V, (t + 1) * B * V);
    assert.ok(maxAbsDiff(step.logits, want) <= TOLERANCE);
    state = step.state;
  }
  assert.ok(maxAbsDiff(state!.h, full.state.h) <= TOLERANCE);
  assert.ok(maxAbsDiff(state!.c, full.state.c) <= TOLERANCE);
  // The state does matter: restarting from zeros changes the last step.
  const cold = await runLanguageModel(session, [tokens[T - 1]]);
  assert.ok(
    maxAbsDiff(cold.logits, full.logits.subarray((T - 1) * B * V)) > 1e-3,
  );
});

for (const compute of ["sparse-scan", "int8"] as const) {
  Deno.test(`streaming carries state in compute mode ${compute} too`, async () => {
    const session = await openSession(
      buildOnnxModel(LM, randomWeights(LM, 0.3, 1), { compute }),
    );
    const rng = new Rng(2);
    const tokens = Array.from({ length: 6 }, () => [rng.int(LM.vocabSize)]);
    const full = await runLanguageModel(session, tokens);
    const V = LM.vocabSize;
    // int8 requantizes its input per call, so one step at a time differs a little.
    const tolerance = compute === "int8"
      ? 0.05 * Math.max(1, ...full.logits.map(Math.abs))
      : TOLERANCE;
    let state = undefined;
    for (let t = 0; t < tokens.length; t++) {
      const step = await runLanguageModel(session, [tokens[t]], state);
      const want = full.logits.subarray(t * V, (t + 1) * V);
      assert.ok(maxAbsDiff(step.logits, want) <= tolerance, `${compute} step ${t}`);
      state = step.state;
    }
    await session.release();
  });
}

Deno.test("the classifier handles unequal lengths per example", async () => {
  const weights = randomWeights(CLASSIFIER, 0.5, 3);
  const session = await openSession(buildOnnxModel(CLASSIFIER, weights));
  const rng = new Rng(4);
  const sequences = [2, 11, 1, 5].map((n) =>
    Array.from({ length: n }, () => rng.int(CLASSIFIER.vocabSize))
  );
  const batch = await runClassifier(session, sequences);
  assert.deepEqual(batch.dims, [4, 3]);
  const want = referenceClassifierForward(CLASSIFIER, weights, sequences);
  assert.ok(maxAbsDiff(batch.logits, want) <= TOLERANCE);
  // Padding never leaks in: each example alone gives the same logits.
  for (let b = 0; b < sequences.length; b++) {
    const alone = await runClassifier(session, [sequences[b]]);
    assert.ok(
      maxAbsDiff(alone.logits, batch.logits.subarray(b * 3, b * 3 + 3)) <=
        TOLERANCE,
    );
  }
});

Deno.test("a session opens from a file path", async () => {
  const path = await Deno.makeTempFile({ suffix: ".onnx" });
  try {
    const weights = randomWeights(CLASSIFIER, 1, 5);
    await Deno.writeFile(path, buildOnnxModel(CLASSIFIER, weights));
    const session = await openSession(path);
    const got = await runClassifier(session, [[1, 2, 3]]);
    const want = referenceClassifierForward(CLASSIFIER, weights, [[1, 2, 3]]);
    assert.ok(maxAbsDiff(got.logits, want) <= TOLERANCE);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("bad models and inputs raise UserError", async () => {
  await assert.rejects(openSession("/nonexistent/model.onnx"), UserError);
  await assert.rejects(openSession(new Uint8Array([1, 2, 3])), UserError);
  const lm = await openSession(buildOnnxModel(LM, randomWeights(LM, 1, 6)));
  const classifier = await openSession(
    buildOnnxModel(CLASSIFIER, randomWeights(CLASSIFIER, 1, 6)),
  );
  await assert.rejects(runClassifier(lm, [[1]]), /not a sparrow classifier/);
  await assert.rejects(
    runLanguageModel(classifier, [[1]]),
    /not a sparrow language model/,
  );
  await assert.rejects(runLanguageModel(lm, [[1, 2], [3]]), UserError);
  await assert.rejects(runLanguageModel(lm, [[-1]]), /Token id -1/);
  await assert.rejects(runLanguageModel(lm, [[LM.vocabSize]]), UserError);
  await assert.rejects(
    runLanguageModel(lm, [[1]], {
      h: new Float32Array(3),
      c: new Float32Array(3),
    }),
    /State must hold/,
  );
  await assert.rejects(
    runClassifier(classifier, [[1], []]),
    /Sequence 1 is empty/,
  );
  await assert.rejects(runClassifier(classifier, []), UserError);
});

for (const compute of COMPUTE_MODES) {
  Deno.test(`out-of-range lengths are refused for --compute ${compute}`, async () => {
    const weights = randomWeights(CLASSIFIER, 0.5, 3, 0.4);
    const session = await openSession(buildOnnxModel(CLASSIFIER, weights, { compute }));
    try {
      const tokens = [[1, 2], [3, 4], [5, 0]]; // T = 3, B = 2
      const ok = await runClassifierPadded(session, tokens, [3, 2]);
      assert.deepEqual(ok.dims, [2, CLASSIFIER.numClasses]);
      for (const bad of [0, 4, -1, 1.5, NaN]) {
        await assert.rejects(
          runClassifierPadded(session, tokens, [3, bad]),
          (error: Error) =>
            error instanceof UserError &&
            error.message.startsWith(`lengths[1] is ${bad}, outside 1..3`) &&
            !error.message.includes("\n"),
        );
      }
      await assert.rejects(runClassifierPadded(session, tokens, [3]), /one length per sequence/);
    } finally {
      await session.release();
    }
  });
}
