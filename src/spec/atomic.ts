/**
 * Atomic file writes: a crash or Ctrl-C mid-write never leaves a half-written
 * checkpoint or export behind, because readers only ever see the old file or
 * the complete new one.
 *
 * The temporary file is `<target>.tmp-<pid>-<random>`. A process killed with
 * SIGKILL cannot remove its own, so every write first removes the stale ones
 * beside its target: those whose process is gone.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
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
  await removeStaleTempFiles(path);
  const tmp = tempPath(path);
  try {
    if (typeof data === "string") await Deno.writeTextFile(tmp, data);
    else await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}

/** A fresh temporary path beside `path`, named after this process. */
export function tempPath(path: string): string {
  return `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * Removes the temporary files that atomic writes to `path` left behind in
 * processes that no longer run (killed mid-write), and returns their paths.
 * Files of live processes, this one included, are kept: they may be
 * mid-write. Best effort: a file that cannot be listed or removed is skipped.
 */
export async function removeStaleTempFiles(path: string): Promise<string[]> {
  const dir = dirname(path);
  const prefix = `${basename(path)}.tmp-`;
  const removed: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile || !entry.name.startsWith(prefix)) continue;
      const owner = /^(\d+)-[0-9a-f]{8}$/.exec(entry.name.slice(prefix.length));
      if (!owner || processAlive(Number(owner[1]))) continue;
      const stale = join(dir, entry.name);
      await Deno.remove(stale).then(() => removed.push(stale), () => {});
    }
  } catch {
    // An unreadable directory: the write itself will report the problem.
  }
  return removed;
}

/**
 * Whether process `pid` is running. Where this cannot be told (no /proc),
 * the answer is yes, so nothing of a live process is ever taken.
 */
export function processAlive(pid: number): boolean {
  if (pid === Deno.pid) return true;
  if (Deno.build.os !== "linux" || !exists("/proc/self")) return true;
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch (err) {
    return !(err instanceof Deno.errors.NotFound);
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
