import assert from "node:assert/strict";
import {
  activeFromValues,
  checkMatrix,
  countActiveEntries,
  countRow,
  indexArray,
  indexDtypeFor,
  parseSparseFormat,
  partError,
  rejectExtraParts,
  requirePart,
  SPARSE_FORMATS,
  tensor,
} from "../../../export/weights/format.ts";
import { UserError } from "../../../src/spec/errors.ts";

const ctx = { source: "w.bin", name: "lstm.0.W" };

Deno.test("parseSparseFormat accepts every format and rejects others with the list", () => {
  for (const name of SPARSE_FORMATS) assert.equal(parseSparseFormat(name), name);
  assert.throws(
    () => parseSparseFormat("csc"),
    (e: Error) => e instanceof UserError && e.message.includes("csc") && e.message.includes("ell"),
  );
});

Deno.test("indexDtypeFor picks the smallest type that holds the largest index", () => {
  assert.equal(indexDtypeFor(0), "uint8");
  assert.equal(indexDtypeFor(255), "uint8");
  assert.equal(indexDtypeFor(256), "uint16");
  assert.equal(indexDtypeFor(65535), "uint16");
  assert.equal(indexDtypeFor(65536), "uint32");
  assert.equal(indexDtypeFor(2 ** 32 - 1), "uint32");
  assert.throws(() => indexDtypeFor(2 ** 32), UserError);
});

Deno.test("indexArray makes a zeroed array of the dtype's width", () => {
  assert.ok(indexArray("uint8", 3) instanceof Uint8Array);
  assert.ok(indexArray("uint16", 3) instanceof Uint16Array);
  const wide = indexArray("uint32", 3);
  assert.ok(wide instanceof Uint32Array);
  assert.deepEqual([...wide], [0, 0, 0]);
});

Deno.test("activeFromValues marks nonzeros, treating -0 as zero and NaN as stored", () => {
  const active = activeFromValues(new Float32Array([0, -0, 1, NaN, -2]));
  assert.deepEqual([...active], [0, 0, 1, 1, 1]);
  assert.equal(countActiveEntries(active), 3);
  assert.equal(countRow(active, 0, 2), 0);
  assert.equal(countRow(active, 1, 2), 2);
});

Deno.test("checkMatrix rejects values or flags of the wrong length", () => {
  checkMatrix({ rows: 2, cols: 3, data: new Float32Array(6) }, new Uint8Array(6));
  assert.throws(
    () => checkMatrix({ rows: 2, cols: 3, data: new Float32Array(5) }, new Uint8Array(6)),
    RangeError,
  );
  assert.throws(
    () => checkMatrix({ rows: 2, cols: 3, data: new Float32Array(6) }, new Uint8Array(7)),
    RangeError,
  );
});

Deno.test("requirePart names the file and tensor when a part is missing or wrong", () => {
  const parts = { values: tensor("float32", [2], new Float32Array(2)) };
  assert.equal(requirePart(parts, "values", ["float32"], ctx).data.length, 2);
  const cases: [string, () => unknown, string][] = [
    ["missing", () => requirePart(parts, "row_ptr", ["uint32"], ctx), "lstm.0.W/row_ptr"],
    ["dtype", () => requirePart(parts, "values", ["uint8"], ctx), "dtype float32"],
    ["shape", () => requirePart(parts, "values", ["float32"], ctx, [3]), "expected [3]"],
    ["rank", () => requirePart(parts, "values", ["float32"], ctx, [1, 2]), "expected [1,2]"],
  ];
  for (const [label, run, fragment] of cases) {
    assert.throws(run, (e: Error) => {
      assert.ok(e instanceof UserError, label);
      assert.ok(e.message.startsWith("w.bin: "), e.message);
      assert.ok(e.message.includes(fragment), e.message);
      return true;
    });
  }
});

Deno.test("requirePart does not find inherited properties", () => {
  assert.throws(() => requirePart({}, "toString", ["float32"], ctx), /is missing/);
});

Deno.test("rejectExtraParts refuses a part the format does not define", () => {
  const parts = { values: tensor("float32", [0], new Float32Array(0)) };
  rejectExtraParts(parts, ["values"], ctx);
  assert.throws(() => rejectExtraParts(parts, ["mask"], ctx), /lstm\.0\.W\/values" is not part/);
  assert.match(
    partError(ctx, "mask", "is odd").message,
    /^w\.bin: tensor "lstm\.0\.W\/mask" is odd;/,
  );
});
