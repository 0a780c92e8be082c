/**
 * Runs a table's training runs on this machine, one `deno task train`
 * process after another. Each run writes its checkpoint after every epoch,
 * so an interrupted reproduction resumes where it stopped when run again,
 * and a finished run is kept.
 *
 * @module
 */

import { join } from "node:path";
import { UserError } from "../spec/errors.ts";
import { runPath } from "./records.ts";
import type { RunSpec } from "./tables.ts";

/** Where the runs go and how they report. */
export interface RunOptions {
  /** The sparrow checkout whose cli/train.ts trains. */
  repoRoot: string;
  /** The runs' directory: run `name` writes `<runsDir>/<name>.sparrow`. */
  runsDir: string;
  /** Each line a run prints, with the run's name. */
  log: (run: string, line: string) => void;
}

/** The `deno task train` arguments of `run`, its `--out` included. */
export function trainArgs(run: RunSpec, runsDir: string): string[] {
  return [...run.args, "--out", runPath(runsDir, run)];
}

/** Trains `run` (or resumes it, or keeps it when finished); throws a UserError if it fails. */
export async function trainRun(run: RunSpec, options: RunOptions): Promise<void> {
  await Deno.mkdir(options.runsDir, { recursive: true });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(options.repoRoot, "cli/train.ts"), ...trainArgs(run, options.runsDir)],
    cwd: options.repoRoot,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let lastError = "";
  const forward = async (stream: ReadableStream<Uint8Array>, isError: boolean) => {
    for await (const line of lines(stream)) {
      if (isError && line.trim() !== "") lastError = line;
      options.log(run.name, line);
    }
  };
  const [status] = await Promise.all([
    child.status,
    forward(child.stdout, false),
    forward(child.stderr, true),
  ]);
  if (!status.success) {
    throw new UserError(
      `run ${run.name} failed (exit status ${status.code}): ${lastError || "no message"}; ` +
        "fix it and run the same command again: finished runs are kept",
    );
  }
}

/**
 * Removes the lock (src/train/run_lock.ts) of `run` when it was written
 * before `since`: on a cluster, a run's index is trained by one pod or task
 * at a time, so such a lock was left by one that was killed. Its process id
 * means nothing here (another machine, another PID namespace, where it may
 * even be ours). Says whether it removed one.
 */
export async function removeEarlierLock(
  run: RunSpec,
  runsDir: string,
  since: Date,
): Promise<boolean> {
  const lock = `${runPath(runsDir, run)}.lock`;
  const stat = await Deno.stat(lock).catch(() => undefined);
  if (!stat?.mtime || stat.mtime >= since) return false;
  await Deno.remove(lock).catch(() => {});
  return true;
}

async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let pending = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    pending += chunk;
    const parts = pending.split("\n");
    pending = parts.pop()!;
    yield* parts;
  }
  if (pending !== "") yield pending;
}
