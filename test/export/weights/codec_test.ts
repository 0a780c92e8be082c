import assert from "node:assert/strict";
import { decodeMatrix, encodeMatrix } from "../../../export/weights/codec.ts";
import {
  type DenseMatrix,
  type MatrixParts,
  SPARSE_FORMATS,
} from "../../../export/weights/format.ts";
import { randomMask } from "../../../src/core/mask.ts";
import { Rng } from "../../../src/core/rng.ts";
import { decodeContainer, encodeContainer } from "../../../src/spec/container.ts";

interface Case {
  label: string;
  matrix: DenseMatrix;
  active: Uint8Array;
}

/**
 * A random matrix whose active entries are normal values, with an exact 0,
 * a -0 and a NaN among them when there is room, so that bit-exactness and
 * "stored but zero" are both exercised; inactive entries are 0.
 */
function randomCase(
  rng: Rng,
  label: string,
  rows: number,
  cols: number,
  sparsity: number,
  emptyRows: number[] = [],
): Case {
  const size = rows * cols;
  const active = randomMask(size, Math.round((1 - sparsity) * size), rng);
  for (const r of emptyRows) active.fill(0, r * cols, (r + 1) * cols);
  const data = new Float32Array(size);
  const activeAt: number[] = [];
  for (let i = 0; i < size; i++) {
    if (active[i] === 0) continue;
    data[i] = rng.normal();
    activeAt.push(i);
  }
  const specials = [0, -0, NaN];
  for (let k = 0; k < specials.length && activeAt.length > 3 * specials.length; k++) {
    data[activeAt[rng.int(activeAt.length)]] = specials[k];
  }
  return { label, matrix: { rows, cols, data }, active };
}

function cases(): Case[] {
  const rng = new Rng(2021);
  return [
    randomCase(rng, "1x1 stored", 1, 1, 0),
    randomCase(rng, "1x1 empty", 1, 1, 1),
    randomCase(rng, "one row", 1, 37, 0.5),
    randomCase(rng, "one column", 37, 1, 0.5),
    randomCase(rng, "empty rows", 9, 13, 0.5, [0, 4, 8]),
    randomCase(rng, "fully dense", 6, 5, 0),
    randomCase(rng, "fully empty", 4, 7, 1),
    randomCase(rng, "sparsity 0.5", 23, 41, 0.5),
    randomCase(rng, "sparsity 0.9", 40, 260, 0.9),
    randomCase(rng, "sparsity 0.95", 64, 256, 0.95),
    randomCase(rng, "sparsity 0.99", 50, 300, 0.99),
    randomCase(rng, "sparsity 0.999", 100, 400, 0.999),
    randomCase(rng, "uint32 column indices", 1, 70_000, 0.99),
    randomCase(rng, "uint16 row indices", 300, 3, 0.7),
  ];
}

/** Round-trips parts through container bytes, as a file would. */
function throughContainer(parts: MatrixParts): MatrixParts {
  const bytes = encodeContainer({ metadata: {}, tensors: parts });
  return decodeContainer(bytes, "test").tensors;
}

function bits(data: Float32Array): Uint32Array {
  return new Uint32Array(data.buffer, data.byteOffset, data.length);
}

Deno.test("every format reproduces random matrices bit for bit", () => {
  for (const { label, matrix, active } of cases()) {
    const expected = matrix.data.map((v, i) => active[i] ? v : 0);
    let stored = 0;
    for (const flag of active) stored += flag;
    for (const format of SPARSE_FORMATS) {
      const parts = throughContainer(encodeMatrix(format, matrix, active));
      const ctx = { source: "test", name: label };
      const decoded = decodeMatrix(format, parts, matrix.rows, matrix.cols, ctx);
      assert.deepEqual(bits(decoded.data), bits(expected), `${format}, ${label}: values`);
      assert.deepEqual(decoded.active, active, `${format}, ${label}: active entries`);
      const values = parts.values.data.length;
      if (format === "ell") assert.ok(values >= stored, `${format}, ${label}: ${values} slots`);
      else assert.equal(values, stored, `${format}, ${label}: values length`);
    }
  }
});

Deno.test("encoders store exactly the active entries, whatever the inactive values", () => {
  const rng = new Rng(7);
  const { matrix, active } = randomCase(rng, "garbage", 12, 17, 0.8);
  const noisy = matrix.data.map((v, i) => active[i] ? v : 1 + rng.next());
  for (const format of SPARSE_FORMATS) {
    const parts = encodeMatrix(format, { ...matrix, data: noisy }, active);
    const decoded = decodeMatrix(format, parts, 12, 17, { source: "test", name: "m" });
    for (let i = 0; i < noisy.length; i++) {
      if (active[i] === 0) assert.equal(decoded.data[i], 0, `${format}: entry ${i}`);
      else assert.ok(Object.is(decoded.data[i], noisy[i]), `${format}: entry ${i}`);
    }
  }
});

Deno.test("index parts use the narrowest type the dimension allows", () => {
  const rng = new Rng(3);
  const narrow = randomCase(rng, "narrow", 10, 200, 0.5);
  const wide = randomCase(rng, "wide", 10, 300, 0.5);
  for (const format of ["csr", "coo", "ell"] as const) {
    assert.equal(encodeMatrix(format, narrow.matrix, narrow.active).col_indices.dtype, "uint8");
    assert.equal(encodeMatrix(format, wide.matrix, wide.active).col_indices.dtype, "uint16");
  }
});
