import assert from "node:assert/strict";
import { Rng } from "../../src/core/rng.ts";
import { UserError } from "../../src/spec/errors.ts";
import { encodeContainer } from "../../src/spec/container.ts";
import { initParams } from "../../src/core/init.ts";
import {
  type Checkpoint,
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  decodeCheckpoint,
  encodeCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
} from "../../src/spec/checkpoint.ts";
import { sameBits, SMALL_LM, withTempDir } from "../helpers.ts";

function sampleCheckpoint(): Checkpoint {
  const rng = new Rng(5);
  const params = initParams(SMALL_LM, rng);
  const mask = (n: number) => Uint8Array.from({ length: n }, () => (rng.next() < 0.3 ? 1 : 0));
  const masks = {
    "lstm.0.W": mask(params["lstm.0.W"].data.length),
    "lstm.1.R": mask(params["lstm.1.R"].data.length),
  };
  for (const [name, m] of Object.entries(masks)) {
    params[name].data.forEach((_, i, data) => (data[i] *= m[i]));
  }
  const optimizer = {
    "m/lstm.0.W": {
      shape: params["lstm.0.W"].shape,
      data: params["lstm.0.W"].data.map((v) => v / 3),
    },
    "s/decoder.b": {
      shape: [SMALL_LM.vocabSize],
      data: new Float32Array(SMALL_LM.vocabSize).fill(0.25),
    },
  };
  return {
    meta: {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      model: SMALL_LM,
      training: { method: "strnn", sparsity: 0.7 },
      vocab: Array.from({ length: SMALL_LM.vocabSize }, (_, i) => (i === 0 ? "<eos>" : `w${i}`)),
      tokenizer: { lowercase: true },
      progress: {
        epoch: 2,
        step: 40,
        rngState: 123456,
        optimizerSteps: 40,
        tokens: 4000,
        sequences: 80,
        topologyUpdates: 2,
        prunedFractionSum: 0,
        history: [{ epoch: 1, valid_ppl: 80.5 }, { epoch: 2, valid_ppl: 60.25 }],
        done: false,
      },
    },
    params,
    masks,
    optimizer,
  };
}

function assertSameCheckpoint(actual: Checkpoint, expected: Checkpoint): void {
  assert.deepEqual(actual.meta, expected.meta);
  for (const group of ["params", "optimizer"] as const) {
    assert.deepEqual(Object.keys(actual[group]).sort(), Object.keys(expected[group]).sort());
    for (const [name, t] of Object.entries(expected[group])) {
      assert.deepEqual(actual[group][name].shape, t.shape, name);
      assert.ok(sameBits(actual[group][name].data, t.data), `${group} ${name}`);
    }
  }
  assert.deepEqual(Object.keys(actual.masks).sort(), Object.keys(expected.masks).sort());
  for (const [name, m] of Object.entries(expected.masks)) {
    assert.ok(sameBits(actual.masks[name], m), `mask ${name}`);
  }
}

/** Asserts that decoding `bytes` fails with a UserError naming `source` and matching `why`. */
function assertRefused(bytes: Uint8Array, source: string, why: RegExp): void {
  assert.throws(
    () => decodeCheckpoint(bytes, source),
    (err: unknown) => {
      assert.ok(err instanceof UserError, `not a UserError: ${err}`);
      assert.ok(err.message.includes(source), `does not name ${source}: ${err.message}`);
      assert.match(err.message, why);
      return true;
    },
  );
}

/** The checkpoint's container with `edit` applied to its metadata and tensors. */
function edited(edit: (c: Checkpoint) => void): Uint8Array {
  const ckpt = sampleCheckpoint();
  edit(ckpt);
  return encodeCheckpoint(ckpt);
}

