import assert from "node:assert/strict";
import {
  activeIndices,
  applyMask,
  countActive,
  inactiveIndices,
  randomMask,
  zeroAt,
} from "../../src/core/mask.ts";
import { Rng } from "../../src/core/rng.ts";

Deno.test("randomMask has exactly the requested number of ones", () => {
  const rng = new Rng(1);
  for (let trial = 0; trial < 200; trial++) {
    const size = rng.int(500);
    const nonzeros = rng.int(size + 1);
    const mask = randomMask(size, nonzeros, rng);
    assert.equal(mask.length, size);
    assert.equal(countActive(mask), nonzeros);
    assert.ok(mask.every((m) => m === 0 || m === 1));
  }
});

Deno.test("randomMask handles the empty and full extremes", () => {
  const rng = new Rng(2);
  assert.equal(countActive(randomMask(100, 0, rng)), 0);
  assert.equal(countActive(randomMask(100, 100, rng)), 100);
  assert.equal(randomMask(0, 0, rng).length, 0);
});

Deno.test("randomMask is deterministic given the seed and differs across seeds", () => {
  const a = randomMask(1000, 300, new Rng(7));
  const b = randomMask(1000, 300, new Rng(7));
  const c = randomMask(1000, 300, new Rng(8));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

Deno.test("randomMask spreads ones over all positions", () => {
  const rng = new Rng(3);
  const hits = new Uint32Array(10);
  for (let trial = 0; trial < 2000; trial++) {
    const mask = randomMask(10, 3, rng);
    for (let i = 0; i < 10; i++) hits[i] += mask[i];
  }
  // Each position is on with probability 0.3: 600 expected out of 2000.
  for (const h of hits) assert.ok(h > 500 && h < 700, `hits ${h}`);
});

Deno.test("randomMask rejects impossible counts", () => {
  const rng = new Rng(4);
  assert.throws(() => randomMask(10, 11, rng), RangeError);
  assert.throws(() => randomMask(10, -1, rng), RangeError);
  assert.throws(() => randomMask(10, 2.5, rng), RangeError);
});

Deno.test("applyMask zeroes exactly the masked-off weights", () => {
  const weights = new Float32Array([1, -2, 3, -4, 5]);
  const mask = new Uint8Array([1, 0, 1, 0, 0]);
  applyMask(weights, mask);
  assert.deepEqual([...weights], [1, 0, 3, 0, 0]);
  assert.throws(() => applyMask(new Float32Array(3), mask), RangeError);
});

Deno.test("zeroAt zeroes the given positions and nothing else", () => {
  const rng = new Rng(5);
  for (let trial = 0; trial < 50; trial++) {
    const size = 1 + rng.int(200);
    const state = new Float32Array(size).map(() => rng.normal() + 10);
    const mask = randomMask(size, rng.int(size + 1), rng);
    const indices = activeIndices(mask);
    zeroAt(state, indices);
    for (let i = 0; i < size; i++) {
      assert.equal(state[i] === 0, mask[i] === 1);
    }
  }
  assert.throws(() => zeroAt(new Float64Array(2), [2]), RangeError);
});

Deno.test("activeIndices and inactiveIndices partition the positions in order", () => {
  const rng = new Rng(6);
  const mask = randomMask(300, 120, rng);
  const on = activeIndices(mask);
  const off = inactiveIndices(mask);
  assert.equal(on.length, 120);
  assert.equal(off.length, 180);
  const all = [...on, ...off].sort((a, b) => a - b);
  assert.deepEqual(all, [...Array(300).keys()]);
  for (let k = 1; k < on.length; k++) assert.ok(on[k - 1] < on[k]);
  for (const i of on) assert.equal(mask[i], 1);
  for (const i of off) assert.equal(mask[i], 0);
});
