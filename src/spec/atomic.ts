/**
 * Atomic file writes: a crash or Ctrl-C mid-write never leaves a half-written
 * checkpoint or export behind, because readers only ever see the old file or
 * the complete new one.
 *
 * @module
 */

import { dirname } from "node:path";
import { UserError } from "./errors.ts";

/** Writes `data` to `path` through a temporary file in the same directory and a rename. */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
): Promise<void> {
  const dir = dirname(path);
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists || err instanceof Deno.errors.NotADirectory) {
      throw new UserError(
        `cannot write ${path}: ${dir} is a file, not a directory; choose another path`,
      );
    }
    throw err;
  }
  const tmp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    if (typeof data === "string") await Deno.writeTextFile(tmp, data);
    else await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}
