import assert from "node:assert/strict";
import {
  addConfusion,
  classificationMetrics,
  countConfusion,
  formatClassificationMetrics,
  formatLanguageModelMetrics,
  languageModelMetrics,
  tokenCharacters,
} from "../../src/core/metrics.ts";

const close = (actual: number, expected: number) =>
  assert.ok(Math.abs(actual - expected) < 1e-12, `${actual} vs ${expected}`);

Deno.test("three classes, counted by hand", () => {
  const actual = [0, 0, 0, 1, 1, 2, 2, 2, 2];
  const predicted = [0, 0, 1, 1, 2, 2, 2, 0, 2];
  const confusion = countConfusion(actual, predicted, 3);
  assert.deepEqual(confusion, [[2, 1, 0], [0, 1, 1], [1, 0, 3]]);
  const m = classificationMetrics(confusion, ["a", "b", "c"]);
  assert.equal(m.count, 9);
  close(m.accuracy, 6 / 9);
  // a: 2 of 3 predicted a are a, 2 of 3 a found; b: 1 of 2, 1 of 2; c: 3 of 4, 3 of 4.
  close(m.classes[0].precision, 2 / 3);
  close(m.classes[0].recall, 2 / 3);
  close(m.classes[1].f1, 1 / 2);
  close(m.classes[2].f1, 3 / 4);
  assert.deepEqual(m.classes.map((c) => c.support), [3, 2, 4]);
  assert.deepEqual(m.classes.map((c) => c.predicted), [3, 2, 4]);
  close(m.macroF1, 23 / 36);
});

Deno.test("precision and recall differ: binary, counted by hand", () => {
  const m = classificationMetrics(countConfusion([1, 1, 1, 0], [1, 1, 0, 0], 2), ["neg", "pos"]);
  assert.deepEqual(m.confusion, [[1, 0], [1, 2]]);
  close(m.accuracy, 3 / 4);
  // neg: precision 1/2, recall 1, F1 2/3; pos: precision 1, recall 2/3, F1 4/5.
  close(m.classes[0].precision, 1 / 2);
  close(m.classes[0].recall, 1);
  close(m.classes[0].f1, 2 / 3);
  close(m.classes[1].precision, 1);
  close(m.classes[1].recall, 2 / 3);
  close(m.classes[1].f1, 4 / 5);
  close(m.macroF1, 11 / 15);
});

Deno.test("a class never predicted and never seen scores 0, not NaN", () => {
  const m = classificationMetrics(countConfusion([0, 0, 1], [0, 0, 0], 3), ["a", "b", "c"]);
  assert.deepEqual(m.classes.map((c) => [c.precision, c.recall, c.f1]), [
    [2 / 3, 1, 0.8],
    [0, 0, 0],
    [0, 0, 0],
  ]);
  close(m.macroF1, 0.8 / 3);
});

Deno.test("confusion matrices of parts add up to the whole's", () => {
  const whole = countConfusion([0, 1, 1, 0], [1, 1, 0, 0], 2);
  const parts = addConfusion(countConfusion([0, 1], [1, 1], 2), countConfusion([1, 0], [0, 0], 2));
  assert.deepEqual(parts, whole);
});

Deno.test("the text report names every class and the matrix", () => {
  const m = classificationMetrics([[5, 1], [2, 7]], ["neg", "pos"]);
  const text = formatClassificationMetrics(m, "test: ");
  assert.match(text, /^test: accuracy 80\.00% \(15 examples\), macro-F1 0\.7964/);
  assert.match(text, /\n {2}neg +0\.7143 +0\.8333 +0\.7692 +6\n/);
  assert.match(text, /\n {2}pos +2 +7$/);
});

Deno.test("perplexity and bits per character, by hand", () => {
  // "the cat\n": the(4) cat(4) <eos>(0) = 8 characters.
  const characters = ["the", "cat", "<eos>"].reduce((n, w) => n + tokenCharacters(w, "<eos>"), 0);
  assert.equal(characters, 8);
  const m = languageModelMetrics({ nats: 3 * Math.LN2 * 2, tokens: 3, characters, unknown: 1 });
  close(m.loss, 2 * Math.LN2);
  close(m.perplexity, 4);
  close(m.bitsPerCharacter, 6 / 8);
  assert.match(
    formatLanguageModelMetrics(m),
    /^perplexity 4\.000 over 3 tokens, 0\.7500 bits per character \(8 characters\), 1 unknown tokens \(33\.33%\)$/,
  );
});
