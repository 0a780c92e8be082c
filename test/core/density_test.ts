import assert from "node:assert/strict";
import {
  allocateNonzeros,
  allocationSparsity,
  type DensityMethod,
  parseDensityMethod,
  type SparseLayerShape,
  sparseParams,
} from "../../src/core/density.ts";
import { Rng } from "../../src/core/rng.ts";
import { UserError } from "../../src/spec/errors.ts";
import { type ClassifierConfig, paramSpecs } from "../../src/spec/config.ts";

/** The ST-RNN paper's classifier: 20000x256 embedding, one LSTM of 256. */
const paperClassifier: ClassifierConfig = {
  kind: "classifier",
  cell: "lstm",
  vocabSize: 20000,
  embedSize: 256,
  hiddenSize: 256,
  layers: 1,
  numClasses: 2,
  dropout: 0,
};

function paperLayers(): SparseLayerShape[] {
  return sparseParams(paramSpecs(paperClassifier), { sparseEmbedding: true });
}

Deno.test("sparseParams keeps gates always, embedding/decoder on request, biases never", () => {
  const specs = paramSpecs({ ...paperClassifier, layers: 2 });
  const names = (options: Parameters<typeof sparseParams>[1]) =>
    sparseParams(specs, options).map((s) => s.name);
  assert.deepEqual(names({}), ["lstm.0.W", "lstm.0.R", "lstm.1.W", "lstm.1.R"]);
  assert.deepEqual(names({ sparseEmbedding: true, sparseDecoder: true }), [
    "embedding",
    "lstm.0.W",
    "lstm.0.R",
    "lstm.1.W",
    "lstm.1.R",
    "decoder.W",
  ]);
});

Deno.test("ER with ε=10 gives the paper's 243,520 of 5,644,288 (95.69%)", () => {
  const allocation = allocateNonzeros(paperLayers(), { epsilon: 10 }, "er");
  const size = allocation.reduce((a, l) => a + l.size, 0);
  const nonzeros = allocation.reduce((a, l) => a + l.nonzeros, 0);
  // Embedding: 10·(20000 + 256) = 202,560. Each of the eight 256x256 gate
  // matrices: 10·(256 + 256) = 5,120, so 40,960 in all.
  assert.deepEqual(allocation.map((l) => l.nonzeros), [202560, 20480, 20480]);
  assert.equal(size, 20000 * 256 + 8 * 256 * 256);
  assert.equal(size, 5644288);
  assert.equal(nonzeros, 243520);
  assert.equal((allocationSparsity(allocation) * 100).toFixed(2), "95.69");
});

Deno.test("ER with ε=2 gives the paper's 99.1% sparsity", () => {
  const allocation = allocateNonzeros(paperLayers(), { epsilon: 2 }, "er");
  // 2·20256 + 8·2·512 = 40,512 + 8,192.
  assert.equal(allocation.reduce((a, l) => a + l.nonzeros, 0), 48704);
  assert.equal((allocationSparsity(allocation) * 100).toFixed(1), "99.1");
});

Deno.test("ERK with ε treats the fused matrix as one variable", () => {
  const allocation = allocateNonzeros(paperLayers(), { epsilon: 10 }, "erk");
  // 10·(256 + 1024) for each fused [256, 1024] matrix.
  assert.deepEqual(allocation.map((l) => l.nonzeros), [202560, 12800, 12800]);
});

Deno.test("ε mode caps a gate matrix at full density", () => {
  const layers = [{ name: "tiny", shape: [4, 8], gates: 2 }];
  // Per gate [4, 4]: round(3·8) = 24 > 16, so each gate is dense.
  assert.equal(allocateNonzeros(layers, { epsilon: 3 }, "er")[0].nonzeros, 32);
  assert.equal(allocateNonzeros(layers, { epsilon: 1 }, "er")[0].nonzeros, 16);
});

