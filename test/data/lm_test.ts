import assert from "node:assert/strict";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { UserError } from "../../src/spec/errors.ts";
import {
  batchify,
  bpttWindows,
  EOS,
  lineWords,
  readLanguageModelData,
  readLanguageModelFiles,
  windowCount,
} from "../../src/data/lm.ts";
import { UNK } from "../../src/data/vocab.ts";
import { realDataset } from "../data_available.ts";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const FIXTURES = join(REPO, "fixtures");
const PTB = realDataset("ptb");

async function tempDataset(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "sparrow-lm-" });
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(join(dir, name), text);
  }
  return dir;
}

function rejectsWith(pattern: RegExp) {
  return (err: unknown) => err instanceof UserError && pattern.test(err.message);
}

Deno.test("reads a small dataset: <eos> per line, vocabulary from train only", async () => {
  const dir = await tempDataset({
    "train.txt": "a b a\n\n c  a\tb\n",
    "valid.txt": "b c\n",
    "test.txt": "a\n",
  });
  try {
    const data = await readLanguageModelData(dir);
    // a:3 then b:2, <eos>:3 ... counts: a=3, <eos>=3, b=2, c=1; ties keep first occurrence.
    assert.deepEqual(data.vocab.tokens, ["a", EOS, "b", "c"]);
    const words = (ids: Int32Array) => [...ids].map((id) => data.vocab.decode(id));
    assert.deepEqual(words(data.train), ["a", "b", "a", EOS, EOS, "c", "a", "b", EOS]);
    assert.deepEqual(words(data.valid), ["b", "c", EOS]);
    assert.deepEqual(words(data.test!), ["a", EOS]);
    assert.deepEqual(data.unknownWords, { train: 0, valid: 0, test: 0 });
    assert.equal(data.files.train, join(dir, "train.txt"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the test split is optional and ptb.* names are found", async () => {
  const dir = await tempDataset({
    "ptb.train.txt": "x y\r\ny x\r\n",
    "ptb.valid.txt": "x",
  });
  try {
    const data = await readLanguageModelData(dir);
    assert.equal(data.test, undefined);
    assert.equal(data.train.length, 6);
    // The last line has no newline and still gets its <eos>.
    assert.equal(data.valid.length, 2);
    assert.equal(data.vocab.has("y\r"), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the tinylm fixture reads with one <eos> per line and a closed vocabulary", async () => {
  const data = await readLanguageModelData(join(FIXTURES, "tinylm"));
  for (const split of ["train", "valid", "test"] as const) {
    const text = await Deno.readTextFile(join(FIXTURES, "tinylm", `${split}.txt`));
    const lines = text.split("\n").length - 1;
    const words = text.match(/\S+/g)!.length;
    const ids = data[split]!;
    assert.equal(ids.length, words + lines, split);
    assert.equal(ids.filter((id) => id === data.vocab.id(EOS)).length, lines);
  }
  assert.equal(data.vocab.unkToken, null);
  assert.ok(data.vocab.size >= 100 && data.vocab.size <= 200, `${data.vocab.size}`);
});

Deno.test("words split on ASCII whitespace only: U+FEFF, NBSP and U+2009 are part of words", async () => {
  // As in WikiText-2, where splitting on JavaScript's \s loses a standalone U+FEFF
  // token (36 tokens, 1 type) and the published counts are not reproduced.
  const data = await readLanguageModelData(join(FIXTURES, "unicode_space"));
  assert.equal(data.train.length, 17 + 3);
  assert.equal(data.vocab.size, 10);
  for (const word of ["\ufeff", "cat\u00a0sat", "the\u2009mat"]) {
    assert.ok(data.vocab.has(word), JSON.stringify(word));
  }
  assert.deepEqual(lineWords("a\u00a0b \ufeff\tc\vd\fe\r"), [
    "a\u00a0b",
    "\ufeff",
    "c",
    "d",
    "e",
    EOS,
  ]);
});

Deno.test("errors: missing directory, missing split, ambiguous names", async () => {
  await assert.rejects(
    readLanguageModelData(join(FIXTURES, "no-such-dataset")),
    rejectsWith(/no-such-dataset.*does not exist/),
  );
  const dir = await tempDataset({ "train.txt": "a b\n" });
  try {
    await assert.rejects(
      readLanguageModelData(dir),
      rejectsWith(/no valid file .*ptb\.valid\.txt and .*valid\.txt/),
    );
    await Deno.writeTextFile(join(dir, "valid.txt"), "a\n");
    await Deno.writeTextFile(join(dir, "ptb.valid.txt"), "a\n");
    await assert.rejects(readLanguageModelData(dir), rejectsWith(/both .* exist/));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  await assert.rejects(
    readLanguageModelFiles({
      train: join(FIXTURES, "tinylm", "train.txt"),
      valid: join(FIXTURES, "tinylm", "missing.txt"),
    }),
    rejectsWith(/missing\.txt.*does not exist/),
  );
});

Deno.test("errors: an empty training file", async () => {
  await assert.rejects(
    readLanguageModelData(join(FIXTURES, "bad", "lm_empty")),
    rejectsWith(/lm_empty\/train\.txt" contains no words/),
  );
});

Deno.test("errors: a validation word missing from a closed vocabulary names file and line", async () => {
  await assert.rejects(
    readLanguageModelData(join(FIXTURES, "bad", "lm_oov")),
    rejectsWith(/lm_oov\/valid\.txt:2: word "bird" is not in the vocabulary/),
  );
});

Deno.test("an open vocabulary maps unknown words to <unk> and counts them", async () => {
  const data = await readLanguageModelData(join(FIXTURES, "bad", "lm_oov"), {
    maxSize: 4,
  });
  // <unk> first, then the three most frequent: the, sat, <eos> (cat/dog drop out).
  assert.deepEqual(data.vocab.tokens, [UNK, "the", "sat", EOS]);
  assert.deepEqual(data.unknownWords, { train: 2, valid: 2 });
});

Deno.test("batchify cuts contiguous streams, time-major", () => {
  const tokens = Int32Array.from({ length: 11 }, (_, i) => i);
  const batches = batchify(tokens, 3);
  assert.equal(batches.steps, 3);
  assert.equal(batches.batchSize, 3);
  // Streams are 0 1 2 | 3 4 5 | 6 7 8; token 9 and 10 are dropped.
  assert.deepEqual([...batches.data], [0, 3, 6, 1, 4, 7, 2, 5, 8]);
});

Deno.test("BPTT windows cover every step and targets are inputs shifted by one", () => {
  const tokens = Int32Array.from({ length: 40 }, (_, i) => i);
  const batches = batchify(tokens, 4); // 4 streams of 10
  const windows = [...bpttWindows(batches, 4)];
  assert.equal(windows.length, windowCount(batches, 4));
  assert.deepEqual(windows.map((w) => w.T), [4, 4, 1]);
  assert.deepEqual(windows.map((w) => w.offset), [0, 4, 8]);
  for (const w of windows) {
    assert.equal(w.B, 4);
    assert.equal(w.input.length, w.T * w.B);
    assert.equal(w.target.length, w.T * w.B);
    for (let t = 0; t < w.T; t++) {
      for (let b = 0; b < w.B; b++) {
        const step = w.offset + t;
        assert.equal(w.input[t * w.B + b], b * 10 + step);
        assert.equal(w.target[t * w.B + b], b * 10 + step + 1);
      }
    }
  }
});

Deno.test("errors: a dataset too short for one batch, bad sizes", () => {
  assert.throws(
    () => batchify(new Int32Array(5), 3, "valid"),
    rejectsWith(/valid has 5 tokens, too few for batch size 3 .*at least 6/),
  );
  assert.throws(() => batchify(new Int32Array(10), 0), UserError);
  assert.throws(() => [...bpttWindows(batchify(new Int32Array(10), 2), 0)], UserError);
});

Deno.test({
  name: "real PTB (../shared/datasets/ptb): 10,000 types and the published token counts",
  ignore: PTB.ignore,
  async fn() {
    PTB.assertPresent();
    const data = await readLanguageModelData(PTB.path);
    assert.equal(data.vocab.size, 10_000);
    assert.ok(data.vocab.has(UNK) && data.vocab.has(EOS));
    assert.equal(data.train.length, 929_589);
    assert.equal(data.valid.length, 73_760);
    assert.equal(data.test!.length, 82_430);
    const eos = data.vocab.id(EOS);
    assert.equal(data.train.filter((id) => id === eos).length, 42_068);
    assert.deepEqual(data.unknownWords, { train: 0, valid: 0, test: 0 });
  },
});
