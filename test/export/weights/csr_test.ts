import assert from "node:assert/strict";
import { decodeCsr, encodeCsr } from "../../../export/weights/csr.ts";
import { type MatrixParts, tensor } from "../../../export/weights/format.ts";
import { UserError } from "../../../src/spec/errors.ts";

const ctx = { source: "w.bin", name: "lstm.0.W" };

// [[0, 1.5, 0, 0], [0, 0*, 0, 0], [2, 0, 0, -3]] where 0* is an active entry holding 0.
const matrix = {
  rows: 3,
  cols: 4,
  data: new Float32Array([0, 1.5, 0, 0, 0, 0, 0, 0, 2, 0, 0, -3]),
};
const active = new Uint8Array([0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1]);

Deno.test("encodeCsr lays out values, column indices and row pointers as documented", () => {
  const parts = encodeCsr(matrix, active);
  assert.deepEqual(Object.keys(parts).sort(), ["col_indices", "row_ptr", "values"]);
  assert.deepEqual([...parts.values.data], [1.5, 0, 2, -3]);
  assert.equal(parts.col_indices.dtype, "uint8");
  assert.deepEqual([...parts.col_indices.data], [1, 2, 0, 3]);
  assert.equal(parts.row_ptr.dtype, "uint32");
  assert.deepEqual(parts.row_ptr.shape, [4]);
  assert.deepEqual([...parts.row_ptr.data], [0, 1, 2, 4]);
});

Deno.test("decodeCsr restores the values and the active entries", () => {
  const decoded = decodeCsr(encodeCsr(matrix, active), 3, 4, ctx);
  assert.deepEqual([...decoded.data], [...matrix.data]);
  assert.deepEqual([...decoded.active], [...active]);
});

Deno.test("encodeCsr widens column indices past 256 columns", () => {
  const cols = 300;
  const wide = new Uint8Array(cols);
  wide[299] = 1;
  const parts = encodeCsr({ rows: 1, cols, data: new Float32Array(cols).fill(0.5) }, wide);
  assert.equal(parts.col_indices.dtype, "uint16");
  assert.deepEqual([...parts.col_indices.data], [299]);
});

function broken(edit: (parts: MatrixParts) => void): MatrixParts {
  const parts = encodeCsr(matrix, active);
  edit(parts);
  return parts;
}

Deno.test("decodeCsr rejects every structural inconsistency with a UserError naming the tensor", () => {
  const cases: [string, MatrixParts, string][] = [
    ["row_ptr start", broken((p) => p.row_ptr.data[0] = 1), "lstm.0.W/row_ptr"],
    ["row_ptr end", broken((p) => p.row_ptr.data[3] = 3), "lstm.0.W/row_ptr"],
    ["row_ptr past nnz", broken((p) => p.row_ptr.data[1] = 9), "lstm.0.W/row_ptr"],
    ["row_ptr decreasing", broken((p) => p.row_ptr.data[2] = 0), "lstm.0.W/row_ptr"],
    ["column out of range", broken((p) => p.col_indices.data[3] = 4), "lstm.0.W/col_indices"],
    ["duplicate column", broken((p) => p.col_indices.data[3] = 0), "lstm.0.W/col_indices"],
    [
      "unsorted columns",
      broken((p) => {
        p.col_indices.data[2] = 3;
        p.col_indices.data[3] = 0;
      }),
      "lstm.0.W/col_indices",
    ],
    [
      "short col_indices",
      broken((p) => {
        p.col_indices = tensor("uint8", [3], new Uint8Array([1, 2, 0]));
      }),
      "lstm.0.W/col_indices",
    ],
    [
      "short row_ptr",
      broken((p) => {
        p.row_ptr = tensor("uint32", [3], new Uint32Array([0, 1, 2]));
      }),
      "lstm.0.W/row_ptr",
    ],
    ["missing row_ptr", broken((p) => delete p.row_ptr), "lstm.0.W/row_ptr"],
    [
      "float index",
      broken((p) => {
        p.col_indices = tensor("float32", [4], new Float32Array([1, 2, 0, 3]));
      }),
      "lstm.0.W/col_indices",
    ],
    [
      "extra part",
      broken((p) => {
        p.mask = tensor("uint8", [2], new Uint8Array(2));
      }),
      "lstm.0.W/mask",
    ],
  ];
  for (const [label, parts, name] of cases) {
    assert.throws(() => decodeCsr(parts, 3, 4, ctx), (e: Error) => {
      assert.ok(e instanceof UserError, `${label}: ${e}`);
      assert.ok(
        e.message.includes(`"${name}"`) && e.message.startsWith("w.bin"),
        `${label}: ${e.message}`,
      );
      return true;
    });
  }
});

Deno.test("decodeCsr checks the parts against the shape it is given", () => {
  const parts = encodeCsr(matrix, active);
  assert.throws(() => decodeCsr(parts, 4, 4, ctx), /row_ptr" has shape/);
  assert.throws(() => decodeCsr(parts, 3, 3, ctx), /col_indices" has column 3/);
});
