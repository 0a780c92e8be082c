import assert from "node:assert/strict";
import {
  gradientGrow,
  type GrowContext,
  growersByName,
  momentumGrow,
  randomGrow,
} from "../../src/core/grow.ts";
import { countActive, randomMask } from "../../src/core/mask.ts";
import { Rng } from "../../src/core/rng.ts";

/** A mask after pruning, and which positions were free before it. */
function randomContext(rng: Rng): GrowContext {
  const size = 1 + rng.int(400);
  const before = randomMask(size, rng.int(size + 1), rng);
  const mask = before.slice();
  for (let i = 0; i < size; i++) if (mask[i] && rng.next() < 0.3) mask[i] = 0;
  const eligible = before.map((m) => 1 - m);
  const count = rng.int(countActive(eligible) + 1);
  const scores = () => new Float32Array(size).map(() => Math.round(rng.normal() * 4) / 4);
  return { mask, eligible, count, rng, gradient: scores(), momentum: scores() };
}

Deno.test("every grower returns exactly count distinct eligible inactive positions", () => {
  const rng = new Rng(61);
  for (let trial = 0; trial < 200; trial++) {
    const context = randomContext(rng);
    for (const [name, grow] of Object.entries(growersByName)) {
      const grown = grow(context);
      assert.equal(grown.length, context.count, name);
      assert.equal(new Set(grown).size, context.count, name);
      for (const i of grown) {
        assert.equal(context.eligible[i], 1, `${name} grew an ineligible ${i}`);
        assert.equal(context.mask[i], 0, `${name} grew an active ${i}`);
      }
      for (let k = 1; k < grown.length; k++) assert.ok(grown[k - 1] < grown[k]);
    }
  }
});

Deno.test("gradient and momentum growth pick the largest |score|", () => {
  const rng = new Rng(62);
  for (let trial = 0; trial < 200; trial++) {
    const context = randomContext(rng);
    for (
      const [grow, scores] of [
        [gradientGrow, context.gradient!],
        [momentumGrow, context.momentum!],
      ] as const
    ) {
      const grown = new Set(grow(context));
      for (let k = 0; k < context.mask.length; k++) {
        if (!context.eligible[k] || context.mask[k] || grown.has(k)) continue;
        for (const g of grown) {
          const gs = Math.abs(scores[g]);
          const ks = Math.abs(scores[k]);
          assert.ok(gs > ks || (gs === ks && g < k));
        }
      }
    }
  }
});

Deno.test("randomGrow is deterministic and covers all eligible positions", () => {
  const mask = new Uint8Array(20);
  const eligible = new Uint8Array(20).fill(1);
  eligible[3] = 0;
  const a = randomGrow({ mask, eligible, count: 5, rng: new Rng(1) });
  const b = randomGrow({ mask, eligible, count: 5, rng: new Rng(1) });
  assert.deepEqual(a, b);
  const hits = new Uint32Array(20);
  const rng = new Rng(63);
  for (let trial = 0; trial < 1900; trial++) {
    for (const i of randomGrow({ mask, eligible, count: 5, rng })) hits[i]++;
  }
  // 5 of 19 eligible: each is grown with probability 5/19, 500 expected.
  assert.equal(hits[3], 0);
  for (let i = 0; i < 20; i++) {
    if (i !== 3) assert.ok(hits[i] > 400 && hits[i] < 600, `hits ${hits[i]}`);
  }
});

Deno.test("growth without its dense input is a clear error", () => {
  const base = {
    mask: new Uint8Array(4),
    eligible: new Uint8Array(4).fill(1),
    count: 1,
    rng: new Rng(0),
  };
  assert.throws(() => gradientGrow(base), /dense weight gradient/);
  assert.throws(() => momentumGrow(base), /momentum/);
});

Deno.test("growth beyond the free positions throws", () => {
  const context = {
    mask: new Uint8Array([0, 1, 0, 0]),
    eligible: new Uint8Array([1, 0, 0, 1]),
    count: 3,
    rng: new Rng(0),
    gradient: new Float32Array(4),
    momentum: new Float32Array(4),
  };
  for (const grow of Object.values(growersByName)) {
    assert.throws(() => grow(context), RangeError);
  }
});
