import assert from "node:assert/strict";
import { sliceBatch, slices } from "../../src/engine/pool.ts";

Deno.test("slices cover a batch once, as evenly as threads allow, never empty", () => {
  for (const [batch, threads] of [[4, 1], [4, 3], [5, 2], [2, 8], [64, 2], [1, 1]]) {
    const parts = slices(batch, threads);
    assert.equal(parts.length, Math.min(batch, threads));
    let next = 0;
    for (const p of parts) {
      assert.equal(p.offset, next);
      assert.equal(p.batch, batch);
      assert.ok(p.size >= Math.floor(batch / parts.length) && p.size >= 1);
      next += p.size;
    }
    assert.equal(next, batch);
  }
});

Deno.test("a slice of a time-major batch holds its sequences' tokens, targets and lengths", () => {
  const T = 3, B = 4;
  const tokens = Int32Array.from({ length: T * B }, (_, i) => i);
  const lm = sliceBatch(
    { tokens, T, B, targets: tokens.map((x) => 100 + x) },
    { offset: 1, size: 2, batch: B },
    true,
  );
  assert.deepEqual([...lm.tokens], [1, 2, 5, 6, 9, 10]);
  assert.deepEqual([...lm.targets], [101, 102, 105, 106, 109, 110]);
  assert.equal(lm.B, 2);
  const cls = sliceBatch(
    { tokens, T, B, targets: Int32Array.of(0, 1, 0, 1), lengths: Int32Array.of(3, 1, 2, 3) },
    { offset: 2, size: 2, batch: B },
    false,
  );
  assert.deepEqual([...cls.tokens], [2, 3, 6, 7, 10, 11]);
  assert.deepEqual([...cls.targets], [0, 1]);
  assert.deepEqual([...cls.lengths!], [2, 3]);
});
