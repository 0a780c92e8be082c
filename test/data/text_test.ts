import assert from "node:assert/strict";
import { UserError } from "../../src/spec/errors.ts";
import {
  DEFAULT_TEXT_SETTINGS,
  parseTextSettings,
  splitWords,
  tokenize,
} from "../../src/data/text.ts";

Deno.test("tokenize lowercases, drops <br /> and splits off punctuation", () => {
  assert.deepEqual(
    tokenize("Great film!<br /><br />I didn't like the END, though..."),
    [
      "great",
      "film",
      "!",
      "i",
      "didn't",
      "like",
      "the",
      "end",
      ",",
      "though",
      ".",
      ".",
      ".",
    ],
  );
});

Deno.test("tokenize keeps accented words and numbers whole", () => {
  assert.deepEqual(tokenize("Café 1984 was well-made"), [
    "café",
    "1984",
    "was",
    "well",
    "-",
    "made",
  ]);
  assert.deepEqual(tokenize("   "), []);
});

Deno.test("settings switch lowercasing and break removal off", () => {
  const settings = { scheme: "words", lowercase: false, htmlBreaks: false } as const;
  assert.deepEqual(tokenize("A<br/>B", settings), ["A", "<", "br", "/", ">", "B"]);
});

Deno.test("settings round-trip through JSON and bad ones are rejected", () => {
  const saved = JSON.parse(JSON.stringify(DEFAULT_TEXT_SETTINGS));
  assert.deepEqual(parseTextSettings(saved), DEFAULT_TEXT_SETTINGS);
  assert.throws(() => parseTextSettings(null), UserError);
  assert.throws(
    () => parseTextSettings({ ...saved, scheme: "bpe" }),
    /unknown tokenizer scheme "bpe"/,
  );
  assert.throws(() => parseTextSettings({ ...saved, lowercase: "yes" }), UserError);
});

Deno.test("only ASCII whitespace separates: U+FEFF and Unicode spaces are text", () => {
  assert.deepEqual(splitWords(" a\u00a0b\t\ufeff c\u2009d\v\fe\r\n"), [
    "a\u00a0b",
    "\ufeff",
    "c\u2009d",
    "e",
  ]);
  // The classification tokenizer: such a character is not a word character,
  // so it is a token of its own, like punctuation.
  assert.deepEqual(tokenize("great\u00a0film \ufeff fun"), [
    "great",
    "\u00a0",
    "film",
    "\ufeff",
    "fun",
  ]);
  assert.deepEqual(tokenize("a<br\u00a0/>b", { ...DEFAULT_TEXT_SETTINGS }), [
    "a",
    "<",
    "br",
    "\u00a0",
    "/",
    ">",
    "b",
  ]);
});