function randomLayers(rng: Rng): SparseLayerShape[] {
  const count = 1 + rng.int(6);
  return Array.from({ length: count }, (_, l) => {
    const gates = rng.next() < 0.5 ? 4 : 1;
    return {
      name: `layer${l}`,
      shape: [1 + rng.int(300), gates * (1 + rng.int(100))],
      gates,
    };
  });
}

Deno.test("sparsity targets: er/erk hit the total exactly, uniform each matrix", () => {
  const rng = new Rng(31);
  for (let trial = 0; trial < 300; trial++) {
    const layers = randomLayers(rng);
    const sparsity = rng.next() < 0.1 ? 0 : rng.next() * 0.999;
    const sizes = layers.map((l) => l.shape[0] * l.shape[1]);
    const total = sizes.reduce((a, b) => a + b, 0);
    for (const method of ["uniform", "er", "erk"] as DensityMethod[]) {
      const allocation = allocateNonzeros(layers, { sparsity }, method);
      allocation.forEach((layer, l) => {
        assert.equal(layer.size, sizes[l]);
        assert.ok(Number.isInteger(layer.nonzeros));
        assert.ok(layer.nonzeros >= 0 && layer.nonzeros <= layer.size);
        if (method === "uniform") {
          assert.equal(layer.nonzeros, Math.round((1 - sparsity) * layer.size));
        }
      });
      if (method !== "uniform") {
        const sum = allocation.reduce((a, l) => a + l.nonzeros, 0);
        assert.equal(sum, Math.round((1 - sparsity) * total));
      }
    }
  }
});

Deno.test("ER in sparsity mode follows the ε·(n_in + n_out) shape", () => {
  // Two layers with no cap binding: nonzeros split 2·(10+10)·… vs (100+10).
  const layers = [
    { name: "a", shape: [10, 20], gates: 2 },
    { name: "b", shape: [100, 10], gates: 1 },
  ];
  const allocation = allocateNonzeros(layers, { sparsity: 0.85 }, "er");
  // Total 1200 entries, 180 nonzeros; weights 2·20 = 40 and 110, so
  // ε = 180/150 = 1.2: 48 and 132.
  assert.deepEqual(allocation.map((l) => l.nonzeros), [48, 132]);
});

Deno.test("ER in sparsity mode densifies small layers and re-solves ε", () => {
  const layers = [
    { name: "small", shape: [2, 2], gates: 1 },
    { name: "big", shape: [100, 100], gates: 1 },
  ];
  const allocation = allocateNonzeros(layers, { sparsity: 0.5 }, "er");
  // 10,004 entries, 5,002 nonzeros. First ε = 5002/(4 + 200) ≈ 24.5 gives
  // the small layer 98 > 4, so it is dense and the big one takes the rest.
  assert.deepEqual(allocation.map((l) => l.nonzeros), [4, 4998]);
});

Deno.test("bad targets and method names are user errors", () => {
  const layers = paperLayers();
  for (const sparsity of [-0.1, 1, 1.5, NaN]) {
    assert.throws(() => allocateNonzeros(layers, { sparsity }, "er"), UserError);
  }
  for (const epsilon of [0, -1, NaN]) {
    assert.throws(() => allocateNonzeros(layers, { epsilon }, "er"), UserError);
  }
  assert.throws(() => allocateNonzeros(layers, { epsilon: 1 }, "uniform"), UserError);
  assert.throws(() => parseDensityMethod("random"), UserError);
  assert.equal(parseDensityMethod("erk"), "erk");
});

Deno.test("allocateNonzeros rejects vectors and gate counts that do not divide", () => {
  assert.throws(
    () => allocateNonzeros([{ name: "b", shape: [8], gates: 1 }], { sparsity: 0.5 }, "er"),
    RangeError,
  );
  assert.throws(
    () => allocateNonzeros([{ name: "w", shape: [4, 6], gates: 4 }], { sparsity: 0.5 }, "er"),
    RangeError,
  );
});
