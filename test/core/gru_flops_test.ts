import assert from "node:assert/strict";
import { gruCellFlops, inferenceFlops, parameterReport } from "../../src/core/flops.ts";
import type { LanguageModelConfig } from "../../src/spec/config.ts";

/** The worked example of docs/flops.md, with a GRU. */
const tinyGru: LanguageModelConfig = {
  kind: "lm",
  cell: "gru",
  vocabSize: 10,
  embedSize: 4,
  hiddenSize: 3,
  layers: 1,
  dropout: 0,
};

Deno.test("a GRU's parameters: 3 gates per matrix and the candidate's recurrent bias", () => {
  const report = parameterReport(tinyGru, { "gru.0.W": 12, "gru.0.R": 9 });
  assert.deepEqual(report.params.map((p) => [p.name, p.size, p.nonzeros]), [
    ["embedding", 40, 40],
    ["gru.0.W", 36, 12],
    ["gru.0.R", 27, 9],
    ["gru.0.b", 9, 9],
    ["gru.0.bR", 3, 3],
    ["decoder.W", 30, 30],
    ["decoder.b", 10, 10],
  ]);
});

Deno.test("inference FLOPs of a GRU: gate products at the nonzeros and 14·H per step", () => {
  const flops = inferenceFlops(tinyGru, { "gru.0.W": 12, "gru.0.R": 9 });
  assert.equal(gruCellFlops(3), 4 * 3 + 4 * 3 + 3 * 3 + 3 * 3);
  assert.deepEqual(
    flops.terms.map((t) => [t.name, t.perToken, t.maskedDensePerToken]),
    [
      ["embedding", 0, 0],
      ["gru.0.W", 2 * 12, 2 * 36],
      ["gru.0.R", 2 * 9, 2 * 27],
      ["gru.0.cell", 14 * 3, 14 * 3],
      ["gru.0.bR", 0, 0],
      ["decoder.W", 2 * 30, 2 * 30],
      ["decoder.b", 10, 10],
    ],
  );
  assert.equal(flops.perToken, 24 + 18 + 42 + 60 + 10);
  assert.equal(inferenceFlops(tinyGru).perToken, 72 + 54 + 42 + 60 + 10);
});
