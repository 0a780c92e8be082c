import assert from "node:assert/strict";
import { countActive, randomMask } from "../../src/core/mask.ts";
import { magnitudePrune, prunersByName, setPrune } from "../../src/core/prune.ts";
import { Rng } from "../../src/core/rng.ts";

function randomLayer(rng: Rng) {
  const size = 1 + rng.int(400);
  const mask = randomMask(size, rng.int(size + 1), rng);
  // Rounding to a coarse grid makes ties common.
  const grid = rng.next() < 0.5 ? 0.25 : 1e-6;
  const weights = new Float32Array(size).map((_, i) =>
    mask[i] ? Math.round(rng.normal() / grid) * grid : 0
  );
  return { weights, mask, count: rng.int(countActive(mask) + 1) };
}

Deno.test("magnitudePrune drops exactly count active weights of smallest |w|", () => {
  const rng = new Rng(51);
  for (let trial = 0; trial < 300; trial++) {
    const { weights, mask, count } = randomLayer(rng);
    const dropped = magnitudePrune(weights, mask, count);
    assert.equal(dropped.length, count);
    const isDropped = new Uint8Array(mask.length);
    for (const i of dropped) {
      assert.equal(mask[i], 1);
      assert.equal(isDropped[i], 0, "an index appears twice");
      isDropped[i] = 1;
    }
    // No kept active weight is smaller than a dropped one; at equal
    // magnitude the dropped one has the lower index.
    for (const d of dropped) {
      for (let k = 0; k < mask.length; k++) {
        if (mask[k] === 0 || isDropped[k]) continue;
        const dw = Math.abs(weights[d]);
        const kw = Math.abs(weights[k]);
        assert.ok(dw < kw || (dw === kw && d < k), `kept ${k} before ${d}`);
      }
    }
  }
});

Deno.test("magnitudePrune does not change weights or mask", () => {
  const { weights, mask } = randomLayer(new Rng(52));
  const w = weights.slice();
  const m = mask.slice();
  magnitudePrune(weights, mask, Math.floor(countActive(mask) / 2));
  assert.deepEqual(weights, w);
  assert.deepEqual(mask, m);
});

Deno.test("setPrune removes the weights closest to zero on each side, proportionally", () => {
  const rng = new Rng(53);
  for (let trial = 0; trial < 300; trial++) {
    const { weights, mask, count } = randomLayer(rng);
    const dropped = setPrune(weights, mask, count);
    assert.equal(dropped.length, count);
    assert.equal(new Set(dropped).size, count);
    const negative = (w: number) => w < 0 || Object.is(w, -0);
    const side = (neg: boolean) =>
      [...mask.keys()].filter((i) => mask[i] === 1 && negative(weights[i]) === neg);
    for (const neg of [false, true]) {
      const all = side(neg);
      const gone = [...dropped].filter((i) => negative(weights[i]) === neg);
      const kept = all.filter((i) => !gone.includes(i));
      for (const d of gone) {
        assert.equal(mask[d], 1);
        for (const k of kept) {
          const dw = Math.abs(weights[d]);
          const kw = Math.abs(weights[k]);
          assert.ok(dw < kw || (dw === kw && d < k));
        }
      }
    }
    const positives = side(false).length;
    const active = countActive(mask);
    const fromPositive = [...dropped].filter((i) => !negative(weights[i])).length;
    if (active > 0) {
      // Within one of the proportional share, unless a side runs out.
      const share = (count * positives) / active;
      assert.ok(Math.abs(fromPositive - share) <= 1, `${fromPositive} vs ${share}`);
    }
  }
});

Deno.test("setPrune splits by sign counts on a hand example", () => {
  const weights = new Float32Array([0.5, -0.1, 0.2, -0.9, 0.05, 0.7, -0.3, 0.4]);
  const mask = new Uint8Array(8).fill(1);
  // 5 positive, 3 negative; 4 to drop: round(4·5/8) = 3 positive
  // (0.05, 0.2, 0.4) and 1 negative (-0.1).
  assert.deepEqual([...setPrune(weights, mask, 4)], [1, 2, 4, 7]);
});

Deno.test("pruners reject counts above the active count", () => {
  const weights = new Float32Array([1, 2, 3]);
  const mask = new Uint8Array([1, 0, 1]);
  for (const prune of Object.values(prunersByName)) {
    assert.throws(() => prune(weights, mask, 3), RangeError);
    assert.equal(prune(weights, mask, 0).length, 0);
  }
});
