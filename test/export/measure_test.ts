import assert from "node:assert/strict";
import {
  measureInChild,
  type Measurement,
  measureModel,
  type MeasureRequest,
} from "../../export/measure.ts";
import { buildOnnxModel } from "../../export/onnx_model.ts";
import type { LanguageModelConfig } from "../../src/spec/config.ts";
import { randomWeights } from "./helpers.ts";

const LM: LanguageModelConfig = {
  kind: "lm",
  cell: "lstm",
  vocabSize: 10,
  embedSize: 4,
  hiddenSize: 6,
  layers: 1,
  dropout: 0,
};

const REQUEST: MeasureRequest = {
  kind: "lm",
  vocabSize: 10,
  layers: 1,
  hidden: 6,
  steps: 5,
  batches: [1, 3],
  minRuns: 3,
  minMs: 10,
};

/**
 * What measure.ts promises about memory, whatever else runs: on Linux three
 * positive readings, the peak (VmHWM, a high-water mark) at least each
 * reading taken before it; elsewhere none. Resident memory itself can shrink
 * when the kernel reclaims pages under load, so no ratio of two readings is
 * asserted.
 */
function assertMemoryFigures(m: Measurement): void {
  const figures = [m.baseRssBytes, m.rssBytes, m.peakRssBytes];
  if (Deno.build.os !== "linux") {
    assert.ok(figures.every(Number.isNaN), `${figures}`);
    return;
  }
  assert.ok(figures.every((bytes) => Number.isFinite(bytes) && bytes > 0), `${figures}`);
  assert.ok(m.peakRssBytes >= m.rssBytes && m.peakRssBytes >= m.baseRssBytes, `${figures}`);
}

Deno.test("a model is measured in this process and in a child, with the same output", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/model.onnx`;
    await Deno.writeFile(path, buildOnnxModel(LM, randomWeights(LM, 0.5, 1)));
    const here = await measureModel(path, { ...REQUEST, outputPath: `${dir}/here.bin` });
    const child = await measureInChild(path, { ...REQUEST, outputPath: `${dir}/child.bin` });
    for (const m of [here, child]) {
      assert.ok(m.loadMs > 0);
      assert.deepEqual(Object.keys(m.latencyMs), ["1", "3"]);
      assert.ok(m.latencyMs[1] > 0 && m.latencyMs[3] > 0);
      assertMemoryFigures(m);
    }
    // The first batch size's logits, [T=5, B=1, V=10], written by both.
    const a = await Deno.readFile(`${dir}/here.bin`);
    assert.equal(a.length, 5 * 10 * 4);
    assert.deepEqual(a, await Deno.readFile(`${dir}/child.bin`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a child that cannot load the model reports why", async () => {
  await assert.rejects(measureInChild("/nonexistent/model.onnx", REQUEST), /measuring .* failed/);
});
