/**
 * The one binary container sparrow writes: checkpoints and exported sparse
 * weights both use it. It is safetensors in spirit, so a few lines of any
 * language read it:
 *
 * ```text
 * bytes 0..8     magic "SPARROW1"
 * bytes 8..16    header length N, unsigned 64-bit little-endian
 * bytes 16..16+N JSON header, UTF-8, padded with spaces to a multiple of 8
 * the rest       data: raw little-endian tensors, each starting 8-byte aligned
 * ```
 *
 * The header is `{"metadata": any JSON, "tensors": {name: {"dtype", "shape",
 * "offsets": [begin, end]}}, "crc32": n, "headerCrc32": m}` with offsets
 * relative to the start of the data section, `crc32` (IEEE) over the whole
 * data section and `headerCrc32` over the UTF-8 of
 * `JSON.stringify({metadata, tensors})`, so a truncated or corrupted file is
 * detected rather than read as wrong numbers.
 *
 * @module
 */

import { UserError } from "./errors.ts";

const MAGIC = "SPARROW1";

/** Element types a container can hold. */
export type Dtype = "float32" | "float16" | "int32" | "uint32" | "uint16" | "uint8" | "int64";

/** Typed arrays matching {@link Dtype}. float16 is stored as raw Uint16 bits. */
export type TypedArray =
  | Float32Array
  | Int32Array
  | Uint32Array
  | Uint16Array
  | Uint8Array
  | BigInt64Array;

/** One tensor in a container. */
export interface StoredTensor {
  dtype: Dtype;
  shape: number[];
  data: TypedArray;
}

/** A decoded container: metadata plus named tensors. */
export interface Container<M = unknown> {
  metadata: M;
  tensors: Record<string, StoredTensor>;
}

const BYTES: Record<Dtype, number> = {
  float32: 4,
  float16: 2,
  int32: 4,
  uint32: 4,
  uint16: 2,
  uint8: 1,
  int64: 8,
};

const ARRAY_OF: Record<Dtype, (b: ArrayBuffer, o: number, n: number) => TypedArray> = {
  float32: (b, o, n) => new Float32Array(b, o, n),
  float16: (b, o, n) => new Uint16Array(b, o, n),
  int32: (b, o, n) => new Int32Array(b, o, n),
  uint32: (b, o, n) => new Uint32Array(b, o, n),
  uint16: (b, o, n) => new Uint16Array(b, o, n),
  uint8: (b, o, n) => new Uint8Array(b, o, n),
  int64: (b, o, n) => new BigInt64Array(b, o, n),
};

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE 802.3), as zlib computes it. */
export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) {
    crc = crcTable[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

const align8 = (n: number) => Math.ceil(n / 8) * 8;

/** Encodes metadata and tensors into container bytes. */
export function encodeContainer<M>(container: Container<M>): Uint8Array {
  const entries: Record<string, { dtype: Dtype; shape: number[]; offsets: [number, number] }> = {};
  let size = 0;
  for (const [name, t] of Object.entries(container.tensors)) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new Error(`tensor ${name}: shape [${t.shape}] does not match ${t.data.length} values`);
    }
    const begin = align8(size);
    size = begin + t.data.byteLength;
    entries[name] = { dtype: t.dtype, shape: t.shape, offsets: [begin, size] };
  }
  const data = new Uint8Array(align8(size));
  for (const [name, t] of Object.entries(container.tensors)) {
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    data.set(bytes, entries[name].offsets[0]);
  }
  const covered = JSON.stringify({ metadata: container.metadata, tensors: entries });
  const header = JSON.stringify({
    metadata: container.metadata,
    tensors: entries,
    crc32: crc32(data),
    headerCrc32: crc32(new TextEncoder().encode(covered)),
  });
  let headerBytes = new TextEncoder().encode(header);
  const padded = align8(headerBytes.length);
  if (padded !== headerBytes.length) {
    headerBytes = new TextEncoder().encode(header + " ".repeat(padded - headerBytes.length));
  }
  const out = new Uint8Array(16 + headerBytes.length + data.length);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setBigUint64(8, BigInt(headerBytes.length), true);
  out.set(headerBytes, 16);
  out.set(data, 16 + headerBytes.length);
  return out;
}

/**
 * Decodes container bytes. `source` names the file in error messages. Every
 * structural problem (wrong magic, truncation, bad JSON, offsets out of range,
 * size mismatch, checksum) is a {@link UserError}, never a wrong tensor.
 */
export function decodeContainer<M = unknown>(
  bytes: Uint8Array,
  source = "container",
): Container<M> {
  const fail = (why: string): never => {
    throw new UserError(
      `${source} is not a valid sparrow file (${why}): re-create it with the command that wrote it`,
    );
  };
  if (bytes.length < 16) fail("too short");
  if (new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) fail("wrong magic bytes");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(8, true));
  if (16 + headerLength > bytes.length) fail("truncated header");
  let header: {
    metadata: M;
    tensors: Record<string, { dtype: Dtype; shape: number[]; offsets: [number, number] }>;
    crc32: number;
    headerCrc32: number;
  };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + headerLength)));
  } catch {
    return fail("header is not JSON");
  }
  if (
    typeof header !== "object" || header === null || typeof header.tensors !== "object" ||
    header.tensors === null
  ) {
    fail("header has no tensor table");
  }
  const covered = JSON.stringify({ metadata: header.metadata, tensors: header.tensors });
  if (crc32(new TextEncoder().encode(covered)) !== header.headerCrc32) {
    fail("header checksum mismatch: the header is corrupt");
  }
  // Copy the data section so typed-array views are aligned whatever the source offset.
  const data = bytes.slice(16 + headerLength);
  if (crc32(data) !== header.crc32) fail("checksum mismatch: the file is truncated or corrupt");
  const tensors: Record<string, StoredTensor> = {};
  for (const [name, entry] of Object.entries(header.tensors)) {
    if (typeof entry !== "object" || entry === null) fail(`tensor ${name} has no entry`);
    const { dtype, shape, offsets } = entry;
    if (!Object.hasOwn(BYTES, dtype)) fail(`tensor ${name} has unknown dtype ${dtype}`);
    if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
      fail(`tensor ${name} has a bad shape`);
    }
    const count = shape.reduce((a, b) => a * b, 1);
    if (!Array.isArray(offsets) || offsets.length !== 2) fail(`tensor ${name} has no offsets`);
    const [begin, end] = offsets;
    if (
      !Number.isInteger(begin) || begin < 0 || begin % 8 !== 0 ||
      end - begin !== count * BYTES[dtype] ||
      end > data.length
    ) {
      fail(`tensor ${name} has offsets outside the data`);
    }
    tensors[name] = { dtype, shape, data: ARRAY_OF[dtype](data.buffer, begin, count) };
  }
  return { metadata: header.metadata, tensors };
}

/** Reads and decodes a container file, with a clear error if it is missing. */
export async function readContainer<M = unknown>(path: string): Promise<Container<M>> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UserError(`${path}: no such file; check the path`);
    }
    if (err instanceof Deno.errors.IsADirectory) {
      throw new UserError(`${path} is a directory; pass the path of a file`);
    }
    throw err;
  }
  return decodeContainer<M>(bytes, path);
}
