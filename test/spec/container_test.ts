import assert from "node:assert/strict";
import {
  type Container,
  crc32,
  decodeContainer,
  encodeContainer,
  readContainer,
  type StoredTensor,
} from "../../src/spec/container.ts";
import { UserError } from "../../src/spec/errors.ts";
import { withTempDir } from "../helpers.ts";

const encoder = new TextEncoder();

function sample(): Container<{ name: string; sizes: number[] }> {
  return {
    metadata: { name: "sample ✓", sizes: [1, 2, 3] },
    tensors: {
      weights: { dtype: "float32", shape: [2, 3], data: Float32Array.of(1.5, -2, 0, 3e-8, -0, 7) },
      mask: { dtype: "uint8", shape: [5], data: Uint8Array.of(1, 0, 1, 1, 0) },
      ids: { dtype: "int64", shape: [2], data: BigInt64Array.of(-3n, 1n << 40n) },
    },
  };
}

function headerLength(bytes: Uint8Array): number {
  return Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(8, true));
}

/**
 * Container bytes with a hand-written header and data section. An object
 * header gets a correct `headerCrc32`, so decoding gets past the header
 * checksum to the checks behind it.
 */
function rawContainer(
  header: string | Record<string, unknown>,
  data = new Uint8Array(0),
): Uint8Array {
  let text = header as string;
  if (typeof header === "object") {
    const covered = JSON.stringify({ metadata: header.metadata, tensors: header.tensors });
    text = JSON.stringify({ ...header, headerCrc32: crc32(encoder.encode(covered)) });
  }
  const padded = text + " ".repeat((8 - (encoder.encode(text).length % 8)) % 8);
  const headerBytes = encoder.encode(padded);
  const out = new Uint8Array(16 + headerBytes.length + data.length);
  out.set(encoder.encode("SPARROW1"));
  new DataView(out.buffer).setBigUint64(8, BigInt(headerBytes.length), true);
  out.set(headerBytes, 16);
  out.set(data, 16 + headerBytes.length);
  return out;
}

function assertSameTensor(actual: StoredTensor, expected: StoredTensor): void {
  assert.equal(actual.dtype, expected.dtype);
  assert.deepEqual(actual.shape, expected.shape);
  assert.equal(actual.data.constructor, expected.data.constructor);
  assert.deepEqual(
    new Uint8Array(actual.data.buffer, actual.data.byteOffset, actual.data.byteLength),
    new Uint8Array(expected.data.buffer, expected.data.byteOffset, expected.data.byteLength),
  );
}

Deno.test("crc32 matches the standard check value and zlib on known inputs", () => {
  assert.equal(crc32(encoder.encode("123456789")), 0xCBF43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
  assert.equal(crc32(encoder.encode("The quick brown fox jumps over the lazy dog")), 0x414FA339);
  // Sensitive to trailing zeros, so dropping padding is detected.
  assert.notEqual(crc32(Uint8Array.of(1, 0)), crc32(Uint8Array.of(1)));
});

Deno.test("every dtype round-trips bit for bit, including empty tensors", () => {
  const tensors: Record<string, StoredTensor> = {
    f32: { dtype: "float32", shape: [3], data: Float32Array.of(NaN, -0, 1 / 3) },
    f16: { dtype: "float16", shape: [2, 1], data: Uint16Array.of(0x3c00, 0xfc00) },
    i32: { dtype: "int32", shape: [1, 3], data: Int32Array.of(-(2 ** 31), 0, 2 ** 31 - 1) },
    u32: { dtype: "uint32", shape: [2], data: Uint32Array.of(0, 2 ** 32 - 1) },
    u16: { dtype: "uint16", shape: [3], data: Uint16Array.of(1, 65535, 7) },
    u8: { dtype: "uint8", shape: [1], data: Uint8Array.of(255) },
    i64: { dtype: "int64", shape: [2], data: BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n) },
    empty: { dtype: "float32", shape: [0, 4], data: new Float32Array(0) },
    scalar: { dtype: "int32", shape: [], data: Int32Array.of(42) },
  };
  const bytes = encodeContainer({ metadata: { note: "all dtypes" }, tensors });
  // The data section starts 8-byte aligned, so every tensor can be viewed in place.
  assert.equal((16 + headerLength(bytes)) % 8, 0);
  const decoded = decodeContainer<{ note: string }>(bytes, "all.sparrow");
  assert.deepEqual(decoded.metadata, { note: "all dtypes" });
  assert.deepEqual(Object.keys(decoded.tensors).sort(), Object.keys(tensors).sort());
  for (const [name, t] of Object.entries(tensors)) assertSameTensor(decoded.tensors[name], t);
});

Deno.test("decoding works from an unaligned byte offset", () => {
  const bytes = encodeContainer(sample());
  const shifted = new Uint8Array(bytes.length + 3);
  shifted.set(bytes, 3);
  const decoded = decodeContainer(shifted.subarray(3), "shifted");
  for (const [name, t] of Object.entries(sample().tensors)) {
    assertSameTensor(decoded.tensors[name], t);
  }
});

