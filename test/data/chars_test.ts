import assert from "node:assert/strict";
import { bitsPerCharacter, charLanguageModelData, charTokens } from "../../src/data/chars.ts";
import { UNK } from "../../src/data/vocab.ts";

Deno.test("chars: every character is a token, spaces and newlines included; \\r\\n is one", () => {
  assert.deepEqual(charTokens("a b\r\nc😀"), ["a", " ", "b", "\n", "c", "😀"]);
});

Deno.test("chars: text round-trips through the vocabulary", () => {
  const text = "the cat sat.\nthe mat, too!\n";
  const data = charLanguageModelData({ train: text, valid: "a cat\n" }, {
    train: "t",
    valid: "v",
  });
  assert.equal(Array.from(data.train, (id) => data.vocab.decode(id)).join(""), text);
  assert.equal(data.vocab.has(UNK), false);
  assert.equal(data.unknownWords.valid, 0);
});

Deno.test("chars: a character train lacks maps to <unk> and is counted", () => {
  const data = charLanguageModelData({ train: "abab", valid: "abz", test: "zz" }, {
    train: "t",
    valid: "v",
    test: "s",
  });
  assert.equal(data.vocab.has(UNK), true);
  assert.equal(data.unknownWords.valid, 1);
  assert.equal(data.unknownWords.test, 2);
  assert.equal(data.vocab.decode(data.valid[2]), UNK);
});

Deno.test("chars: bits per character is ln(perplexity) / ln 2", () => {
  for (const ppl of [1, 2, 3.7, 256]) {
    assert.ok(Math.abs(bitsPerCharacter(Math.log(ppl)) - Math.log2(ppl)) < 1e-12);
  }
});
