/**
 * Decoding dataset files as UTF-8, and refusing the ones that are not.
 *
 * A UTF-16 or Latin-1 file decoded as UTF-8 does not fail: it yields NULs
 * between letters or U+FFFD in place of accented ones, and a model trains
 * on a vocabulary of garbage. So text is decoded strictly, and a file in
 * another encoding gets one message naming the encoding found and the
 * `iconv` command that converts it. A UTF-8 byte-order mark at the start is
 * accepted and dropped (editors on Windows write one).
 *
 * @module
 */

import { UserError } from "../spec/errors.ts";

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Decodes `bytes` as UTF-8, dropping a leading byte-order mark. `name` (a
 * path, or `archive(member)`) names the file in the error thrown when the
 * bytes are UTF-16, UTF-32, binary, or otherwise not UTF-8.
 */
export function decodeText(bytes: Uint8Array, name: string): string {
  const bom = byteOrderMark(bytes);
  if (bom) throw notUtf8(name, `${bom} text (it starts with a ${bom} byte-order mark)`, bom);
  const nul = bytes.indexOf(0);
  if (nul >= 0) {
    const utf16 = utf16WithoutMark(bytes);
    if (utf16) throw notUtf8(name, `${utf16} text without a byte-order mark`, utf16);
    throw new UserError(
      `file "${name}" contains a NUL byte (line ${
        lineAt(bytes, nul)
      }), so it is binary, not text; pass a UTF-8 text file`,
    );
  }
  try {
    // The decoder drops a leading UTF-8 byte-order mark itself (ignoreBOM is false).
    return STRICT_UTF8.decode(bytes);
  } catch {
    const { first, c1 } = scanUtf8(bytes);
    // Bytes 0x80-0x9F are control codes in Latin-1 but quotes and dashes in
    // Windows-1252, so their presence tells the two apart.
    const [label, iconvName] = c1 ? ["Windows-1252", "cp1252"] : ["Latin-1 (ISO-8859-1)", "latin1"];
    throw notUtf8(
      name,
      `not UTF-8 (byte 0x${bytes[first].toString(16).toUpperCase()} on line ${
        lineAt(bytes, first)
      } is invalid); it looks like ${label} text`,
      iconvName,
    );
  }
}

function notUtf8(name: string, found: string, from: string): UserError {
  return new UserError(
    `file "${name}" is ${found}; convert it to UTF-8, e.g. iconv -f ${from} -t utf-8 '${name}' > '${name}.utf8', and use the converted file`,
  );
}

function byteOrderMark(bytes: Uint8Array): string | undefined {
  const [a, b, c, d] = bytes;
  if (a === 0xff && b === 0xfe) return c === 0 && d === 0 ? "UTF-32LE" : "UTF-16LE";
  if (a === 0xfe && b === 0xff) return "UTF-16BE";
  if (a === 0 && b === 0 && c === 0xfe && d === 0xff) return "UTF-32BE";
  return undefined;
}

/**
 * `"UTF-16LE"` or `"UTF-16BE"` when the NULs of the first few kilobytes sit
 * on one parity of position, as the high bytes of ASCII characters do in
 * UTF-16; otherwise undefined.
 */
function utf16WithoutMark(bytes: Uint8Array): string | undefined {
  const sample = bytes.subarray(0, 4096 & ~1);
  let even = 0, odd = 0;
  for (let i = 0; i < sample.length; i++) {
    if (sample[i] === 0) i % 2 === 0 ? even++ : odd++;
  }
  const pairs = sample.length / 2;
  if (odd >= pairs / 4 && even <= odd / 10) return "UTF-16LE";
  if (even >= pairs / 4 && odd <= even / 10) return "UTF-16BE";
  return undefined;
}

/**
 * The offset of the first byte that does not start a well-formed UTF-8
 * sequence (RFC 3629: no overlong forms, surrogates or code points past
 * U+10FFFF), and whether any such byte is in 0x80-0x9F.
 */
function scanUtf8(bytes: Uint8Array): { first: number; c1: boolean } {
  let first = -1;
  let c1 = false;
  let i = 0;
  while (i < bytes.length) {
    const length = sequenceLength(bytes, i);
    if (length > 0) {
      i += length;
      continue;
    }
    if (first < 0) first = i;
    if (bytes[i] >= 0x80 && bytes[i] <= 0x9f) c1 = true;
    i++;
  }
  return { first, c1 };
}

/** The length of the well-formed UTF-8 sequence at `i`, or 0 if there is none. */
function sequenceLength(bytes: Uint8Array, i: number): number {
  const lead = bytes[i];
  if (lead < 0x80) return 1;
  let more: number, min: number;
  if (lead >= 0xc2 && lead <= 0xdf) [more, min] = [1, 0x80];
  else if (lead >= 0xe0 && lead <= 0xef) [more, min] = [2, 0x800];
  else if (lead >= 0xf0 && lead <= 0xf4) [more, min] = [3, 0x10000];
  else return 0;
  if (i + more >= bytes.length) return 0;
  let code = lead & (0x3f >> more);
  for (let k = 1; k <= more; k++) {
    const next = bytes[i + k];
    if ((next & 0xc0) !== 0x80) return 0;
    code = (code << 6) | (next & 0x3f);
  }
  if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return 0;
  return more + 1;
}

/** The 1-based line of byte `offset`. */
function lineAt(bytes: Uint8Array, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (bytes[i] === 0x0a) line++;
  return line;
}
