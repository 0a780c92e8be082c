import assert from "node:assert/strict";
import { allocateNonzeros, sparseParams } from "../../src/core/density.ts";
import { initMasks, initParams, scaleByDensity } from "../../src/core/init.ts";
import { countActive } from "../../src/core/mask.ts";
import { Rng } from "../../src/core/rng.ts";
import { type LanguageModelConfig, paramSpecs, sizeOf } from "../../src/spec/config.ts";

function randomConfig(rng: Rng): LanguageModelConfig {
  return {
    kind: "lm",
    cell: "lstm",
    vocabSize: 5 + rng.int(60),
    embedSize: 1 + rng.int(20),
    hiddenSize: 1 + rng.int(20),
    layers: 1 + rng.int(3),
    dropout: 0,
  };
}

Deno.test("initMasks gives every sparse parameter exactly its allocation", () => {
  const rng = new Rng(41);
  for (let trial = 0; trial < 100; trial++) {
    const specs = paramSpecs(randomConfig(rng));
    const options = {
      method: (["uniform", "er", "erk"] as const)[rng.int(3)],
      target: { sparsity: rng.next() * 0.99 },
      sparseEmbedding: rng.next() < 0.5,
      sparseDecoder: rng.next() < 0.5,
    };
    const masks = initMasks(specs, options, new Rng(trial));
    const sparse = sparseParams(specs, options);
    const allocation = allocateNonzeros(sparse, options.target, options.method);
    assert.deepEqual([...masks.keys()], sparse.map((s) => s.name));
    for (const layer of allocation) {
      const mask = masks.get(layer.name)!;
      assert.equal(mask.length, layer.size);
      assert.equal(countActive(mask), layer.nonzeros);
    }
    for (const spec of specs) {
      if (spec.role === "bias") assert.equal(masks.has(spec.name), false);
      if (masks.has(spec.name)) {
        assert.equal(masks.get(spec.name)!.length, sizeOf(spec.shape));
      }
    }
  }
});

Deno.test("initMasks is deterministic given the seed", () => {
  const specs = paramSpecs(randomConfig(new Rng(5)));
  const options = { method: "er" as const, target: { sparsity: 0.8 } };
  const a = initMasks(specs, options, new Rng(9));
  const b = initMasks(specs, options, new Rng(9));
  const c = initMasks(specs, options, new Rng(10));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

Deno.test("fan-in init scales each masked parameter by 1/sqrt(density) and leaves the rest", () => {
  const config = randomConfig(new Rng(7));
  const specs = paramSpecs(config);
  const dense = initParams(config, new Rng(3));
  const scaled = initParams(config, new Rng(3));
  const masks = initMasks(specs, {
    method: "uniform",
    target: { sparsity: 0.75 },
    sparseEmbedding: true,
    sparseDecoder: false,
  }, new Rng(5));
  scaleByDensity(scaled, masks);
  for (const spec of specs) {
    const mask = masks.get(spec.name);
    const factor = mask ? Math.sqrt(mask.length / countActive(mask)) : 1;
    const { data } = scaled[spec.name];
    for (let i = 0; i < data.length; i++) {
      assert.equal(data[i], Math.fround(dense[spec.name].data[i] * factor), spec.name);
    }
  }
  assert.ok(masks.size > 0);
});

Deno.test("normal-embedding init draws the embedding from N(0, 1)", () => {
  const config = { ...randomConfig(new Rng(8)), vocabSize: 400, embedSize: 50 };
  const { data } = initParams(config, new Rng(4), "normal-embedding").embedding;
  const mean = data.reduce((a, b) => a + b, 0) / data.length;
  const variance = data.reduce((a, b) => a + (b - mean) ** 2, 0) / data.length;
  assert.ok(Math.abs(mean) < 0.03, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 0.05, `variance ${variance}`);
  assert.ok(data.some((v) => Math.abs(v) > 2.5), "no tail: not a normal draw");
});
