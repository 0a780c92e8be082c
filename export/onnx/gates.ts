/**
 * Rearranging fused LSTM gate matrices between layouts.
 *
 * sparrow (like tfjs and Keras) stores `W` as `[inputs, 4H]` for `x @ W`,
 * gate blocks in the order i, f, c, o. Each consumer wants its own layout:
 *
 * - the ONNX `LSTM` op: `[4H, inputs]` rows, gates i, o, f, c;
 * - onnxruntime's `DynamicQuantizeLSTM`: `[inputs, 4H]` columns, gates i, o, f, c;
 * - sparrow's Scan cell: `[4H, inputs]` rows, gates i, f, o, c, so the three
 *   sigmoid gates are one contiguous block.
 *
 * An order lists, for each destination block, the Keras block it takes.
 *
 * @module
 */

/** Keras gate blocks, in ONNX's order i, o, f, c. */
export const ONNX_GATE_ORDER: readonly number[] = [0, 3, 1, 2];

/** Keras gate blocks in the Scan cell's order i, f, o, c (sigmoids first). */
export const SCAN_GATE_ORDER: readonly number[] = [0, 1, 3, 2];

/**
 * Keras `[inputs, 4H]` as `[4H, inputs]` rows (for `W @ x`), the gate blocks
 * rearranged by `order`.
 */
export function gateRows(
  keras: Float32Array,
  inputs: number,
  hidden: number,
  order: readonly number[],
): Float32Array {
  const G = 4 * hidden;
  const out = new Float32Array(G * inputs);
  for (let block = 0; block < 4; block++) {
    for (let j = 0; j < hidden; j++) {
      const row = (block * hidden + j) * inputs;
      const col = order[block] * hidden + j;
      for (let k = 0; k < inputs; k++) out[row + k] = keras[k * G + col];
    }
  }
  return out;
}

/** Keras `[inputs, 4H]` kept as columns, the gate blocks rearranged by `order`. */
export function gateColumns(
  keras: Float32Array,
  inputs: number,
  hidden: number,
  order: readonly number[],
): Float32Array {
  const G = 4 * hidden;
  const out = new Float32Array(G * inputs);
  for (let k = 0; k < inputs; k++) {
    for (let block = 0; block < 4; block++) {
      const from = k * G + order[block] * hidden;
      out.set(keras.subarray(from, from + hidden), k * G + block * hidden);
    }
  }
  return out;
}

/** A `[4H]` bias with its gate blocks rearranged by `order`. */
export function gateBias(
  keras: Float32Array,
  hidden: number,
  order: readonly number[],
): Float32Array {
  const out = new Float32Array(4 * hidden);
  for (let block = 0; block < 4; block++) {
    const from = order[block] * hidden;
    out.set(keras.subarray(from, from + hidden), block * hidden);
  }
  return out;
}
