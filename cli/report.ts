/**
 * `deno task report <checkpoint>`: writes the run report (plots of loss and
 * metrics per epoch, nonzeros, rewiring, mask pictures) of a checkpoint as
 * `<checkpoint>.report.html` beside it, or where `--out` says.
 *
 * @module
 */

import { Command } from "commander";
import { loadCheckpoint } from "../src/spec/checkpoint.ts";
import { writeFileAtomic } from "../src/spec/atomic.ts";
import { reportPath, runReportHtml } from "../src/train/run_report.ts";
import { runCommand } from "./common.ts";

/** The `report` command's parser. */
export function reportCommand(print: (line: string) => void = console.log): Command {
  return new Command("report")
    .description("write the HTML run report of a checkpoint")
    .argument("<checkpoint>", "a checkpoint written by `deno task train`")
    .option("--out <file>", "where to write the report (default: <checkpoint>.report.html)")
    .action(async (path: string, flags: { out?: string }) => {
      const checkpoint = await loadCheckpoint(path);
      const out = flags.out ?? reportPath(path);
      await writeFileAtomic(out, await runReportHtml(checkpoint, path));
      print(`report written to ${out}`);
    });
}

if (import.meta.main) {
  await runCommand(async () => {
    await reportCommand().parseAsync(Deno.args, { from: "user" });
  });
}
