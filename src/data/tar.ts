/**
 * A streaming reader for tar archives (POSIX ustar, with the GNU long-name
 * and pax extensions that common `tar` programs write), so a `.tar.gz`
 * dataset can be read straight from its download without unpacking it and
 * without holding more than one member in memory.
 *
 * Only regular files are returned; directories, links and other entries are
 * skipped.
 *
 * @module
 */

import { UserError } from "../spec/errors.ts";

const BLOCK = 512;

/** One regular file from an archive. */
export interface TarFile {
  /** The member's path inside the archive. */
  name: string;
  /** Its contents. */
  data: Uint8Array;
}

/**
 * Reads a gzip-compressed tar file member by member. `wanted` picks the
 * members whose contents are read; the others are skipped without copying.
 */
export async function* readTarGz(
  path: string,
  wanted: (name: string) => boolean = () => true,
): AsyncGenerator<TarFile> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UserError(`archive "${path}" does not exist; check the path`);
    }
    throw err;
  }
  // The pipe owns the file from here on and closes it when the stream ends
  // or is cancelled.
  const stream = file.readable.pipeThrough(new DecompressionStream("gzip"));
  yield* readTar(stream, path, wanted);
}

/**
 * Reads an uncompressed tar stream member by member; `label` names the
 * archive in errors. See {@link readTarGz}.
 */
export async function* readTar(
  stream: ReadableStream<Uint8Array>,
  label: string,
  wanted: (name: string) => boolean = () => true,
): AsyncGenerator<TarFile> {
  const bytes = new ByteReader(stream, label);
  try {
    // Names and sizes from GNU long-name ('L') and pax ('x') entries apply
    // to the entry that follows them.
    let nextName: string | undefined;
    let nextSize: number | undefined;
    while (true) {
      const header = await bytes.read(BLOCK);
      if (header === null || isZero(header)) return;
      const parsed = parseHeader(header, label);
      const size = nextSize ?? parsed.size;
      const name = nextName ?? parsed.name;
      const padded = Math.ceil(size / BLOCK) * BLOCK;
      if (parsed.type === "L" || parsed.type === "x") {
        const body = await bytes.readExactly(padded, name);
        const content = body.subarray(0, size);
        if (parsed.type === "L") {
          nextName = cString(content, 0, content.length);
        } else {
          const pax = parsePax(content);
          nextName = pax.path ?? nextName;
          nextSize = pax.size ?? nextSize;
        }
        continue;
      }
      nextName = undefined;
      nextSize = undefined;
      const regular = parsed.type === "0" || parsed.type === "\0" ||
        parsed.type === "7";
      if (regular && wanted(name)) {
        const body = await bytes.readExactly(padded, name);
        yield { name, data: body.slice(0, size) };
      } else {
        await bytes.skip(padded, name);
      }
    }
  } finally {
    await bytes.cancel();
  }
}

interface Header {
  name: string;
  size: number;
  type: string;
}

function parseHeader(block: Uint8Array, label: string): Header {
  const corrupt = () =>
    new UserError(
      `"${label}" is not a tar archive or is corrupt (bad header checksum); download it again`,
    );
  const stored = octal(block, 148, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) {
    // The checksum is computed with its own field read as spaces.
    sum += i >= 148 && i < 156 ? 0x20 : block[i];
  }
  if (stored !== sum) throw corrupt();
  let name = cString(block, 0, 100);
  // POSIX ustar splits long paths into prefix + name; old GNU headers use
  // the same bytes for other fields and say "ustar  " instead.
  const posix = cString(block, 257, 6) === "ustar" && block[262] === 0;
  if (posix) {
    const prefix = cString(block, 345, 155);
    if (prefix) name = `${prefix}/${name}`;
  }
  return {
    name,
    size: size(block),
    type: String.fromCharCode(block[156]),
  };
}

/** The size field: octal text, or big-endian binary when its top bit is set. */
function size(block: Uint8Array): number {
  if (block[124] & 0x80) {
    let value = block[124] & 0x7f;
    for (let i = 125; i < 136; i++) value = value * 256 + block[i];
    return value;
  }
  return octal(block, 124, 12);
}

function octal(block: Uint8Array, start: number, length: number): number {
  const text = cString(block, start, length).trim();
  return text === "" ? 0 : parseInt(text, 8);
}

function cString(bytes: Uint8Array, start: number, length: number): string {
  let end = start;
  while (end < start + length && bytes[end] !== 0) end++;
  return new TextDecoder().decode(bytes.subarray(start, end));
}

/** The path and size records of a pax extended header ("LEN key=value\n"...). */
function parsePax(content: Uint8Array): { path?: string; size?: number } {
  const text = new TextDecoder().decode(content);
  const result: { path?: string; size?: number } = {};
  for (const record of text.split("\n")) {
    const match = /^\d+ ([^=]+)=(.*)$/s.exec(record);
    if (!match) continue;
    if (match[1] === "path") result.path = match[2];
    if (match[1] === "size") result.size = Number(match[2]);
  }
  return result;
}

function isZero(block: Uint8Array): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

/** Reads exact byte counts from a stream of arbitrarily sized chunks. */
class ByteReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #label: string;
  #chunk: Uint8Array = new Uint8Array(0);
  #at = 0;
  #done = false;

  constructor(stream: ReadableStream<Uint8Array>, label: string) {
    this.#reader = stream.getReader();
    this.#label = label;
  }

  /** The next `n` bytes, or `null` at a clean end of the stream. */
  async read(n: number): Promise<Uint8Array | null> {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (this.#at === this.#chunk.length && !(await this.#pull())) {
        if (filled === 0) return null;
        throw this.#truncated("a header");
      }
      const take = Math.min(n - filled, this.#chunk.length - this.#at);
      out.set(this.#chunk.subarray(this.#at, this.#at + take), filled);
      this.#at += take;
      filled += take;
    }
    return out;
  }

  /** The next `n` bytes of member `name`; the stream must not end first. */
  async readExactly(n: number, name: string): Promise<Uint8Array> {
    if (n === 0) return new Uint8Array(0);
    const out = await this.read(n);
    if (out === null) throw this.#truncated(`"${name}"`);
    return out;
  }

  /** Discards the next `n` bytes of member `name`. */
  async skip(n: number, name: string): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.#at === this.#chunk.length && !(await this.#pull())) {
        throw this.#truncated(`"${name}"`);
      }
      const take = Math.min(left, this.#chunk.length - this.#at);
      this.#at += take;
      left -= take;
    }
  }

  /** Stops reading, releasing the underlying file. */
  async cancel(): Promise<void> {
    if (!this.#done) await this.#reader.cancel().catch(() => {});
    this.#reader.releaseLock();
  }

  async #pull(): Promise<boolean> {
    if (this.#done) return false;
    let result: ReadableStreamReadResult<Uint8Array>;
    try {
      result = await this.#reader.read();
    } catch (err) {
      throw new UserError(
        `"${this.#label}" could not be decompressed (${
          (err as Error).message
        }); it is not a valid .tar.gz file, download it again`,
      );
    }
    if (result.done) {
      this.#done = true;
      return false;
    }
    this.#chunk = result.value;
    this.#at = 0;
    return true;
  }

  #truncated(what: string): UserError {
    return new UserError(
      `"${this.#label}" ends in the middle of ${what}; the archive is incomplete, download it again`,
    );
  }
}
