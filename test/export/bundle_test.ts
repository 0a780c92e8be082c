import assert from "node:assert/strict";
import { join } from "node:path";
import { exportBundle } from "../../export/bundle.ts";
import { buildOnnx } from "../../export/onnx_model.ts";
import { PARITY_TOLERANCE } from "../../export/parity.ts";
import { type BundleMetadata, openBundle } from "../../src/infer/bundle.ts";
import type { ClassifierConfig, LanguageModelConfig } from "../../src/spec/config.ts";
import { UserError } from "../../src/spec/errors.ts";
import { checkpointOf, randomWeights } from "./helpers.ts";

const LM: LanguageModelConfig = {
  kind: "lm",
  cell: "lstm",
  vocabSize: 12,
  embedSize: 6,
  hiddenSize: 8,
  layers: 2,
  dropout: 0,
};

const CLASSIFIER: ClassifierConfig = {
  kind: "classifier",
  cell: "lstm",
  vocabSize: 12,
  embedSize: 6,
  hiddenSize: 8,
  layers: 1,
  numClasses: 2,
  dropout: 0,
};

async function readMetadata(dir: string): Promise<BundleMetadata> {
  return JSON.parse(await Deno.readTextFile(join(dir, "metadata.json")));
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

for (const config of [LM, CLASSIFIER]) {
  Deno.test(`a ${config.kind} bundle records its modes, FLOPs, storage and parity`, async () => {
    const dir = await Deno.makeTempDir();
    try {
      const ckpt = checkpointOf(config, randomWeights(config, 0.2, 1, 0.4));
      const returned = await exportBundle(ckpt, dir, { storage: "packed", compute: "sparse-scan" });
      const m = await readMetadata(dir);
      assert.deepEqual(m, JSON.parse(JSON.stringify(returned)));
      assert.equal(m.storage, "packed");
      assert.equal(m.compute, "sparse-scan");
      assert.equal(m.values, "fp32");
      assert.equal(m.foldedAtLoad, true);
      assert.ok(m.parity.maxAbsDiff <= PARITY_TOLERANCE);
      assert.equal(m.parity.tolerance, PARITY_TOLERANCE);
      assert.equal(m.approximation, undefined);
      assert.ok(m.tensors!.some((t) => t.storage === "coo"));
      assert.ok(m.tensors!.some((t) => t.storage === "packed"));
      assert.equal(m.bytes, (await Deno.stat(join(dir, "model.onnx"))).size);
      // FLOPs follow src/core/flops.ts: sparse products cost less than dense ones.
      assert.ok(m.flops!.perToken > 0);
      assert.ok(
        m.flops!.perToken + m.flops!.perSequence <
          m.flops!.maskedDensePerToken + m.flops!.maskedDensePerSequence,
      );
      assert.ok(m.parameters.nonzero < m.parameters.total);
      const bundle = await openBundle(dir);
      assert.equal(bundle.metadata.kind, config.kind);
      await bundle.session.release();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("a corrupted weight makes export refuse and write nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ckpt = checkpointOf(LM, randomWeights(LM, 0.5, 2, 0.4));
    // The graph is built from weights that differ from the checkpoint's in one entry.
    const corrupt = (...[config, weights, options]: Parameters<typeof buildOnnx>) => {
      const broken = structuredClone(weights);
      broken["lstm.0.W"].data[0] += 1;
      return buildOnnx(config, broken, options);
    };
    await assert.rejects(
      exportBundle(ckpt, dir, { build: corrupt }),
      (error: Error) =>
        error instanceof UserError && /differ.*nothing was written/.test(error.message),
    );
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a malformed graph makes export refuse and write nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ckpt = checkpointOf(LM, randomWeights(LM, 0.5, 2, 0.4));
    const truncated = (...args: Parameters<typeof buildOnnx>) => {
      const built = buildOnnx(...args);
      return { ...built, bytes: built.bytes.subarray(0, built.bytes.length - 9) };
    };
    await assert.rejects(exportBundle(ckpt, dir, { build: truncated }), /malformed/);
    assert.equal(await exists(join(dir, "metadata.json")), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fp16 values report their error, and are refused when it is over the tolerance", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = CLASSIFIER;
    // Small weights keep fp16 rounding far below 1e-4 in the logits.
    const small = checkpointOf(config, randomWeights(config, 0.5, 3, 0.01));
    const m = await exportBundle(small, dir, { values: "fp16" });
    assert.equal(m.values, "fp16");
    assert.ok(m.approximation!.maxWeightError > 0);
    assert.match(m.approximation!.note, /float16/);
    assert.ok(m.parity.maxAbsDiff > 0 && m.parity.maxAbsDiff <= PARITY_TOLERANCE);
    // Large weights move the logits by more than 1e-4: refused, with the fix named.
    const large = checkpointOf(LM, randomWeights(LM, 1, 4, 2));
    const other = await Deno.makeTempDir();
    await assert.rejects(
      exportBundle(large, other, { values: "fp16" }),
      (error: Error) =>
        error instanceof UserError && /--values fp16.*differ.*by \d/.test(error.message) &&
        /--values fp32/.test(error.message),
    );
    assert.deepEqual([...Deno.readDirSync(other)], []);
    await Deno.remove(other);
    // A looser tolerance asked for explicitly lets it through.
    const loose = await exportBundle(large, dir, { values: "fp16", tolerance: 1 });
    assert.equal(loose.parity.tolerance, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("int8 exports stay within their stated tolerance and say they are approximate", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ckpt = checkpointOf(LM, randomWeights(LM, 0.3, 5, 0.4));
    const m = await exportBundle(ckpt, dir, { compute: "int8" });
    assert.equal(m.compute, "int8");
    assert.ok(m.parity.tolerance > PARITY_TOLERANCE);
    assert.ok(m.parity.maxAbsDiff <= m.parity.tolerance);
    assert.ok(m.parity.maxAbsDiff > 0, "int8 is not exact");
    assert.match(m.approximation!.note, /int8/);
    assert.ok(m.approximation!.maxWeightError > 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
