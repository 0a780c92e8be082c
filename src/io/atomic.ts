/**
 * Atomic file writes: a crash or Ctrl-C mid-write never leaves a half-written
 * checkpoint or export behind, because readers only ever see the old file or
 * the complete new one.
 *
 * @module
 */

import { dirname } from "node:path";

/** Writes `data` to `path` through a temporary file in the same directory and a rename. */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
): Promise<void> {
  const dir = dirname(path);
  await Deno.mkdir(dir, { recursive: true });
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
