/** Variational dropout masks: held across time steps, per sequence, shared by word type. */
import assert from "node:assert/strict";
import {
  applySequenceMask,
  applyWordMask,
  sequenceMask,
  variationalSeed,
  wordMask,
} from "../../src/core/variational_dropout.ts";
import { configFromFlags, trainCommand } from "../../cli/train.ts";
import { validateConfig } from "../../src/train/config.ts";
import { settingChanges } from "../../src/train/resume.ts";

Deno.test("a per-sequence mask is the same at every step and differs across sequences", () => {
  const T = 4, B = 6, F = 50, rate = 0.4;
  const mask = new Float32Array(F * T * B).fill(1);
  applySequenceMask(9, rate, T, B, F, mask);
  const batchMajor = sequenceMask(9, rate, B, F);
  let dropped = 0;
  for (let f = 0; f < F; f++) {
    for (let b = 0; b < B; b++) {
      const first = mask[f * T * B + b];
      assert.ok(first === 0 || Math.abs(first - 1 / (1 - rate)) < 1e-6);
      for (let t = 1; t < T; t++) assert.equal(mask[f * T * B + t * B + b], first);
      assert.equal(batchMajor[b * F + f], first);
      if (first === 0) dropped++;
    }
  }
  assert.ok(Math.abs(dropped / (F * B) - rate) < 0.1, `${dropped} of ${F * B} dropped`);
  const rows = Array.from({ length: B }, (_, b) => batchMajor.subarray(b * F, (b + 1) * F).join());
  assert.equal(new Set(rows).size, B);
});

Deno.test("a thread's slice of the batch draws the whole batch's masks", () => {
  const T = 3, B = 5, F = 7;
  const whole = new Float32Array(F * T * B).fill(1);
  applySequenceMask(4, 0.5, T, B, F, whole);
  const part = new Float32Array(F * T * 2).fill(1);
  applySequenceMask(4, 0.5, T, 2, F, part, (b) => b + 3);
  for (let f = 0; f < F; f++) {
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < 2; b++) {
        assert.equal(part[f * T * 2 + t * 2 + b], whole[f * T * B + t * B + b + 3]);
      }
    }
  }
});

Deno.test("word dropout drops every occurrence of a word in a sequence alike", () => {
  const B = 2, V = 40, rate = 0.5;
  // Time-major [T·B]: sequence 0 reads 3, 3, 3, 3 …; sequence 1 reads 0, 1, 2, …
  const tokens = Int32Array.from({ length: 40 }, (_, n) => n % B === 0 ? 3 : (n - 1) / 2);
  const scales = wordMask(variationalSeed(1, "embedding"), rate, tokens, B, V);
  const firstOf3 = scales[0];
  for (let n = 0; n < tokens.length; n += B) assert.equal(scales[n], firstOf3);
  const others = Array.from({ length: 20 }, (_, t) => scales[t * B + 1]);
  assert.ok(others.includes(0) && others.some((s) => s > 1), `${others}`);
  const F = 3;
  const mask = new Float32Array(F * tokens.length).fill(1);
  applyWordMask(variationalSeed(1, "embedding"), rate, tokens, B, F, V, mask);
  for (let n = 0; n < tokens.length; n++) {
    for (let f = 0; f < F; f++) assert.equal(mask[f * tokens.length + n], scales[n]);
  }
});

Deno.test("--dropout-<site> flags set variational rates, validated and guarded on resume", () => {
  const parse = (...args: string[]) =>
    configFromFlags(trainCommand().parse(args, { from: "user" }).opts());
  const config = parse("--cell", "rhn", "--dropout-hidden", "0.25", "--dropout-output", "0.65");
  assert.deepEqual(config.model.variational, {
    embedding: 0,
    input: 0,
    hidden: 0.25,
    output: 0.65,
  });
  validateConfig(config);
  assert.ok(!("variational" in parse().model));
  assert.throws(
    () => validateConfig(parse("--dropout-hidden", "0.2")),
    /--dropout-hidden .*--cell rhn/,
  );
  assert.throws(
    () => validateConfig(parse("--cell", "rhn", "--dropout-input", "1")),
    /--dropout-input must be in \[0, 1\), got 1/,
  );
  assert.throws(
    () => validateConfig(parse("--task", "classifier", "--dropout-input", "0.2")),
    /variational dropout .* language model/,
  );
  const changed = {
    ...config,
    model: { ...config.model, variational: { ...config.model.variational!, output: 0.5 } },
  };
  assert.deepEqual(settingChanges(config, changed), ["--dropout-output was 0.65, now 0.5"]);
});
