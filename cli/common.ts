/**
 * What every command shares: turning user errors into one clear line and
 * exit status 1, and parsing numeric flags strictly.
 *
 * @module
 */

import { InvalidArgumentError } from "commander";
import { UserError } from "../src/spec/errors.ts";

/**
 * Runs a command's main function. A {@link UserError} prints `error: …` on
 * one line (no stack trace) and exits with status 1; anything else is a bug
 * and keeps its stack trace.
 */
export async function runCommand(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (err) {
    if (err instanceof UserError) {
      console.error(`error: ${err.message}`);
      Deno.exit(1);
    }
    throw err;
  }
}

/** A commander option parser for a finite number. */
export function number(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n)) {
    throw new InvalidArgumentError("expected a number");
  }
  return n;
}

/** A commander option parser for a whole number. */
export function integer(value: string): number {
  const n = number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError("expected a whole number");
  return n;
}
