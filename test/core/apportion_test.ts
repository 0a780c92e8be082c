import assert from "node:assert/strict";
import { apportion } from "../../src/core/apportion.ts";
import { Rng } from "../../src/core/rng.ts";

Deno.test("apportion hits the total exactly and respects every cap", () => {
  const rng = new Rng(21);
  for (let trial = 0; trial < 500; trial++) {
    const n = 1 + rng.int(8);
    const caps = Array.from({ length: n }, () => rng.int(1000));
    const weights = Array.from(
      { length: n },
      () => (rng.next() < 0.2 ? 0 : rng.next() * 100),
    );
    const capacity = caps.reduce((a, b) => a + b, 0);
    const total = rng.int(capacity + 1);
    const parts = apportion(total, weights, caps);
    assert.equal(parts.reduce((a, b) => a + b, 0), total);
    parts.forEach((p, l) => {
      assert.ok(Number.isInteger(p) && p >= 0 && p <= caps[l], `part ${p}`);
    });
  }
});

Deno.test("apportion is proportional when no cap binds", () => {
  assert.deepEqual(apportion(60, [1, 2, 3], [100, 100, 100]), [10, 20, 30]);
  // 10/3 each: the largest remainders tie, so the lower index gets the extra.
  assert.deepEqual(apportion(10, [1, 1, 1], [100, 100, 100]), [4, 3, 3]);
});

Deno.test("apportion gives the excess of a capped layer to the others", () => {
  // Shares would be 50/25/25, but the first layer holds only 10.
  assert.deepEqual(apportion(100, [2, 1, 1], [10, 100, 100]), [10, 45, 45]);
});

Deno.test("apportion falls back to free room when all weights are zero", () => {
  assert.deepEqual(apportion(30, [0, 0], [10, 20]), [10, 20]);
  assert.deepEqual(apportion(3, [0, 0], [10, 20]), [1, 2]);
});

Deno.test("apportion rejects totals above the capacity and bad weights", () => {
  assert.throws(() => apportion(11, [1], [10]), RangeError);
  assert.throws(() => apportion(1, [-1], [10]), RangeError);
  assert.throws(() => apportion(1, [NaN], [10]), RangeError);
  assert.throws(() => apportion(1, [1, 1], [10]), RangeError);
});
