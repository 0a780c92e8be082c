import assert from "node:assert/strict";
import { growersByName } from "../../src/core/grow.ts";
import { countActive, randomMask, zeroAt } from "../../src/core/mask.ts";
import { magnitudePrune, prunersByName } from "../../src/core/prune.ts";
import { redistributorsByName } from "../../src/core/redistribute.ts";
import { Rng } from "../../src/core/rng.ts";
import { type TopologyLayer, updateTopology } from "../../src/core/topology.ts";
import { UserError } from "../../src/spec/errors.ts";

function randomLayers(rng: Rng): TopologyLayer[] {
  const count = 1 + rng.int(4);
  return Array.from({ length: count }, (_, l) => {
    const size = 1 + rng.int(600);
    const mask = randomMask(size, rng.int(size + 1), rng);
    const dense = () => new Float32Array(size).map(() => rng.normal());
    const weights = dense().map((w, i) => (mask[i] ? w : 0));
    return { name: `layer${l}`, weights, mask, gradient: dense(), momentum: dense() };
  });
}

/** Perturbs active weights and dense statistics, as a training step would. */
function train(layers: TopologyLayer[], rng: Rng) {
  for (const layer of layers) {
    for (let i = 0; i < layer.mask.length; i++) {
      if (layer.mask[i]) layer.weights[i] += 0.1 * rng.normal();
      layer.gradient![i] = rng.normal();
      layer.momentum![i] = 0.9 * layer.momentum![i] + layer.gradient![i];
    }
  }
}

Deno.test("every strategy combination keeps exact nonzero counts over many updates", () => {
  const rng = new Rng(81);
  for (const [pruneName, prune] of Object.entries(prunersByName)) {
    for (const [growName, grow] of Object.entries(growersByName)) {
      for (const [redistName, redistribute] of Object.entries(redistributorsByName)) {
        for (let trial = 0; trial < 8; trial++) {
          const layers = randomLayers(rng);
          const totalBefore = layers.reduce((a, l) => a + countActive(l.mask), 0);
          for (let update = 0; update < 4; update++) {
            const before = layers.map((l) => ({
              mask: l.mask.slice(),
              weights: l.weights.slice(),
            }));
            const pruneRate = rng.next();
            const report = updateTopology(layers, { pruneRate, prune, grow, redistribute, rng });
            const label = `${pruneName}/${growName}/${redistName}`;
            report.layers.forEach((r, l) => {
              const { mask, weights } = layers[l];
              const nnz = countActive(before[l].mask);
              assert.equal(r.activeBefore, nnz, label);
              assert.equal(r.activeAfter, countActive(mask), label);
              assert.equal(
                r.pruned.length,
                Math.min(Math.round(pruneRate * nnz), mask.length - nnz),
                label,
              );
              if (redistName === "none") assert.equal(r.activeAfter, nnz, label);
              for (const i of r.pruned) {
                assert.equal(before[l].mask[i], 1, label);
                assert.equal(mask[i], 0, label);
                assert.equal(weights[i], 0, label);
              }
              for (const i of r.grown) {
                assert.equal(before[l].mask[i], 0, `${label} regrew an old slot`);
                assert.equal(mask[i], 1, label);
                assert.equal(weights[i], 0, label);
              }
              // Everything else is untouched, and masked weights are zero.
              const changed = new Set([...r.pruned, ...r.grown]);
              for (let i = 0; i < mask.length; i++) {
                if (!changed.has(i)) {
                  assert.equal(mask[i], before[l].mask[i], label);
                  assert.equal(weights[i], before[l].weights[i], label);
                }
                if (!mask[i]) assert.equal(weights[i], 0, label);
              }
            });
            const total = layers.reduce((a, l) => a + countActive(l.mask), 0);
            assert.equal(total, totalBefore, label);
            train(layers, rng);
          }
        }
      }
    }
  }
});

