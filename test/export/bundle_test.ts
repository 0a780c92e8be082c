import assert from "node:assert/strict";
import { join } from "node:path";
import { exportBundle } from "../../export/bundle.ts";
import { cleanStaleBundles } from "../../export/swap.ts";
import { decodeModel } from "../../export/onnx/proto.ts";
import { saveCheckpoint } from "../../src/spec/checkpoint.ts";
import { withTempDir } from "../helpers.ts";
import { buildOnnx } from "../../export/onnx_model.ts";
import { PARITY_TOLERANCE } from "../../export/parity.ts";
import { type BundleMetadata, openBundle, sha256Hex } from "../../src/infer/bundle.ts";
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

/** A pid no process can have: above the kernel's largest. */
async function deadPid(): Promise<number> {
  const max = await Deno.readTextFile("/proc/sys/kernel/pid_max").then(Number, () => 4194304);
  return max + 1;
}

Deno.test("a failed export keeps the previous bundle complete and loadable at every moment", async () => {
  await withTempDir(async (parent) => {
    const out = join(parent, "bundle");
    const ckpt = checkpointOf(LM, randomWeights(LM, 0.5, 6, 0.4));
    const before = await exportBundle(ckpt, out);
    const other = checkpointOf(LM, randomWeights(LM, 0.5, 7, 0.4));
    const seen: string[] = [];
    // Fails like a full disk on the last file; checks the old bundle is whole meanwhile.
    const writeFile = async (path: string, data: Uint8Array) => {
      const bundle = await openBundle(out);
      await bundle.session.release();
      assert.deepEqual(bundle.metadata.sha256, before.sha256);
      seen.push(path);
      if (path.endsWith("metadata.json")) {
        throw new Error("No space left on device (os error 28)");
      }
      await Deno.writeFile(path, data);
    };
    await assert.rejects(exportBundle(other, out, { writeFile }), (error: Error) => {
      assert.ok(error instanceof UserError, `not a UserError: ${error}`);
      assert.match(error.message, /cannot write the bundle .*No space left on device/);
      assert.match(error.message, /previous bundle there is unchanged/);
      assert.ok(!error.message.includes("\n"));
      return true;
    });
    assert.equal(seen.length, 3);
    assert.deepEqual(await readMetadata(out), JSON.parse(JSON.stringify(before)));
    // Nothing is left beside it.
    assert.deepEqual([...Deno.readDirSync(parent)].map((e) => e.name), ["bundle"]);
    // A successful export replaces it.
    const after = await exportBundle(other, out);
    assert.notDeepEqual(after.sha256, before.sha256);
    assert.deepEqual((await readMetadata(out)).sha256, after.sha256);
    assert.deepEqual([...Deno.readDirSync(parent)].map((e) => e.name), ["bundle"]);
  });
});

Deno.test("the next export cleans up after a killed one", async () => {
  await withTempDir(async (parent) => {
    const out = join(parent, "bundle");
    const ckpt = checkpointOf(LM, randomWeights(LM, 0.5, 8, 0.4));
    const first = await exportBundle(ckpt, out);
    const pid = await deadPid();
    // Killed while writing: a half-written new bundle beside the old one.
    const partial = join(parent, `.bundle.export-new-${pid}-0123abcd`);
    await Deno.mkdir(partial);
    await Deno.writeTextFile(join(partial, "model.onnx"), "half");
    // Killed between the renames: the old bundle renamed away, nothing at out.
    const other = join(parent, "other");
    await exportBundle(ckpt, other);
    const away = join(parent, `.other.export-old-${pid}-4567cdef`);
    await Deno.rename(other, away);
    assert.deepEqual(await cleanStaleBundles(other), [away]);
    assert.deepEqual((await readMetadata(other)).sha256, first.sha256);
    await exportBundle(ckpt, out);
    assert.deepEqual([...Deno.readDirSync(parent)].map((e) => e.name).sort(), ["bundle", "other"]);
  });
});

Deno.test("export refuses an --out that holds files of its own", async () => {
  await withTempDir(async (parent) => {
    await Deno.writeTextFile(join(parent, "notes.txt"), "mine");
    const ckpt = checkpointOf(LM, randomWeights(LM, 0.5, 9, 0.4));
    await assert.rejects(
      exportBundle(ckpt, parent),
      (error: Error) => error instanceof UserError && /holds notes\.txt/.test(error.message),
    );
    assert.equal(await Deno.readTextFile(join(parent, "notes.txt")), "mine");
  });
});

