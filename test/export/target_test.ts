import assert from "node:assert/strict";
import {
  chooseTarget,
  formatName,
  formatTargetTable,
  TARGET_FORMATS,
  targetMetadata,
} from "../../export/target.ts";
import type { ClassifierConfig } from "../../src/spec/config.ts";
import { UserError } from "../../src/spec/errors.ts";
import { randomWeights } from "./helpers.ts";

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

Deno.test("the candidate list covers every storage with the op and every compute mode", () => {
  const names = TARGET_FORMATS.map(formatName);
  for (
    const name of [
      "op/dense/fp32",
      "op/packed/fp32",
      "op/bitmask/fp16",
      "sparse-scan/auto/fp32",
      "int8/auto/fp32",
    ]
  ) {
    assert.ok(names.includes(name), name);
  }
  assert.equal(new Set(names).size, names.length);
});

Deno.test("auto target measures candidates and picks an eligible one by the rule", async () => {
  const weights = randomWeights(CLASSIFIER, 0.1, 1, 0.4);
  const formats = [
    { storage: "dense", compute: "op", values: "fp32" },
    { storage: "packed", compute: "op", values: "fp32" },
    { storage: "auto", compute: "int8", values: "fp32" },
  ] as const;
  const choice = await chooseTarget(CLASSIFIER, weights, { formats, rounds: 1, steps: 8 });
  assert.equal(choice.candidates.length, 3);
  for (const c of choice.candidates) {
    assert.ok(c.bytes > 0 && c.loadMs > 0 && c.latencyMs > 0 && c.peakRssBytes > 0);
  }
  const [dense, packed, int8] = choice.candidates;
  assert.ok(dense.eligible && packed.eligible);
  // int8 is approximate: over the default 1e-4, so it may not win.
  assert.equal(int8.eligible, int8.maxAbsDiff <= 1e-4);
  assert.ok(choice.chosen.eligible);
  // The rule: the smallest file among those within 5% of the fastest eligible one.
  const eligible = choice.candidates.filter((c) => c.eligible);
  const fastest = Math.min(...eligible.map((c) => c.latencyMs));
  const tied = eligible.filter((c) => c.latencyMs <= fastest * 1.05);
  assert.ok(tied.includes(choice.chosen));
  assert.equal(choice.chosen.bytes, Math.min(...tied.map((c) => c.bytes)));
  assert.equal(choice.verified.build.bytes.length, choice.chosen.bytes);
  const table = formatTargetTable(choice);
  assert.match(table, /<- chosen/);
  assert.equal(table.split("\n").length, 1 + 3 + 1);
  const meta = targetMetadata(choice);
  assert.equal(meta.chosen, formatName(choice.chosen.format));
  assert.equal(meta.candidates.length, 3);
});

Deno.test("auto target with nothing eligible refuses and says how to proceed", async () => {
  const weights = randomWeights(CLASSIFIER, 0.5, 2, 1);
  await assert.rejects(
    chooseTarget(CLASSIFIER, weights, {
      formats: [{ storage: "auto", compute: "int8", values: "fp32" }],
      tolerance: 1e-9,
      rounds: 1,
    }),
    (error: Error) => error instanceof UserError && /--tolerance/.test(error.message),
  );
});