Deno.test("encoding refuses a tensor whose shape does not match its data", () => {
  assert.throws(
    () =>
      encodeContainer({
        metadata: {},
        tensors: { w: { dtype: "float32", shape: [2, 2], data: new Float32Array(3) } },
      }),
    /tensor w/,
  );
});

Deno.test("truncation at any offset is a UserError naming the file", () => {
  const bytes = encodeContainer(sample());
  for (let length = 0; length < bytes.length; length++) {
    assert.throws(
      () => decodeContainer(bytes.subarray(0, length), "cut.sparrow"),
      (err: unknown) => err instanceof UserError && err.message.includes("cut.sparrow"),
      `truncated to ${length} of ${bytes.length} bytes`,
    );
  }
  // Trailing garbage changes the data section, so it is caught as well.
  const longer = new Uint8Array(bytes.length + 8);
  longer.set(bytes);
  assert.throws(() => decodeContainer(longer, "long.sparrow"), UserError);
});

Deno.test("a flipped byte anywhere is a UserError, never a wrong tensor", () => {
  const bytes = encodeContainer(sample());
  for (let at = 0; at < bytes.length; at++) {
    for (const flip of [0x01, 0x02, 0x10, 0x80, 0xff]) {
      const corrupt = bytes.slice();
      corrupt[at] ^= flip;
      assert.throws(
        () => decodeContainer(corrupt, "flip.sparrow"),
        (err: unknown) => err instanceof UserError && err.message.includes("flip.sparrow"),
        `byte ${at} xor ${flip}`,
      );
    }
  }
});

Deno.test("a renamed tensor that collides with another is caught by the header checksum", () => {
  // Without a header checksum, turning "b" into "a" would return b's data as a.
  const bytes = encodeContainer({
    metadata: {},
    tensors: {
      a: { dtype: "float32", shape: [2], data: Float32Array.of(1, 2) },
      b: { dtype: "float32", shape: [2], data: Float32Array.of(7, 8) },
    },
  });
  const at = new TextDecoder().decode(bytes).indexOf('"b"') + 1;
  bytes[at] ^= "a".charCodeAt(0) ^ "b".charCodeAt(0);
  assert.throws(() => decodeContainer(bytes, "swap.sparrow"), /header checksum/);
});

Deno.test("bad magic is a UserError that says so", () => {
  const bytes = encodeContainer(sample());
  bytes.set(encoder.encode("PK\x03\x04"), 0);
  assert.throws(() => decodeContainer(bytes, "zip.sparrow"), /zip\.sparrow.*magic/);
  assert.throws(() => decodeContainer(encoder.encode("hello"), "tiny"), /tiny.*too short/);
});

Deno.test("malformed headers are UserErrors, never TypeErrors or wrong views", () => {
  const data = new Uint8Array(8);
  const crc = crc32(data);
  const entry = (e: unknown) => ({ metadata: {}, tensors: { w: e }, crc32: crc });
  const f32 = (shape: unknown, offsets?: unknown) => entry({ dtype: "float32", shape, offsets });
  const headers: Record<string, string | Record<string, unknown>> = {
    "not JSON": '{"metadata": {',
    "JSON null": "null",
    "JSON array": "[]",
    "no header checksum": `{"metadata":{},"tensors":{},"crc32":${crc}}`,
    "tensor table null": { metadata: {}, tensors: null, crc32: crc },
    "no data checksum": { metadata: {}, tensors: {} },
    "wrong data checksum": { metadata: {}, tensors: {}, crc32: crc ^ 1 },
    "entry null": entry(null),
    "entry a number": entry(3),
    "unknown dtype": entry({ dtype: "float64", shape: [1], offsets: [0, 8] }),
    "prototype dtype": entry({ dtype: "constructor", shape: [1], offsets: [0, 4] }),
    "negative dim": f32([-2], [0, 8]),
    "fractional dim": f32([1.5], [0, 8]),
    "shape not a list": f32(2, [0, 8]),
    "no offsets": f32([2]),
    "offsets null": f32([2], null),
    "offsets a string": f32([2], "08"),
    "negative offset": f32([2], [-8, 0]),
    "unaligned offset": f32([1], [4, 8]),
    "size mismatch": f32([3], [0, 8]),
    "past the end": f32([4], [0, 16]),
  };
  for (const [why, header] of Object.entries(headers)) {
    assert.throws(
      () => decodeContainer(rawContainer(header, data), "bad.sparrow"),
      (err: unknown) => err instanceof UserError && err.message.includes("bad.sparrow"),
      why,
    );
  }
  // A header length pointing past the end of the file.
  const bytes = encodeContainer(sample());
  new DataView(bytes.buffer).setBigUint64(8, 1n << 40n, true);
  assert.throws(() => decodeContainer(bytes, "huge.sparrow"), /truncated header/);
});

Deno.test("readContainer reads a file and names a missing one", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/c.sparrow`;
    await Deno.writeFile(path, encodeContainer(sample()));
    const decoded = await readContainer(path);
    assertSameTensor(decoded.tensors.weights, sample().tensors.weights);
    await assert.rejects(
      () => readContainer(`${dir}/missing.sparrow`),
      (err: unknown) =>
        err instanceof UserError && err.message.includes(`${dir}/missing.sparrow`) &&
        err.message.includes("no such file"),
    );
  });
});
