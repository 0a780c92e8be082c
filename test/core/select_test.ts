import assert from "node:assert/strict";
import { Rng } from "../../src/core/rng.ts";
import { selectByMagnitude } from "../../src/core/select.ts";

/** The obvious reference: sort by (|v|, index) and take the first count. */
function reference(
  values: Float32Array,
  candidates: Int32Array,
  count: number,
  order: "smallest" | "largest",
): number[] {
  const sign = order === "smallest" ? 1 : -1;
  return [...candidates]
    .sort((a, b) => sign * (Math.abs(values[a]) - Math.abs(values[b])) || a - b)
    .slice(0, count)
    .sort((a, b) => a - b);
}

Deno.test("selectByMagnitude matches a full sort, ties included", () => {
  const rng = new Rng(11);
  for (let trial = 0; trial < 300; trial++) {
    const size = 1 + rng.int(300);
    // Few distinct values force many ties at the threshold.
    const distinct = 1 + rng.int(8);
    const values = new Float32Array(size).map(() =>
      (rng.int(distinct) - distinct / 2) * (trial % 2 === 0 ? 1 : 0.37)
    );
    const candidates = Int32Array.from(
      [...Array(size).keys()].filter(() => rng.next() < 0.7),
    );
    const count = rng.int(candidates.length + 1);
    for (const order of ["smallest", "largest"] as const) {
      const got = selectByMagnitude(values, candidates, count, order);
      assert.deepEqual([...got], reference(values, candidates, count, order));
    }
  }
});

Deno.test("selectByMagnitude separates values that share the high 16 bits", () => {
  // 1 and its float32 neighbours differ only in the low mantissa bits.
  const values = new Float32Array([1.0000002, 1, 1.0000001, 0.9999999]);
  const got = selectByMagnitude(values, Int32Array.of(0, 1, 2, 3), 2, "smallest");
  assert.deepEqual([...got], [1, 3]);
});

Deno.test("selectByMagnitude treats NaN as the last choice", () => {
  const values = new Float32Array([NaN, 5, -1, NaN]);
  const all = Int32Array.of(0, 1, 2, 3);
  assert.deepEqual([...selectByMagnitude(values, all, 1, "smallest")], [2]);
  assert.deepEqual([...selectByMagnitude(values, all, 1, "largest")], [1]);
  assert.deepEqual([...selectByMagnitude(values, all, 3, "largest")], [0, 1, 2]);
});

Deno.test("selectByMagnitude rejects impossible counts", () => {
  const values = new Float32Array(4);
  assert.throws(
    () => selectByMagnitude(values, Int32Array.of(0, 1), 3, "smallest"),
    RangeError,
  );
});
