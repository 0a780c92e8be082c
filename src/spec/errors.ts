/**
 * Errors that a user can fix. The CLI prints their message on one line and
 * exits with status 1, with no stack trace: the message itself names the bad
 * input and how to fix it.
 *
 * @module
 */

/** An error caused by user input (a path, a flag, a file's contents). */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UserError";
  }
}

/** Throws a {@link UserError} with `message` unless `condition` holds. */
export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new UserError(message);
}
