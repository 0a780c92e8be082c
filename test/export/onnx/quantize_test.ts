import assert from "node:assert/strict";
import { quantizationError, quantizeColumns } from "../../../export/onnx/quantize.ts";

Deno.test("each column's largest magnitude maps to ±127", () => {
  // 2 rows x 3 columns.
  const data = new Float32Array([1, -0.5, 0, -2, 0.25, 0]);
  const { codes, scales } = quantizeColumns(data, 2, 3);
  assert.deepEqual(Array.from(scales), [Math.fround(2 / 127), Math.fround(0.5 / 127), 1]);
  assert.deepEqual(Array.from(codes), [64, -127, 0, -127, 64, 0]);
});

Deno.test("zeros stay exactly zero, so sparsity survives", () => {
  const data = new Float32Array(100).map((_, i) => i % 7 === 0 ? (i - 50) / 10 : 0);
  const { codes } = quantizeColumns(data, 10, 10);
  data.forEach((v, i) => {
    if (v === 0) assert.equal(codes[i], 0);
  });
});

Deno.test("the quantization error is at most half a step per column", () => {
  const data = new Float32Array(60).map((_, i) => Math.sin(i * 1.7) * (1 + (i % 3)));
  const q = quantizeColumns(data, 20, 3);
  const error = quantizationError(data, q, 3);
  assert.ok(error > 0);
  assert.ok(error <= Math.max(...q.scales) / 2 + 1e-7, `${error}`);
});
