/**
 * One training at a time per checkpoint: a run holds `<out>.lock`, a file
 * holding its process id, from before the first epoch until it ends. A
 * second run on the same `--out` is refused; a lock left by a process that no
 * longer runs (killed with SIGKILL) is taken over.
 *
 * Creating the lock is also the check that `--out` is writable, made before
 * any data is read or any epoch trained.
 *
 * @module
 */

import { dirname } from "node:path";
import { processAlive, removeStaleTempFiles, tempPath } from "../spec/atomic.ts";
import { UserError } from "../spec/errors.ts";

/** A held lock; `release` removes it (and is safe to call twice). */
export interface RunLock {
  path: string;
  release(): Promise<void>;
}

/** Takes the lock of the run writing `out`, or throws a UserError saying who holds it. */
export async function acquireRunLock(out: string): Promise<RunLock> {
  const path = `${out}.lock`;
  const unwritable = (err: unknown) =>
    new UserError(
      `cannot write --out ${out}: ${reason(err)}; pass an --out in a directory you can write to`,
    );
  try {
    await Deno.mkdir(dirname(out), { recursive: true });
  } catch (err) {
    throw unwritable(err);
  }
  // Writes killed mid-way (SIGKILL) leave temporary files that nothing else removes.
  await removeStaleTempFiles(out);
  await removeStaleTempFiles(path);
  // Written in full first, then linked into place: linking fails if the lock
  // exists, so no reader ever sees a lock file without its process id.
  const tmp = tempPath(path);
  try {
    await Deno.writeTextFile(tmp, `${Deno.pid}\n`);
  } catch (err) {
    throw unwritable(err);
  }
  try {
    for (let attempt = 0;; attempt++) {
      try {
        await Deno.link(tmp, path);
        break;
      } catch (err) {
        if (!(err instanceof Deno.errors.AlreadyExists)) throw unwritable(err);
      }
      const holder = await holderOf(path);
      if (holder !== undefined && processAlive(holder) || attempt > 0) {
        throw new UserError(
          `another training (process ${holder ?? "unknown"}) is writing ${out}: ` +
            `wait for it to finish or pass another --out; if no such training runs, delete ${path}`,
        );
      }
      // Left by a process that is gone: take it over.
      await Deno.remove(path).catch(() => {});
    }
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
  let held = true;
  return {
    path,
    async release() {
      if (!held) return;
      held = false;
      await Deno.remove(path).catch(() => {});
    },
  };
}

/** The process id in a lock file; undefined when it cannot be read. */
async function holderOf(path: string): Promise<number | undefined> {
  const text = await Deno.readTextFile(path).catch(() => "");
  const pid = Number(text.trim());
  return text.trim() !== "" && Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** The system's reason, without Deno's call description (`..., open '/x'`). */
function reason(err: unknown): string {
  if (err instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (err instanceof Deno.errors.NotFound) return "files cannot be created there";
  if (err instanceof Deno.errors.NotADirectory || err instanceof Deno.errors.AlreadyExists) {
    return "a part of its path is a file, not a directory";
  }
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/:\s*(open|mkdir|link|rename|write)\s.*$/s, "").replace(/\s+/g, " ");
}
