import assert from "node:assert/strict";
import {
  float16RoundingError,
  fromFloat16Bits,
  toFloat16Array,
  toFloat16Bits,
} from "../../../export/onnx/float16.ts";

Deno.test("exact float16 values keep their bit patterns", () => {
  const cases: [number, number][] = [
    [0, 0x0000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [65504, 0x7bff],
    [2 ** -14, 0x0400],
    [2 ** -24, 0x0001],
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
  ];
  for (const [value, bits] of cases) {
    assert.equal(toFloat16Bits(value), bits, `${value}`);
    assert.equal(fromFloat16Bits(bits), value, `${bits.toString(16)}`);
  }
  assert.equal(toFloat16Bits(-0), 0x8000);
  assert.ok(Number.isNaN(fromFloat16Bits(toFloat16Bits(NaN))));
});

Deno.test("rounding is to nearest, ties to even", () => {
  // Between 1 and 1 + 2^-10 the midpoint ties to the even mantissa (1).
  assert.equal(toFloat16Bits(1 + 2 ** -11), 0x3c00);
  // Above the midpoint it rounds up; the next tie rounds up to even.
  assert.equal(toFloat16Bits(1 + 2 ** -11 + 2 ** -20), 0x3c01);
  assert.equal(toFloat16Bits(1 + 3 * 2 ** -11), 0x3c02);
  // Overflow past the largest finite value becomes Infinity.
  assert.equal(toFloat16Bits(65520), 0x7c00);
  assert.equal(toFloat16Bits(65519), 0x7bff);
  // Subnormals: half the smallest one ties to zero, just above rounds up.
  assert.equal(toFloat16Bits(2 ** -25), 0x0000);
  assert.equal(toFloat16Bits(2 ** -25 * 1.5), 0x0001);
});

Deno.test("round trips are within half a float16 ulp", () => {
  let seed = 3;
  for (let i = 0; i < 10000; i++) {
    seed = (seed * 48271) % 2147483647;
    const value = Math.fround((seed / 2147483647 - 0.5) * 8);
    const back = fromFloat16Bits(toFloat16Bits(value));
    // Subnormals share the smallest normal's ulp.
    const ulp = 2 ** (Math.max(Math.floor(Math.log2(Math.abs(value))), -14) - 10);
    assert.ok(Math.abs(back - value) <= ulp / 2 + 1e-12, `${value} -> ${back}`);
  }
});

Deno.test("arrays convert element-wise and report their worst rounding", () => {
  const data = new Float32Array([0.1, -3, 1000.3]);
  const half = toFloat16Array(data);
  assert.deepEqual(Array.from(half), Array.from(data, toFloat16Bits));
  const error = float16RoundingError(data);
  const worst = Math.max(...Array.from(data, (v, i) => Math.abs(v - fromFloat16Bits(half[i]))));
  assert.equal(error, worst);
  assert.ok(error > 0 && error <= 0.25);
  assert.equal(float16RoundingError(new Float32Array([1, 2, 0.5])), 0);
});
