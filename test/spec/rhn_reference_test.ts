/** The RHN's parameter layout, its float64 reference step, its FLOPs and its settings. */
import assert from "node:assert/strict";
import { configFromFlags, trainCommand } from "../../cli/train.ts";
import { initParams, RHN_TRANSFORM_BIAS } from "../../src/core/init.ts";
import { inferenceFlops } from "../../src/core/flops.ts";
import { Rng } from "../../src/core/rng.ts";
import { type LanguageModelConfig, paramSpecs, sizeOf } from "../../src/spec/config.ts";
import type { HostParams } from "../../src/spec/params.ts";
import { referenceLmForward } from "../../src/spec/reference.ts";
import { validateConfig } from "../../src/train/config.ts";
import { settingChanges } from "../../src/train/resume.ts";

const MODEL: LanguageModelConfig = {
  kind: "lm",
  cell: "rhn",
  depth: 2,
  vocabSize: 2,
  embedSize: 1,
  hiddenSize: 1,
  layers: 1,
  dropout: 0,
};

Deno.test("an RHN layer has one input matrix and an R and a bias per micro-layer", () => {
  const specs = paramSpecs({ ...MODEL, depth: 3, embedSize: 4, hiddenSize: 5, layers: 2 });
  assert.deepEqual(
    specs.map((s) => `${s.name} [${s.shape}] ${s.role}`),
    [
      "embedding [2,4] embedding",
      "rhn.0.W [4,10] gate",
      "rhn.0.R.0 [5,10] gate",
      "rhn.0.b.0 [10] bias",
      "rhn.0.R.1 [5,10] gate",
      "rhn.0.b.1 [10] bias",
      "rhn.0.R.2 [5,10] gate",
      "rhn.0.b.2 [10] bias",
      "rhn.1.W [5,10] gate",
      "rhn.1.R.0 [5,10] gate",
      "rhn.1.b.0 [10] bias",
      "rhn.1.R.1 [5,10] gate",
      "rhn.1.b.1 [10] bias",
      "rhn.1.R.2 [5,10] gate",
      "rhn.1.b.2 [10] bias",
      "decoder.W [5,2] decoder",
      "decoder.b [2] bias",
    ],
  );
  assert.ok(specs.every((s) => !s.name.startsWith("rhn.") || s.gates === 2));
  // Without --depth, the paper's 10 micro-layers.
  const { depth: _, ...noDepth } = MODEL;
  assert.equal(paramSpecs(noDepth).filter((s) => s.name.startsWith("rhn.0.R.")).length, 10);
});

Deno.test("the reference RHN step follows Zilly et al.'s equations, worked by hand", () => {
  const w = (data: number[]) => ({ shape: [data.length], data: Float32Array.from(data) });
  const params: HostParams = {
    embedding: { shape: [2, 1], data: Float32Array.from([0.5, -1]) },
    "rhn.0.W": { shape: [1, 2], data: Float32Array.from([2, 1]) },
    "rhn.0.R.0": { shape: [1, 2], data: Float32Array.from([0.5, -0.5]) },
    "rhn.0.b.0": w([0.1, 0.2]),
    "rhn.0.R.1": { shape: [1, 2], data: Float32Array.from([-1, 0.25]) },
    "rhn.0.b.1": w([0, -1]),
    "decoder.W": { shape: [1, 2], data: Float32Array.from([1, -1]) },
    "decoder.b": w([0, 0]),
  };
  const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
  const micro = (s: number, zh: number, zt: number) => {
    const t = sigmoid(zt);
    return Math.tanh(zh) * t + s * (1 - t);
  };
  let s = 0.3;
  const expected: number[] = [];
  for (const x of [0.5, -1]) {
    s = micro(s, 2 * x + 0.5 * s + 0.1, x - 0.5 * s + 0.2);
    s = micro(s, -s, 0.25 * s - 1);
    expected.push(s);
  }
  const out = referenceLmForward(MODEL, params, [[0], [1]], {
    h: Float32Array.from([0.3]),
    c: Float32Array.from([0]),
  });
  assert.ok(Math.abs(out.state.h[0] - expected[1]) < 1e-6, `${out.state.h[0]} vs ${expected[1]}`);
  // decoder: logits = [s, −s]
  assert.ok(Math.abs(out.logits[0] - expected[0]) < 1e-6);
  assert.ok(Math.abs(out.logits[3] + expected[1]) < 1e-6);
  assert.equal(out.state.c[0], 0);
});

Deno.test("fresh RHN weights open with the transform gates mostly carrying", () => {
  const model = { ...MODEL, depth: 3, hiddenSize: 4 };
  const params = initParams(model, new Rng(1));
  for (let k = 0; k < 3; k++) {
    const b = params[`rhn.0.b.${k}`].data;
    assert.deepEqual([...b], [0, 0, 0, 0, ...Array(4).fill(RHN_TRANSFORM_BIAS)]);
  }
});

Deno.test("RHN inference FLOPs count every micro-layer's product and elementwise math", () => {
  const model = { ...MODEL, depth: 3, vocabSize: 10, embedSize: 4, hiddenSize: 5 };
  const flops = inferenceFlops(model);
  const term = (name: string) => flops.terms.find((t) => t.name === name)!.perToken;
  assert.equal(term("rhn.0.W"), 2 * 4 * 10);
  for (let k = 0; k < 3; k++) assert.equal(term(`rhn.0.R.${k}`), 2 * 5 * 10);
  assert.equal(term("rhn.0.cell.0"), 10 * 5);
  assert.equal(term("rhn.0.cell.2"), 8 * 5);
  const dense = paramSpecs(model).filter((s) => s.role !== "bias" && s.role !== "embedding")
    .reduce((n, s) => n + 2 * sizeOf(s.shape), 0);
  assert.equal(flops.perToken, dense + (10 + 8 + 8) * 5 + 10);
});

Deno.test("--depth defaults to 10 for --cell rhn, is refused for an LSTM and guards resumes", () => {
  const parse = (...args: string[]) =>
    configFromFlags(trainCommand().parse(args, { from: "user" }).opts());
  const rhn = parse("--cell", "rhn");
  assert.equal(rhn.model.depth, 10);
  assert.equal(parse("--cell", "rhn", "--depth", "3").model.depth, 3);
  // An LSTM's record has no depth, so runs from before --depth resume unchanged.
  assert.ok(!("depth" in parse().model));
  assert.throws(() => validateConfig(parse("--depth", "3")), /--depth .*--cell rhn; drop it/);
  assert.throws(() => validateConfig(parse("--cell", "rhn", "--depth", "0")), /--depth must be/);
  assert.deepEqual(settingChanges(rhn, { ...rhn, model: { ...rhn.model, depth: 5 } }), [
    "--depth was 10, now 5",
  ]);
});
