import assert from "node:assert/strict";
import {
  gateBias,
  gateColumns,
  gateRows,
  ONNX_GATE_ORDER,
  SCAN_GATE_ORDER,
} from "../../../export/onnx/gates.ts";

// inputs 2, hidden 1: Keras columns are the gates i, f, c, o.
const keras = new Float32Array([
  1,
  2,
  3,
  4, // input 0: i f c o
  5,
  6,
  7,
  8, // input 1
]);

Deno.test("gateRows transposes and reorders to ONNX's i, o, f, c", () => {
  assert.deepEqual(Array.from(gateRows(keras, 2, 1, ONNX_GATE_ORDER)), [1, 5, 4, 8, 2, 6, 3, 7]);
});

Deno.test("gateRows puts the Scan cell's sigmoid gates first: i, f, o, c", () => {
  assert.deepEqual(Array.from(gateRows(keras, 2, 1, SCAN_GATE_ORDER)), [1, 5, 2, 6, 4, 8, 3, 7]);
});

Deno.test("gateColumns keeps the layout and reorders blocks of H columns", () => {
  // hidden 2: each gate block is two columns wide.
  const wide = new Float32Array(16).map((_, i) => i);
  assert.deepEqual(
    Array.from(gateColumns(wide, 2, 2, ONNX_GATE_ORDER)),
    [0, 1, 6, 7, 2, 3, 4, 5, 8, 9, 14, 15, 10, 11, 12, 13],
  );
});

Deno.test("gateBias reorders whole gate blocks", () => {
  const bias = new Float32Array([10, 11, 20, 21, 30, 31, 40, 41]);
  assert.deepEqual(Array.from(gateBias(bias, 2, ONNX_GATE_ORDER)), [
    10,
    11,
    40,
    41,
    20,
    21,
    30,
    31,
  ]);
  assert.deepEqual(Array.from(gateBias(bias, 2, SCAN_GATE_ORDER)), [
    10,
    11,
    20,
    21,
    40,
    41,
    30,
    31,
  ]);
});
