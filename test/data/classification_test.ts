import assert from "node:assert/strict";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Rng } from "../../src/core/rng.ts";
import { UserError } from "../../src/spec/errors.ts";
import {
  batchCount,
  classificationBatches,
  type ClassificationSplit,
  cutTokens,
  describeClassificationData,
  holdOut,
  PAD,
  readClassificationData,
  readClassificationFiles,
} from "../../src/data/classification.ts";
import { UNK } from "../../src/data/vocab.ts";

const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), "../../fixtures");
const BAD = join(FIXTURES, "bad");

async function tempDataset(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "sparrow-cls-" });
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(join(dir, name), text);
  }
  return dir;
}

function rejectsWith(pattern: RegExp) {
  return (err: unknown) => err instanceof UserError && pattern.test(err.message);
}

const TRAIN = [
  "pos\tGood, good fun.",
  "neg\tNot good at all",
  "",
  "neutral\tfun",
  "pos\tgood",
  "neg\tnot fun",
  "neutral\tgood",
].join("\n");

Deno.test("reads labels, vocabulary with <pad>=0 and <unk>=1, and encodes texts", async () => {
  const dir = await tempDataset({
    "train.tsv": TRAIN,
    "test.tsv": "neg\tgood movie\n",
  });
  try {
    const data = await readClassificationData(dir);
    assert.deepEqual(data.labels, ["neg", "neutral", "pos"]);
    // good:5, fun:3, not:2, then ",", ".", at, all once each in reading order.
    assert.deepEqual(data.vocab.tokens, [
      PAD,
      UNK,
      "good",
      "fun",
      "not",
      ",",
      ".",
      "at",
      "all",
    ]);
    assert.deepEqual(data.train.labels, Int32Array.from([2, 0, 1, 2, 0, 1]));
    assert.deepEqual(data.labelCounts, [2, 2, 2]);
    assert.deepEqual(data.notes, []);
    assert.deepEqual([...data.train.texts[0]], [2, 5, 2, 3, 6]);
    // "movie" never occurs in training, so it is <unk>.
    assert.deepEqual([...data.test.texts[0]], [2, 1]);
    assert.equal(data.valid, undefined);
    assert.equal(data.text.lowercase, true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("maxLength truncates, maxVocab and minCount shrink the vocabulary", async () => {
  const dir = await tempDataset({
    "train.tsv": TRAIN,
    "valid.tsv": "pos\tgood fun good fun\n",
    "test.tsv": "neg\tall\n",
  });
  try {
    const data = await readClassificationData(dir, { maxLength: 2, maxVocab: 4 });
    assert.deepEqual(data.vocab.tokens, [PAD, UNK, "good", "fun"]);
    assert.equal(data.maxLength, 2);
    assert.deepEqual([...data.train.texts[1]], [1, 2]); // "not good"
    assert.deepEqual([...data.valid!.texts[0]], [2, 3]);
    const counted = await readClassificationData(dir, { minCount: 2 });
    assert.deepEqual(counted.vocab.tokens, [PAD, UNK, "good", "fun", "not"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("keep: last keeps a long text's last maxLength tokens; short texts are whole", async () => {
  const dir = await tempDataset({
    "train.tsv": TRAIN,
    "test.tsv": "neg\tnot good fun\npos\tfun\n",
  });
  try {
    const first = await readClassificationData(dir, { maxLength: 2 });
    const last = await readClassificationData(dir, { maxLength: 2, keep: "last" });
    const id = (w: string) => last.vocab.encode(w);
    assert.deepEqual([...first.test.texts[0]], [id("not"), id("good")]);
    assert.deepEqual([...last.test.texts[0]], [id("good"), id("fun")]);
    assert.deepEqual([...last.test.texts[1]], [id("fun")]);
    assert.equal(last.keep, "last");
    assert.equal(first.keep, undefined);
    await assert.rejects(
      () => readClassificationData(dir, { maxLength: 2, keep: "end" as "last" }),
      rejectsWith(/--keep must be one of first, last, got end/),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cutTokens keeps either end of arrays and typed arrays", () => {
  assert.deepEqual(cutTokens([1, 2, 3, 4], 2), [1, 2]);
  assert.deepEqual(cutTokens([1, 2, 3, 4], 2, "last"), [3, 4]);
  assert.deepEqual([...cutTokens(Int32Array.of(1, 2, 3), 5, "last")], [1, 2, 3]);
  assert.deepEqual([...cutTokens(Int32Array.of(1, 2, 3), 1, "last")], [3]);
  assert.deepEqual(cutTokens([1, 2], undefined, "last"), [1, 2]);
});

Deno.test("batches are time-major, padded with 0, with lengths and labels", async () => {
  const dir = await tempDataset({ "train.tsv": TRAIN, "test.tsv": "neg\tgood\n" });
  try {
    const data = await readClassificationData(dir);
    const batches = [...classificationBatches(data.train, 5)];
    assert.equal(batches.length, batchCount(data.train, 5));
    const [first, last] = batches;
    assert.equal(first.B, 5);
    assert.equal(first.T, 5);
    assert.deepEqual([...first.lengths], [5, 4, 1, 1, 2]);
    assert.deepEqual([...first.labels], [2, 0, 1, 2, 0]);
    for (let b = 0; b < first.B; b++) {
      const text = data.train.texts[b];
      for (let t = 0; t < first.T; t++) {
        const expected = t < text.length ? text[t] : 0;
        assert.equal(first.tokens[t * first.B + b], expected);
      }
    }
    // The last batch keeps the one leftover text.
    assert.equal(last.B, 1);
    assert.deepEqual([...last.tokens], [...data.train.texts[5]]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("shuffled batches visit every example once, reproducibly per seed", async () => {
  const data = await readClassificationData(join(FIXTURES, "sentiment"));
  const epoch = (rng: Rng) => {
    const seen: number[] = [];
    for (const batch of classificationBatches(data.train, 64, rng)) {
      for (let b = 0; b < batch.B; b++) {
        seen.push(batch.labels[b] * 1000 + batch.lengths[b]);
      }
    }
    return seen;
  };
  const rng = new Rng(7);
  const first = epoch(rng);
  const second = epoch(rng);
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  assert.equal(first.length, data.train.texts.length);
  assert.deepEqual(sorted(first), sorted(second));
  assert.notDeepEqual(first, second);
  assert.deepEqual(epoch(new Rng(7)), first);
});

Deno.test("the sentiment fixture is balanced pos/neg with train, valid and test", async () => {
  const data = await readClassificationData(join(FIXTURES, "sentiment"));
  assert.deepEqual(data.labels, ["neg", "pos"]);
  for (const split of [data.train, data.valid!, data.test]) {
    const positives = split.labels.filter((label) => label === 1).length;
    assert.equal(positives * 2, split.labels.length);
  }
  assert.ok(data.train.texts.length >= 1000);
});

Deno.test("errors: a line without a TAB names file:line and the fix", async () => {
  await assert.rejects(
    readClassificationData(join(BAD, "tsv_no_tab")),
    rejectsWith(/tsv_no_tab\/train\.tsv:2: no TAB .*label<TAB>text/),
  );
});

Deno.test("errors: a test label that training never saw", async () => {
  await assert.rejects(
    readClassificationData(join(BAD, "tsv_unknown_label")),
    rejectsWith(
      /test\.tsv:2: label "mixed" does not occur in the training data \(labels: neg, pos\)/,
    ),
  );
});

Deno.test("errors: empty file, missing file, one label, empty text", async () => {
  await assert.rejects(
    readClassificationData(join(BAD, "tsv_empty")),
    rejectsWith(/tsv_empty\/test\.tsv" has no examples/),
  );
  await assert.rejects(
    readClassificationData(join(BAD, "lm_oov")),
    rejectsWith(/no train file .*train\.tsv/),
  );
  await assert.rejects(
    readClassificationFiles({
      train: join(BAD, "tsv_unknown_label", "train.tsv"),
      test: join(BAD, "nothing.tsv"),
    }),
    rejectsWith(/nothing\.tsv" does not exist/),
  );
  const dir = await tempDataset({
    "train.tsv": "pos\ta\npos\tb\n",
    "test.tsv": "pos\t...\n",
    "other.tsv": "pos\ta\nneg\t<br />\n",
  });
  try {
    await assert.rejects(
      readClassificationData(dir),
      rejectsWith(/only the label "pos"/),
    );
    await assert.rejects(
      readClassificationFiles({
        train: join(dir, "other.tsv"),
        test: join(dir, "test.tsv"),
      }),
      rejectsWith(/other\.tsv:2: the text has no words/),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("holdOut splits a random share off, disjoint, complete and reproducible", () => {
  const n = 41;
  const split: ClassificationSplit = {
    texts: Array.from({ length: n }, (_, i) => Int32Array.of(i + 2)),
    labels: Int32Array.from({ length: n }, (_, i) => i % 2),
  };
  const { kept, heldOut } = holdOut(split, 0.1, new Rng(3));
  assert.equal(heldOut.texts.length, 4);
  assert.equal(kept.texts.length, n - 4);
  const ids = (s: ClassificationSplit) => s.texts.map((t) => t[0]);
  assert.deepEqual([...ids(kept), ...ids(heldOut)].sort((a, b) => a - b), ids(split));
  // Labels travel with their texts.
  for (const s of [kept, heldOut]) {
    s.texts.forEach((t, k) => assert.equal(s.labels[k], (t[0] - 2) % 2));
  }
  assert.deepEqual(ids(holdOut(split, 0.1, new Rng(3)).heldOut), ids(heldOut));
  assert.notDeepEqual(ids(holdOut(split, 0.1, new Rng(4)).heldOut), ids(heldOut));
  assert.equal(holdOut(split, 0, new Rng(1)).heldOut.texts.length, 1);
  assert.throws(() =>
    holdOut({ texts: [Int32Array.of(1)], labels: Int32Array.of(0) }, 0.5, new Rng(1))
  );
});

Deno.test("a header row is skipped with a note when it names its columns", async () => {
  const dir = await tempDataset({
    "train.tsv": "Label\tText\npos\tgood\nneg\tbad\npos\tfine\nneg\tawful\n",
    "test.tsv": "sentiment\treview\npos\tgood\n",
  });
  try {
    const data = await readClassificationData(dir);
    assert.deepEqual(data.labels, ["neg", "pos"]);
    assert.deepEqual(data.labelCounts, [2, 2]);
    assert.equal(data.test.labels.length, 1);
    assert.deepEqual(data.notes, [
      `${join(dir, "train.tsv")}:1: skipped the header row "Label<TAB>Text"`,
      `${join(dir, "test.tsv")}:1: skipped the header row "sentiment<TAB>review"`,
    ]);
    // A class that happens to be called "label" repeats, so it is data, not a header.
    await Deno.writeTextFile(join(dir, "train.tsv"), "label\ta\nother\tb\nlabel\tc\nother\td\n");
    await Deno.writeTextFile(join(dir, "test.tsv"), "label\ta\n");
    const classes = await readClassificationData(dir);
    assert.deepEqual(classes.labels, ["label", "other"]);
    assert.deepEqual(classes.notes, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("errors: an unnamed header row is refused as a one-example class, with the fix", async () => {
  const dir = await tempDataset({
    "train.tsv": "stance\ttweet\npos\tgood\nneg\tbad\npos\tfine\nneg\tawful\n",
    "test.tsv": "pos\tgood\n",
  });
  try {
    await assert.rejects(
      readClassificationData(dir),
      rejectsWith(
        /train\.tsv:1: class "stance" has 1 example in the training data \(classes: neg 2, pos 2, stance 1\), fewer than the 2 a class needs; if line 1 is a header row, delete it/,
      ),
    );
    await Deno.writeTextFile(
      join(dir, "train.tsv"),
      "pos\tgood\nneg\tbad\npos\tfine\nneg\tawful\n",
    );
    await Deno.writeTextFile(join(dir, "test.tsv"), "stance\ttweet\npos\tgood\n");
    await assert.rejects(
      readClassificationData(dir),
      rejectsWith(
        /test\.tsv:1: label "stance" does not occur .*; if line 1 is a header row, delete it/,
      ),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("errors: a class with one example, and a label differing only in case", async () => {
  const dir = await tempDataset({
    "train.tsv": "pos\tgood\nneg\tbad\npos\tfine\nneutral\tso so\nneg\tawful\n",
    "test.tsv": "pos\tgood\n",
  });
  try {
    await assert.rejects(
      readClassificationData(dir),
      rejectsWith(
        /train\.tsv:4: class "neutral" has 1 example .*\(classes: neg 2, neutral 1, pos 2\).*add examples of "neutral" or correct its label/,
      ),
    );
    await Deno.writeTextFile(
      join(dir, "train.tsv"),
      "pos\tgood\nneg\tbad\npos\tfine\nPos\tnice\nneg\tawful\npos\tgreat\n",
    );
    await assert.rejects(
      readClassificationData(dir),
      rejectsWith(
        /train\.tsv:4: class "Pos" \(1 example\) differs from class "pos" \(3 examples\) only in case or punctuation; correct the label to "pos"/,
      ),
    );
    await Deno.writeTextFile(
      join(dir, "train.tsv"),
      "pos\tgood\nneg\tbad\npos\tfine\nneg\tawful\n",
    );
    await Deno.writeTextFile(join(dir, "test.tsv"), "pos\tgood\nNeg\tbad\n");
    await assert.rejects(
      readClassificationData(dir),
      rejectsWith(/test\.tsv:2: label "Neg" does not occur .*; did you mean "neg"\?/),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the summary line lists each split's size and the classes with their counts", async () => {
  const data = await readClassificationData(join(FIXTURES, "sentiment"));
  const half = data.train.texts.length / 2;
  assert.equal(
    describeClassificationData(data),
    `${join(FIXTURES, "sentiment", "train.tsv")}: train ${data.train.texts.length}, valid ${
      data.valid!.texts.length
    }, test ${data.test.texts.length} texts; 2 classes (train: neg ${half}, pos ${half})`,
  );
});

Deno.test("classification text splits on ASCII whitespace only (fixture with U+FEFF and NBSP)", async () => {
  const data = await readClassificationData(join(FIXTURES, "unicode_space"));
  const words = (ids: Int32Array) => [...ids].map((id) => data.vocab.decode(id));
  assert.deepEqual(words(data.train.texts[0]), ["great", "\u00a0", "film"]);
  assert.deepEqual(words(data.train.texts[1]), ["good", "\ufeff", "fun"]);
  assert.deepEqual(words(data.train.texts[3]), ["bad", "\u2009", "film"]);
});
