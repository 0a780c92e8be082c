import assert from "node:assert/strict";
import { Rng } from "../../../src/core/rng.ts";
import { gruCooGates } from "../../../export/onnx/gru_scan.ts";

Deno.test("gruCooGates stores each nonzero of W and R once, in the Scan cell's rows", () => {
  const rng = new Rng(3);
  const I = 4, H = 3, G = 3 * H;
  const sparse = (n: number) =>
    Float32Array.from({ length: n }, () => rng.next() < 0.4 ? rng.uniform(-1, 1) : 0);
  const W = sparse(I * G), R = sparse(H * G);
  const coo = gruCooGates({ index: 0, inputSize: I, hidden: H, W, R, b: sparse(G), bR: sparse(H) });
  const nonzeros = (a: Float32Array) => a.filter((v) => v !== 0).length;
  assert.equal(coo.rows.length, nonzeros(W) + nonzeros(R));
  assert.ok(coo.rows.every((r, i) => i === 0 || r >= coo.rows[i - 1]), "rows ascending");
  coo.rows.forEach((row, i) => {
    const col = coo.cols[i];
    const fromX = col < I;
    // z and r read x and h; rows [2H, 3H) read only x (W_n), rows [3H, 4H) only h (R_n).
    if (row >= 2 * H && row < 3 * H) assert.ok(fromX);
    if (row >= 3 * H) assert.ok(!fromX);
    const keras = row < 3 * H ? row : row - H;
    const want = fromX ? W[col * G + keras] : R[(col - I) * G + keras];
    assert.equal(coo.values[i], want);
  });
});
