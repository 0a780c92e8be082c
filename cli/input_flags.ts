/**
 * The flags that say how labelled data files are read, shared by `train`
 * and `infer evaluate` so both read a dataset the same way
 * (src/data/input.ts does the reading).
 *
 * @module
 */

import { type Command, InvalidArgumentError, Option } from "commander";
import { UserError } from "../src/spec/errors.ts";
import { parseSplit as parseSplitValue } from "../src/data/split.ts";

/** `--split`'s parser: a bad value is one line, as commander prints it. */
export function parseSplit(value: string): number[] {
  try {
    return [...parseSplitValue(value)];
  } catch (err) {
    if (err instanceof UserError) throw new InvalidArgumentError(err.message);
    throw err;
  }
}

/** Adds `--format`, `--text-column`, `--label-column` and `--header` to `command`. */
export function addColumnOptions(command: Command): Command {
  return command
    .addOption(
      new Option("--format <format>", "delimited format of labelled files (default: extension)")
        .choices(["csv", "tsv"]),
    )
    .option(
      "--text-column <columns>",
      "text column(s) of a CSV/TSV, header names or 0-based indices, comma-separated (default: all but the label)",
    )
    .option(
      "--label-column <column>",
      "label column of a CSV/TSV, a header name or 0-based index (default: a label-like header, else 0)",
    )
    .addOption(
      new Option("--header <mode>", "whether CSV/TSV files start with a header row")
        .choices(["auto", "yes", "no"]).default("auto"),
    );
}
