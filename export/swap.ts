/**
 * Replacing a bundle directory so that its path always holds a complete
 * bundle, the old one or the new one: the new bundle is written into a
 * hidden sibling directory, then the old directory is renamed away, the new
 * one renamed in, and the old one removed. An export killed before the swap
 * leaves only a hidden temporary directory, which the next export beside it
 * removes; one killed between the two renames leaves the old bundle under
 * its hidden name, which the next export puts back.
 *
 * @module
 */

import { basename, dirname, join, resolve } from "node:path";
import { processAlive } from "../src/spec/atomic.ts";
import { UserError } from "../src/spec/errors.ts";

/** Writes one file; tests inject a failing one to simulate a full disk. */
export type FileWriter = (path: string, data: Uint8Array) => Promise<void>;

/** Deno's own writer. */
export const writeFileDirect: FileWriter = (path, data) => Deno.writeFile(path, data);

const NEW = "new";
const OLD = "old";

/** `.<name>.export-<new|old>-<pid>-<random>` beside the bundle. */
function siblingName(out: string, role: string): string {
  return join(
    dirname(out),
    `.${basename(out)}.export-${role}-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`,
  );
}

const SIBLING = /^\.(.+)\.export-(new|old)-(\d+)-[0-9a-f]{8}$/;

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/**
 * Removes what killed exports of `out` left beside it: temporary bundles
 * are deleted; an old bundle renamed away but never replaced is renamed
 * back when `out` is missing. Returns the paths removed or restored.
 */
export async function cleanStaleBundles(out: string): Promise<string[]> {
  const path = resolve(out);
  const parent = dirname(path);
  const name = basename(path);
  const touched: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(parent));
  } catch {
    return touched;
  }
  for (const entry of entries) {
    const match = SIBLING.exec(entry.name);
    if (!match || match[1] !== name || processAlive(Number(match[3]))) continue;
    const stale = join(parent, entry.name);
    if (match[2] === OLD && !(await exists(path))) {
      await Deno.rename(stale, path).catch(() => {});
    } else {
      await Deno.remove(stale, { recursive: true }).catch(() => {});
    }
    touched.push(stale);
  }
  return touched;
}

/**
 * Refuses an `out` that exists but is not a bundle directory: swapping
 * would delete whatever else is there.
 */
async function checkReplaceable(out: string, bundleFiles: readonly string[]): Promise<boolean> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(out);
  } catch {
    return false;
  }
  if (!info.isDirectory) {
    throw new UserError(`--out ${out} is not a directory; choose another --out for the bundle`);
  }
  const known = new Set([...bundleFiles, "metadata.json", "model.onnx", "vocab.json"]);
  for await (const entry of Deno.readDir(out)) {
    if (!known.has(entry.name)) {
      throw new UserError(
        `--out ${out} holds ${entry.name}, which is not part of a sparrow bundle; ` +
          `choose an empty or new directory for --out`,
      );
    }
  }
  return true;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0];
}

/**
 * Writes `files` (name → bytes) as the bundle directory `out`, replacing
 * the bundle there (see the module doc). A write error (a full disk, no
 * permission) becomes one {@link UserError} line; `out` is left as it was.
 */
export async function replaceBundle(
  out: string,
  files: ReadonlyMap<string, Uint8Array>,
  write: FileWriter = writeFileDirect,
): Promise<void> {
  const parent = dirname(resolve(out));
  await cleanStaleBundles(out);
  const replacing = await checkReplaceable(out, [...files.keys()]);
  const fresh = siblingName(resolve(out), NEW);
  try {
    await Deno.mkdir(parent, { recursive: true });
    await Deno.mkdir(fresh);
    for (const [name, bytes] of files) await write(join(fresh, name), bytes);
  } catch (error) {
    await Deno.remove(fresh, { recursive: true }).catch(() => {});
    throw new UserError(
      `cannot write the bundle ${out}: ${firstLine(error)}; ` +
        `${
          replacing ? "the previous bundle there is unchanged" : "nothing was written"
        }. Free disk space or choose another --out`,
    );
  }
  if (!replacing) {
    await Deno.rename(fresh, out);
    return;
  }
  const old = siblingName(resolve(out), OLD);
  await Deno.rename(out, old);
  try {
    await Deno.rename(fresh, out);
  } catch (error) {
    await Deno.rename(old, out);
    await Deno.remove(fresh, { recursive: true }).catch(() => {});
    throw new UserError(
      `cannot replace the bundle ${out}: ${firstLine(error)}; the previous bundle is unchanged`,
    );
  }
  await Deno.remove(old, { recursive: true });
}
