import assert from "node:assert/strict";
import { UserError } from "../../src/spec/errors.ts";
import { UNK, Vocabulary } from "../../src/data/vocab.ts";

const WORDS = "b a c a b d a e".split(" ");

Deno.test("vocabulary orders by descending count, ties by first occurrence", () => {
  const vocab = Vocabulary.build(WORDS);
  // a:3, b:2, then c, d, e once each in the order they first appear.
  assert.deepEqual(vocab.tokens, ["a", "b", "c", "d", "e"]);
  assert.equal(vocab.id("b"), 1);
  assert.equal(vocab.decode(4), "e");
  assert.equal(vocab.size, 5);
});

Deno.test("a vocabulary without <unk> is closed and names the unknown word", () => {
  const vocab = Vocabulary.build(WORDS);
  assert.equal(vocab.unkToken, null);
  assert.equal(vocab.unkId, -1);
  assert.equal(vocab.encode("c"), 2);
  assert.throws(
    () => vocab.encode("zebra", { file: "valid.txt", line: 7 }),
    (err: unknown) =>
      err instanceof UserError &&
      err.message.includes('"zebra"') &&
      err.message.startsWith("valid.txt:7:") &&
      err.message.includes("add it to the training text"),
  );
});

Deno.test("maxSize keeps the most frequent words and maps the rest to <unk>", () => {
  const vocab = Vocabulary.build(WORDS, { maxSize: 3 });
  assert.deepEqual(vocab.tokens, [UNK, "a", "b"]);
  assert.equal(vocab.encode("e"), vocab.unkId);
  assert.equal(vocab.encode("a"), 1);
});

Deno.test("minCount drops rare words and specials come first", () => {
  const vocab = Vocabulary.build(WORDS, {
    minCount: 2,
    specials: ["<pad>", UNK],
  });
  assert.deepEqual(vocab.tokens, ["<pad>", UNK, "a", "b"]);
  assert.equal(vocab.unkId, 1);
  assert.equal(vocab.encode("d"), 1);
});

Deno.test("a literal <unk> in the training text makes the vocabulary open", () => {
  const vocab = Vocabulary.build(["x", UNK, "x"]);
  assert.deepEqual(vocab.tokens, ["x", UNK]);
  assert.equal(vocab.encode("never-seen"), 1);
});

Deno.test("vocabulary round-trips through a plain string array", () => {
  const vocab = Vocabulary.build(WORDS, { maxSize: 4 });
  const saved = JSON.parse(JSON.stringify(vocab));
  assert.ok(Array.isArray(saved));
  const restored = Vocabulary.fromJSON(saved);
  assert.deepEqual(restored.tokens, vocab.tokens);
  assert.equal(restored.unkId, vocab.unkId);
});

Deno.test("corrupt saved vocabularies and bad options are user errors", () => {
  assert.throws(() => Vocabulary.fromJSON({ tokens: [] }), UserError);
  assert.throws(() => Vocabulary.fromJSON(["a", "a"]), /appears twice/);
  assert.throws(() => Vocabulary.fromJSON([]), /empty/);
  assert.throws(() => Vocabulary.build(WORDS, { maxSize: 0 }), UserError);
  assert.throws(() => Vocabulary.build(WORDS, { minCount: 1.5 }), UserError);
  assert.throws(
    () => Vocabulary.build(WORDS, { maxSize: 2, specials: ["<pad>", UNK] }),
    /no room/,
  );
});
