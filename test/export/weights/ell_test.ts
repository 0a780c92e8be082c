import assert from "node:assert/strict";
import { decodeEll, encodeEll } from "../../../export/weights/ell.ts";
import { type MatrixParts, tensor } from "../../../export/weights/format.ts";
import { UserError } from "../../../src/spec/errors.ts";

const ctx = { source: "w.bin", name: "embedding" };

// [[0, 1.5, 0, 0], [0, 0, 0*, 0], [2, 0, 0, -3]] where 0* is an active entry holding 0.
const matrix = {
  rows: 3,
  cols: 4,
  data: new Float32Array([0, 1.5, 0, 0, 0, 0, 0, 0, 2, 0, 0, -3]),
};
const active = new Uint8Array([0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1]);

Deno.test("encodeEll pads every row to the widest with value 0 and index 0", () => {
  const parts = encodeEll(matrix, active);
  assert.deepEqual(Object.keys(parts).sort(), ["col_indices", "row_nnz", "values"]);
  assert.deepEqual(parts.values.shape, [3, 2]);
  assert.deepEqual([...parts.values.data], [1.5, 0, 0, 0, 2, -3]);
  assert.deepEqual([...parts.col_indices.data], [1, 0, 2, 0, 0, 3]);
  assert.equal(parts.row_nnz.dtype, "uint32");
  assert.deepEqual([...parts.row_nnz.data], [1, 1, 2]);
});

Deno.test("decodeEll tells a real entry in column 0 from padding by row_nnz", () => {
  const decoded = decodeEll(encodeEll(matrix, active), 3, 4, ctx);
  assert.deepEqual([...decoded.data], [...matrix.data]);
  assert.deepEqual([...decoded.active], [...active]);
});

Deno.test("an ELL matrix with nothing stored has width 0", () => {
  const parts = encodeEll({ rows: 2, cols: 3, data: new Float32Array(6) }, new Uint8Array(6));
  assert.deepEqual(parts.values.shape, [2, 0]);
  const decoded = decodeEll(parts, 2, 3, ctx);
  assert.deepEqual([...decoded.active], [0, 0, 0, 0, 0, 0]);
});

function broken(edit: (parts: MatrixParts) => void): MatrixParts {
  const parts = encodeEll(matrix, active);
  edit(parts);
  return parts;
}

Deno.test("decodeEll rejects every structural inconsistency with a UserError naming the tensor", () => {
  const cases: [string, MatrixParts, string][] = [
    ["padding value", broken((p) => p.values.data[1] = 0.5), "embedding/values"],
    ["padding index", broken((p) => p.col_indices.data[3] = 1), "embedding/col_indices"],
    ["column out of range", broken((p) => p.col_indices.data[5] = 4), "embedding/col_indices"],
    ["duplicate column", broken((p) => p.col_indices.data[5] = 0), "embedding/col_indices"],
    ["row_nnz over width", broken((p) => p.row_nnz.data[0] = 3), "embedding/values"],
    ["row_nnz over cols", broken((p) => p.row_nnz.data[0] = 5), "embedding/row_nnz"],
    ["row_nnz under width", broken((p) => p.row_nnz.data[2] = 1), "embedding/values"],
    [
      "short row_nnz",
      broken((p) => {
        p.row_nnz = tensor("uint32", [2], new Uint32Array([1, 1]));
      }),
      "embedding/row_nnz",
    ],
    [
      "flat values",
      broken((p) => {
        p.values = tensor("float32", [6], p.values.data);
      }),
      "embedding/values",
    ],
    ["missing col_indices", broken((p) => delete p.col_indices), "embedding/col_indices"],
  ];
  for (const [label, parts, name] of cases) {
    assert.throws(() => decodeEll(parts, 3, 4, ctx), (e: Error) => {
      assert.ok(e instanceof UserError, `${label}: ${e}`);
      assert.ok(
        e.message.includes(`"${name}"`) && e.message.startsWith("w.bin"),
        `${label}: ${e.message}`,
      );
      return true;
    });
  }
});