Deno.test("a negative or zero tolerance is one UserError", async () => {
  const ckpt = checkpointOf(LM, randomWeights(LM, 0.5, 10, 0.4));
  for (const tolerance of [-1, 0, NaN]) {
    await assert.rejects(
      exportBundle(ckpt, "/nonexistent/never-written", { tolerance }),
      (error: Error) =>
        error instanceof UserError && /--tolerance must be a positive number/.test(error.message),
    );
  }
});

for (const config of [LM, CLASSIFIER]) {
  Deno.test(`a ${config.kind} bundle's metadata describes how to run it without sparrow`, async () => {
    await withTempDir(async (parent) => {
      const out = join(parent, "bundle");
      const checkpoint = join(parent, "runs", "checkpoint.sparrow");
      const ckpt = checkpointOf(config, randomWeights(config, 0.5, 11, 0.4));
      if (config.kind === "classifier") {
        ckpt.meta.tokenizer = { scheme: "words", lowercase: true, htmlBreaks: true, maxLength: 50 };
      }
      await exportBundle(ckpt, out);
      const text = await Deno.readTextFile(join(out, "metadata.json"));
      const m: BundleMetadata = JSON.parse(text);
      // Files and their sha256.
      for (const name of Object.values(m.files)) {
        assert.equal(m.sha256[name], await sha256Hex(await Deno.readFile(join(out, name))));
      }
      // Inputs and outputs, as the graph has them.
      const model = decodeModel(await Deno.readFile(join(out, "model.onnx")));
      assert.deepEqual(m.io.inputs.map((i) => i.name), model.graph!.input!.map((i) => i.name));
      assert.deepEqual(m.io.outputs.map((o) => o.name), model.graph!.output!.map((o) => o.name));
      for (const value of [...m.io.inputs, ...m.io.outputs]) {
        const graphValue = [...model.graph!.input!, ...model.graph!.output!]
          .find((v) => v.name === value.name)!;
        assert.equal(value.shape.length, graphValue.type!.tensor_type!.shape!.dim!.length);
        assert.ok(value.description.length > 0);
      }
      assert.match(m.io.outputs[0].description, /unnormalised/);
      assert.equal(m.specialTokens.unk!.id, 0);
      assert.equal(m.specialTokens.unk!.token, "<unk>");
      assert.match(m.tokenizer!.rule as string, /<unk>/);
      if (config.kind === "classifier") {
        assert.match(m.tokenizer!.rule as string, /^lowercase; replace <br>.*first 50 tokens/);
        assert.equal(m.specialTokens.padding.id, 0);
      } else {
        assert.match(m.tokenizer!.rule as string, /whitespace.*<eos>/);
      }
      assert.equal(m.causal, true);
      assert.equal(m.producer.name, "sparrow");
      assert.match(m.producer.version, /^\d+\.\d+\.\d+/);
      // No path of the build machine: the checkpoint by file name only.
      await saveCheckpoint(checkpoint, ckpt);
      const fromFile = await exportBundle(checkpoint, join(parent, "from-file"));
      assert.equal(fromFile.source.checkpoint, "checkpoint.sparrow");
      const written = await Deno.readTextFile(join(parent, "from-file", "metadata.json"));
      assert.ok(!written.includes(parent), "metadata.json names a build-machine path");
      assert.ok(!text.includes(parent));
    });
  });
}

Deno.test("int8 metadata says chunked feeding differs from one call; exact modes are causal", async () => {
  await withTempDir(async (parent) => {
    const ckpt = checkpointOf(LM, randomWeights(LM, 0.3, 5, 0.4));
    const int8 = await exportBundle(ckpt, join(parent, "int8"), { compute: "int8" });
    assert.equal(int8.causal, false);
    assert.match(int8.causalNote!, /depend on the tokens after it/);
    assert.ok(int8.parity.streamedVsWhole! > 0, "int8 streamed and whole runs differ");
    assert.match(int8.parity.samples, /not causal/);
    const exact = await exportBundle(ckpt, join(parent, "op"));
    assert.equal(exact.causal, true);
    assert.equal(exact.causalNote, undefined);
    assert.ok(exact.parity.streamedVsWhole! <= 1e-5);
    assert.doesNotMatch(exact.parity.samples, /not causal/);
  });
});
