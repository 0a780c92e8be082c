/**
 * File lookups shared by the dataset readers, turning the operating system's
 * errors into {@link UserError}s that name the path and what was expected.
 *
 * @module
 */

import { join } from "node:path";
import { UserError } from "../spec/errors.ts";
import { decodeText } from "./encoding.ts";

/** Throws unless `dir` is an existing directory; `what` names its role. */
export async function requireDirectory(dir: string, what: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UserError(
        `${what} "${dir}" does not exist; pass the folder that holds the dataset files`,
      );
    }
    throw err;
  }
  if (!info.isDirectory) {
    throw new UserError(
      `${what} "${dir}" is not a directory; pass the folder that holds the dataset files`,
    );
  }
}

/** Whether `path` exists (as anything). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/**
 * The one file of `names` that exists in `dir`, or `undefined` when none
 * does. Two candidates at once is ambiguous, so it throws rather than guess.
 */
export async function findOne(
  dir: string,
  names: readonly string[],
): Promise<string | undefined> {
  const found: string[] = [];
  for (const name of names) {
    if (await exists(join(dir, name))) found.push(join(dir, name));
  }
  if (found.length > 1) {
    throw new UserError(
      `both ${found.join(" and ")} exist; remove or rename all but one`,
    );
  }
  return found[0];
}

/**
 * Reads a UTF-8 text file (see {@link decodeText}: a leading byte-order mark
 * is dropped, other encodings are refused), naming it in the error when it
 * is missing.
 */
export async function readText(path: string): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UserError(`file "${path}" does not exist; check the path`);
    }
    if (err instanceof Deno.errors.IsADirectory) {
      throw new UserError(
        `"${path}" is a directory, not a text file; pass the file itself`,
      );
    }
    throw err;
  }
  return decodeText(bytes, path);
}

/**
 * Splits text into lines on `\n`, dropping a `\r` before it and the empty
 * piece after a final newline (which ends the last line rather than starting
 * a new one).
 */
export function splitLines(text: string): string[] {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines.map((line) => line.endsWith("\r") ? line.slice(0, -1) : line);
}
