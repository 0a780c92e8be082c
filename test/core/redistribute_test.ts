import assert from "node:assert/strict";
import {
  momentumRedistribution,
  noRedistribution,
  type RedistributeLayer,
  redistributorsByName,
} from "../../src/core/redistribute.ts";
import { Rng } from "../../src/core/rng.ts";

function randomCase(rng: Rng) {
  const n = 1 + rng.int(6);
  const layers: RedistributeLayer[] = [];
  const pruned: number[] = [];
  for (let l = 0; l < n; l++) {
    const size = 1 + rng.int(1000);
    const active = rng.int(size + 1);
    layers.push({
      active,
      size,
      meanMomentum: rng.next() < 0.2 ? 0 : rng.next() * (rng.next() < 0.1 ? 1000 : 1),
    });
    pruned.push(Math.min(Math.round(rng.next() * active), size - active));
  }
  return { layers, pruned, total: pruned.reduce((a, b) => a + b, 0) };
}

Deno.test("every redistribution conserves the total and respects free room", () => {
  const rng = new Rng(71);
  for (let trial = 0; trial < 500; trial++) {
    const { layers, pruned, total } = randomCase(rng);
    for (const [name, redistribute] of Object.entries(redistributorsByName)) {
      const grow = redistribute(layers, total, pruned);
      assert.equal(grow.length, layers.length, name);
      assert.equal(grow.reduce((a, b) => a + b, 0), total, name);
      grow.forEach((g, l) => {
        assert.ok(Number.isInteger(g) && g >= 0, name);
        assert.ok(g <= layers[l].size - layers[l].active, `${name} overfills ${l}`);
      });
    }
  }
});

Deno.test("none regrows what each layer pruned", () => {
  const layers = [{ active: 10, size: 100 }, { active: 50, size: 60 }];
  assert.deepEqual(noRedistribution(layers, 12, [5, 7]), [5, 7]);
  assert.throws(() => noRedistribution(layers, 13, [5, 7]), RangeError);
  assert.throws(() => noRedistribution(layers, 20, [5, 15]), RangeError);
});

Deno.test("momentum shares the total by mean momentum, capping full layers", () => {
  const layers = [
    { active: 10, size: 1000, meanMomentum: 3 },
    { active: 10, size: 1000, meanMomentum: 1 },
  ];
  assert.deepEqual(momentumRedistribution(layers, 40, [20, 20]), [30, 10]);
  // The first layer has room for 5 only: the rest goes to the second.
  const full = [{ ...layers[0], size: 15 }, layers[1]];
  assert.deepEqual(momentumRedistribution(full, 40, [5, 35]), [5, 35]);
});

Deno.test("momentum falls back to none when all momentum is zero, and needs it", () => {
  const layers = [
    { active: 10, size: 100, meanMomentum: 0 },
    { active: 10, size: 100, meanMomentum: 0 },
  ];
  assert.deepEqual(momentumRedistribution(layers, 9, [2, 7]), [2, 7]);
  assert.throws(
    () => momentumRedistribution([{ active: 1, size: 2 }], 1, [1]),
    /mean \|momentum\|/,
  );
});
