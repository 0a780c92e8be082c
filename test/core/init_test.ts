import assert from "node:assert/strict";
import { allocateNonzeros, sparseParams } from "../../src/core/density.ts";
import { initMasks } from "../../src/core/init.ts";
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
