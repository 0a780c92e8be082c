/**
 * Symmetric int8 quantization of weight matrices, one scale per output
 * column, as onnxruntime's `DynamicQuantizeLSTM` takes them (zero point 0,
 * so a pruned weight stays exactly 0 and sparsity survives quantization).
 *
 * @module
 */

/** A quantized `[rows, cols]` matrix: `w ≈ codes * scales[col]`. */
export interface QuantizedColumns {
  /** Row-major int8 codes in [-127, 127]. */
  codes: Int8Array;
  /** One positive scale per column. */
  scales: Float32Array;
}

/**
 * Quantizes a row-major `[rows, cols]` matrix per column: each column's
 * largest |w| maps to 127. An all-zero column gets scale 1.
 */
export function quantizeColumns(
  data: Float32Array,
  rows: number,
  cols: number,
): QuantizedColumns {
  const scales = new Float32Array(cols).fill(0);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      scales[c] = Math.max(scales[c], Math.abs(data[r * cols + c]));
    }
  }
  for (let c = 0; c < cols; c++) scales[c] = scales[c] > 0 ? scales[c] / 127 : 1;
  const codes = new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const q = Math.round(data[r * cols + c] / scales[c]);
      codes[r * cols + c] = Math.max(-127, Math.min(127, q));
    }
  }
  return { codes, scales };
}

/** The largest |w − codes·scale| of a quantization: its weight error. */
export function quantizationError(
  data: Float32Array,
  quantized: QuantizedColumns,
  cols: number,
): number {
  let worst = 0;
  for (let i = 0; i < data.length; i++) {
    const back = quantized.codes[i] * quantized.scales[i % cols];
    worst = Math.max(worst, Math.abs(data[i] - back));
  }
  return worst;
}