Deno.test("magnitude pruning in an update removes the smallest active weights", () => {
  const rng = new Rng(82);
  for (let trial = 0; trial < 50; trial++) {
    const layers = randomLayers(rng);
    const before = layers.map((l) => ({ mask: l.mask.slice(), weights: l.weights.slice() }));
    const report = updateTopology(layers, {
      pruneRate: 0.3,
      prune: magnitudePrune,
      grow: growersByName.random,
      redistribute: redistributorsByName.none,
      rng,
    });
    report.layers.forEach((r, l) => {
      const pruned = new Set(r.pruned);
      const largestPruned = Math.max(0, ...[...pruned].map((i) => Math.abs(before[l].weights[i])));
      for (let i = 0; i < before[l].mask.length; i++) {
        if (before[l].mask[i] && !pruned.has(i)) {
          assert.ok(Math.abs(before[l].weights[i]) >= largestPruned);
        }
      }
    });
  }
});

Deno.test("updates are deterministic given the seed", () => {
  const run = (seed: number) => {
    // Sparse enough that growth has a real choice among free positions.
    const init = new Rng(5);
    const layers = [100, 300].map((nonzeros, l) => {
      const mask = randomMask(1000, nonzeros, init);
      const weights = new Float32Array(1000).map((_, i) => (mask[i] ? init.normal() : 0));
      const momentum = new Float32Array(1000).map(() => init.normal() * (l + 1));
      return { name: `layer${l}`, weights, mask, momentum };
    });
    const rng = new Rng(seed);
    for (let update = 0; update < 3; update++) {
      updateTopology(layers, {
        pruneRate: 0.4,
        prune: magnitudePrune,
        grow: growersByName.random,
        redistribute: redistributorsByName.momentum,
        rng,
      });
    }
    return layers.map((l) => l.mask);
  };
  assert.deepEqual(run(1), run(1));
  assert.notDeepEqual(run(1), run(2));
});

Deno.test("the prune count is capped so growth has room before the update", () => {
  // 9 of 10 active and rate 1: only one position was free, so only one goes.
  const mask = new Uint8Array(10).fill(1);
  mask[4] = 0;
  const weights = new Float32Array(10).map((_, i) => (i === 4 ? 0 : i + 1));
  const report = updateTopology([{ name: "w", weights, mask }], {
    pruneRate: 1,
    prune: magnitudePrune,
    grow: growersByName.random,
    redistribute: redistributorsByName.none,
    rng: new Rng(0),
  });
  assert.deepEqual([...report.layers[0].pruned], [0]);
  assert.deepEqual([...report.layers[0].grown], [4]);
  assert.equal(mask[0], 0);
  assert.equal(mask[4], 1);
});

Deno.test("the caller can zero optimizer state at the pruned positions", () => {
  const rng = new Rng(83);
  const [layer] = randomLayers(rng);
  const state = new Float32Array(layer.mask.length).fill(1);
  const report = updateTopology([layer], {
    pruneRate: 0.5,
    prune: magnitudePrune,
    grow: growersByName.random,
    redistribute: redistributorsByName.none,
    rng,
  });
  zeroAt(state, report.layers[0].pruned);
  for (const i of report.layers[0].pruned) assert.equal(state[i], 0);
  assert.equal(
    state.reduce((a, b) => a + b, 0),
    state.length - report.layers[0].pruned.length,
  );
});

Deno.test("a strategy that breaks its contract is caught", () => {
  const base = {
    pruneRate: 0.5,
    prune: magnitudePrune,
    grow: growersByName.random,
    redistribute: redistributorsByName.none,
    rng: new Rng(0),
  };
  const layer = () => ({
    name: "w",
    weights: new Float32Array([1, 2, 0, 0]),
    mask: new Uint8Array([1, 1, 0, 0]),
  });
  assert.throws(
    () => updateTopology([layer()], { ...base, grow: () => Int32Array.of(0) }),
    /grow picked position 0/,
  );
  assert.throws(
    () => updateTopology([layer()], { ...base, prune: () => Int32Array.of(2) }),
    /prune picked position 2/,
  );
  assert.throws(
    () => updateTopology([layer()], { ...base, prune: () => new Int32Array(0) }),
    /expected 1/,
  );
  assert.throws(() => updateTopology([layer()], { ...base, pruneRate: 2 }), UserError);
});