Deno.test("a checkpoint round-trips in memory and through a file, bit for bit", async () => {
  const ckpt = sampleCheckpoint();
  assertSameCheckpoint(decodeCheckpoint(encodeCheckpoint(ckpt), "memory"), ckpt);
  await withTempDir(async (dir) => {
    const path = `${dir}/runs/lm/checkpoint.sparrow`;
    await saveCheckpoint(path, ckpt);
    assertSameCheckpoint(await loadCheckpoint(path), ckpt);
    // Saving again replaces the file atomically: nothing else is left in the directory.
    await saveCheckpoint(path, ckpt);
    const names = [];
    for await (const e of Deno.readDir(`${dir}/runs/lm`)) names.push(e.name);
    assert.deepEqual(names, ["checkpoint.sparrow"]);
  });
});

Deno.test("a truncated checkpoint file is a UserError naming the file", async () => {
  const bytes = encodeCheckpoint(sampleCheckpoint());
  await withTempDir(async (dir) => {
    const path = `${dir}/cut.sparrow`;
    for (const keep of [0, 10, 100, Math.floor(bytes.length / 2), bytes.length - 1]) {
      await Deno.writeFile(path, bytes.subarray(0, keep));
      await assert.rejects(
        () => loadCheckpoint(path),
        (err: unknown) => err instanceof UserError && err.message.includes(path),
        `kept ${keep} bytes`,
      );
    }
  });
});

Deno.test("a missing or non-sparrow file is a UserError naming the file", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(
      () => loadCheckpoint(`${dir}/none.sparrow`),
      (err: unknown) => err instanceof UserError && err.message.includes(`${dir}/none.sparrow`),
    );
    await Deno.writeTextFile(`${dir}/notes.txt`, "these are not weights, just some text");
    await assert.rejects(
      () => loadCheckpoint(`${dir}/notes.txt`),
      (err: unknown) => err instanceof UserError && err.message.includes(`${dir}/notes.txt`),
    );
  });
});

Deno.test("a sparrow container of another kind or version is refused", () => {
  const other = encodeContainer({ metadata: { format: "sparrow-sparse-weights" }, tensors: {} });
  assertRefused(other, "weights.sparrow", /not a checkpoint/);
  assertRefused(
    encodeContainer({ metadata: null, tensors: {} }),
    "null.sparrow",
    /not a checkpoint/,
  );
  const future = edited((c) => (c.meta.version = CHECKPOINT_VERSION + 1));
  assertRefused(future, "future.sparrow", /version/);
});

Deno.test("metadata without a model or vocabulary is refused", () => {
  const noModel = edited((c) => delete (c.meta as Partial<Checkpoint["meta"]>).model);
  assertRefused(noModel, "nomodel.sparrow", /model/);
  const noVocab = edited((c) => delete (c.meta as Partial<Checkpoint["meta"]>).vocab);
  assertRefused(noVocab, "novocab.sparrow", /vocab/);
});

Deno.test("wrong shapes, missing parameters and bad masks are refused by name", () => {
  const wrongShape = edited((c) => (c.params["lstm.0.R"].shape = [4, 25]));
  assertRefused(wrongShape, "shape.sparrow", /lstm\.0\.R.*shape \[4,25\]/);
  const missing = edited((c) => delete c.params["decoder.W"]);
  assertRefused(missing, "missing.sparrow", /decoder\.W is missing/);
  // A checkpoint of a different model: the config says larger than the weights are.
  const bigger = edited((
    c,
  ) => (c.meta.model = { ...SMALL_LM, hiddenSize: SMALL_LM.hiddenSize + 1 }));
  assertRefused(bigger, "bigger.sparrow", /expected/);
  const badMask = encodeContainer({
    metadata: sampleCheckpoint().meta,
    tensors: {
      ...Object.fromEntries(
        Object.entries(sampleCheckpoint().params).map((
          [name, p],
        ) => [`param/${name}`, { dtype: "float32" as const, shape: p.shape, data: p.data }]),
      ),
      "mask/lstm.0.W": { dtype: "uint8", shape: [3], data: new Uint8Array(3) },
    },
  });
  assertRefused(badMask, "mask.sparrow", /mask of lstm\.0\.W/);
  const vocab = edited((c) => c.meta.vocab.pop());
  assertRefused(vocab, "vocab.sparrow", /vocabulary size/);
});
