import assert from "node:assert/strict";
import { decodeCoo, encodeCoo } from "../../../export/weights/coo.ts";
import { type MatrixParts, tensor } from "../../../export/weights/format.ts";
import { UserError } from "../../../src/spec/errors.ts";

const ctx = { source: "w.bin", name: "decoder.W" };

// [[0, 1.5, 0, 0], [0, 0, 0*, 0], [2, 0, 0, -3]] where 0* is an active entry holding 0.
const matrix = {
  rows: 3,
  cols: 4,
  data: new Float32Array([0, 1.5, 0, 0, 0, 0, 0, 0, 2, 0, 0, -3]),
};
const active = new Uint8Array([0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1]);

Deno.test("encodeCoo lists entries in row-major order with their coordinates", () => {
  const parts = encodeCoo(matrix, active);
  assert.deepEqual(Object.keys(parts).sort(), ["col_indices", "row_indices", "values"]);
  assert.deepEqual([...parts.values.data], [1.5, 0, 2, -3]);
  assert.deepEqual([...parts.row_indices.data], [0, 1, 2, 2]);
  assert.deepEqual([...parts.col_indices.data], [1, 2, 0, 3]);
  assert.equal(parts.row_indices.dtype, "uint8");
});

Deno.test("encodeCoo sizes row and column indices separately", () => {
  const rows = 70000;
  const cols = 300;
  const flags = new Uint8Array(rows * cols);
  flags[rows * cols - 1] = 1;
  const parts = encodeCoo({ rows, cols, data: new Float32Array(rows * cols).fill(1) }, flags);
  assert.equal(parts.row_indices.dtype, "uint32");
  assert.equal(parts.col_indices.dtype, "uint16");
  assert.deepEqual([...parts.row_indices.data, ...parts.col_indices.data], [rows - 1, cols - 1]);
});

Deno.test("decodeCoo restores the values and the active entries", () => {
  const decoded = decodeCoo(encodeCoo(matrix, active), 3, 4, ctx);
  assert.deepEqual([...decoded.data], [...matrix.data]);
  assert.deepEqual([...decoded.active], [...active]);
});

function broken(edit: (parts: MatrixParts) => void): MatrixParts {
  const parts = encodeCoo(matrix, active);
  edit(parts);
  return parts;
}

Deno.test("decodeCoo rejects every structural inconsistency with a UserError naming the tensor", () => {
  const cases: [string, MatrixParts, string][] = [
    ["row out of range", broken((p) => p.row_indices.data[3] = 3), "decoder.W/row_indices"],
    ["column out of range", broken((p) => p.col_indices.data[0] = 4), "decoder.W/col_indices"],
    ["duplicate entry", broken((p) => p.col_indices.data[3] = 0), "decoder.W/row_indices"],
    ["rows out of order", broken((p) => p.row_indices.data[2] = 0), "decoder.W/row_indices"],
    [
      "short row_indices",
      broken((p) => {
        p.row_indices = tensor("uint8", [3], new Uint8Array([0, 1, 2]));
      }),
      "decoder.W/row_indices",
    ],
    ["missing col_indices", broken((p) => delete p.col_indices), "decoder.W/col_indices"],
    [
      "extra part",
      broken((p) => {
        p.row_ptr = tensor("uint32", [4], new Uint32Array(4));
      }),
      "decoder.W/row_ptr",
    ],
  ];
  for (const [label, parts, name] of cases) {
    assert.throws(() => decodeCoo(parts, 3, 4, ctx), (e: Error) => {
      assert.ok(e instanceof UserError, `${label}: ${e}`);
      assert.ok(
        e.message.includes(`"${name}"`) && e.message.startsWith("w.bin"),
        `${label}: ${e.message}`,
      );
      return true;
    });
  }
});
