import assert from "node:assert/strict";
import { contiguousSplit, parseSplit, stratifiedSplit } from "../../src/data/split.ts";
import { UserError } from "../../src/spec/errors.ts";

const labels = [
  ...Array.from({ length: 60 }, () => "a"),
  ...Array.from({ length: 30 }, () => "b"),
  ...Array.from({ length: 10 }, () => "c"),
];

Deno.test("split: the same labels, fractions and seed give the same split", () => {
  const one = stratifiedSplit(labels, [0.8, 0.1, 0.1], 7);
  assert.deepEqual(stratifiedSplit(labels, [0.8, 0.1, 0.1], 7), one);
  assert.notDeepEqual(stratifiedSplit(labels, [0.8, 0.1, 0.1], 8), one);
});

Deno.test("split: every class keeps its share in every split, and nothing is lost", () => {
  const parts = stratifiedSplit(labels, [0.8, 0.1, 0.1], 1);
  const count = (ids: number[], label: string) => ids.filter((i) => labels[i] === label).length;
  assert.deepEqual(["a", "b", "c"].map((l) => count(parts.train, l)), [48, 24, 8]);
  assert.deepEqual(["a", "b", "c"].map((l) => count(parts.valid, l)), [6, 3, 1]);
  assert.deepEqual(["a", "b", "c"].map((l) => count(parts.test, l)), [6, 3, 1]);
  const all = [...parts.train, ...parts.valid, ...parts.test].sort((x, y) => x - y);
  assert.deepEqual(all, labels.map((_, i) => i));
  // Each split keeps the file's order.
  for (const ids of Object.values(parts)) assert.deepEqual(ids, [...ids].sort((x, y) => x - y));
});

Deno.test("split: a class of one example stays in train", () => {
  const parts = stratifiedSplit(["x", "y", "y", "y", "y"], [0.5, 0.25, 0.25], 3);
  assert.ok(parts.train.includes(0));
});

Deno.test("split: running text is cut in order", () => {
  assert.deepEqual(contiguousSplit(100, [0.8, 0.1, 0.1]), {
    train: [0, 80],
    valid: [80, 90],
    test: [90, 100],
  });
});

Deno.test("split: --split needs three fractions in (0, 1) that sum to 1", () => {
  assert.deepEqual(parseSplit("0.8, 0.1, 0.1"), [0.8, 0.1, 0.1]);
  for (const bad of ["0.8,0.2", "0.8,0.1,x", "0.8,0.3,0.1", "1,0,0", ""]) {
    assert.throws(() => parseSplit(bad), UserError, bad);
  }
});
