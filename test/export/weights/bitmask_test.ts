import assert from "node:assert/strict";
import { decodeBitmask, encodeBitmask } from "../../../export/weights/bitmask.ts";
import { type MatrixParts, tensor } from "../../../export/weights/format.ts";
import { UserError } from "../../../src/spec/errors.ts";

const ctx = { source: "w.bin", name: "lstm.1.R" };

// [[0, 1.5, 0, 0], [0, 0, 0*, 0], [2, 0, 0, -3]] where 0* is an active entry holding 0.
const matrix = {
  rows: 3,
  cols: 4,
  data: new Float32Array([0, 1.5, 0, 0, 0, 0, 0, 0, 2, 0, 0, -3]),
};
const active = new Uint8Array([0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1]);

Deno.test("encodeBitmask packs entries row-major, least significant bit first", () => {
  const parts = encodeBitmask(matrix, active);
  assert.deepEqual(Object.keys(parts).sort(), ["mask", "values"]);
  // Entries 1 and 6 in byte 0; entries 8 and 11 are bits 0 and 3 of byte 1.
  assert.deepEqual([...parts.mask.data], [(1 << 1) | (1 << 6), (1 << 0) | (1 << 3)]);
  assert.deepEqual([...parts.values.data], [1.5, 0, 2, -3]);
});

Deno.test("decodeBitmask restores the values and the active entries", () => {
  const decoded = decodeBitmask(encodeBitmask(matrix, active), 3, 4, ctx);
  assert.deepEqual([...decoded.data], [...matrix.data]);
  assert.deepEqual([...decoded.active], [...active]);
});

function broken(edit: (parts: MatrixParts) => void): MatrixParts {
  const parts = encodeBitmask(matrix, active);
  edit(parts);
  return parts;
}

Deno.test("decodeBitmask rejects every structural inconsistency with a UserError naming the tensor", () => {
  const cases: [string, MatrixParts, string][] = [
    ["extra set bit", broken((p) => (p.mask.data as Uint8Array)[0] |= 1), "lstm.1.R/values"],
    ["cleared bit", broken((p) => p.mask.data[1] = 1), "lstm.1.R/values"],
    ["bit past the end", broken((p) => (p.mask.data as Uint8Array)[1] |= 1 << 4), "lstm.1.R/mask"],
    [
      "short mask",
      broken((p) => {
        p.mask = tensor("uint8", [1], new Uint8Array([0xff]));
      }),
      "lstm.1.R/mask",
    ],
    [
      "wide mask",
      broken((p) => {
        p.mask = tensor("uint16", [2], new Uint16Array(p.mask.data as Uint8Array));
      }),
      "lstm.1.R/mask",
    ],
    ["missing values", broken((p) => delete p.values), "lstm.1.R/values"],
  ];
  for (const [label, parts, name] of cases) {
    assert.throws(() => decodeBitmask(parts, 3, 4, ctx), (e: Error) => {
      assert.ok(e instanceof UserError, `${label}: ${e}`);
      assert.ok(
        e.message.includes(`"${name}"`) && e.message.startsWith("w.bin"),
        `${label}: ${e.message}`,
      );
      return true;
    });
  }
});

Deno.test("a bitmask of a multiple of 8 entries has no spare bits to check", () => {
  const flags = new Uint8Array(16).fill(1);
  const parts = encodeBitmask({ rows: 2, cols: 8, data: new Float32Array(16).fill(7) }, flags);
  assert.deepEqual([...parts.mask.data], [0xff, 0xff]);
  assert.deepEqual([...decodeBitmask(parts, 2, 8, ctx).data], new Array(16).fill(7));
});
