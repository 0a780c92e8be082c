/**
 * `deno task reproduce TABLE`: trains the runs of one of the paper's tables
 * (src/reproduce/tables.ts) and writes a markdown report beside the paper's
 * numbers. Re-running it resumes; `--index i` trains run i only (for a
 * cluster), `--emit k8s|slurm` writes the cluster job, and `--collect DIR`
 * builds the report from the runs' checkpoints alone.
 *
 * @module
 */

import { Command, CommanderError, Option } from "commander";
import { isAbsolute, join, relative, resolve } from "node:path";
import { writeFileAtomic } from "../src/spec/atomic.ts";
import { check, UserError } from "../src/spec/errors.ts";
import { validateConfig } from "../src/train/config.ts";
import { kubernetesJob, slurmScript } from "../src/reproduce/emit.ts";
import { type ReportContext, reportMarkdown } from "../src/reproduce/markdown.ts";
import { readRecords } from "../src/reproduce/records.ts";
import { removeEarlierLock, trainArgs, trainRun } from "../src/reproduce/run.ts";
import {
  type RunSpec,
  type Scale,
  SCALES,
  TABLE_IDS,
  type TableId,
  tableRuns,
  TABLES,
} from "../src/reproduce/tables.ts";
import { integer, runCommand } from "./common.ts";
import { checkFlagConflicts, configFromFlags, trainCommand } from "./train.ts";

/** When this process started: a run's lock older than this was left by an earlier job. */
const STARTED = new Date(performance.timeOrigin);

/** The repository root: runs train with its cli/train.ts. */
const REPO_ROOT = resolve(new URL("..", import.meta.url).pathname);

/** The `reproduce` command's parser. */
export function reproduceCommand(): Command {
  return new Command("reproduce")
    .description(
      "Train the runs of one of the paper's tables and write a markdown report beside the " +
        "paper's numbers. Running it again resumes; finished runs are kept.",
    )
    .argument("<table>", `which table: ${TABLE_IDS.join(", ")}`)
    .addOption(
      new Option("--scale <scale>", "smoke: tiny, on fixtures; small: minutes on 2 cores; paper")
        .choices(SCALES).default("small"),
    )
    .option("--runs <dir>", "the runs' checkpoints (default: runs/reproduce/<table>-<scale>)")
    .option("--data-root <dir>", "the datasets: ptb/ and imdb/ below it", "../shared/datasets")
    .option("--report <file>", "the report (default: docs/results/<table>-<scale>.md)")
    .option("--index <i>", "train only run i of the table (a cluster job's index)", integer)
    .option("--collect <dir>", "write the report from the checkpoints in dir; train nothing")
    .addOption(
      new Option("--emit <kind>", "write a cluster job with one index per run").choices([
        "k8s",
        "slurm",
      ]),
    )
    .option("--job-file <file>", "where --emit writes (default: runs/reproduce/<table>-<scale>.*)")
    .option("--image <image>", "--emit k8s: an image with sparrow as its working directory")
    .option("--claim <name>", "--emit k8s: a ReadWriteMany volume claim", "sparrow-shared")
    .option("--mount <dir>", "--emit k8s: where the claim is mounted", "/shared")
    .option("--cpus <n>", "--emit: CPUs per run", integer, 8)
    .option("--memory <GiB>", "--emit: memory per run in GiB", integer, 32);
}

/**
 * Refuses, in one line, a table whose runs this build cannot train (a flag
 * it lacks, a preset setting it has no flag for, a bad combination).
 */
export function checkRuns(table: TableId, scale: Scale, runs: RunSpec[]): void {
  for (const run of runs) {
    try {
      const command = trainCommand().exitOverride().configureOutput({
        writeErr: () => {},
        writeOut: () => {},
      }).parse(run.args, { from: "user" });
      const given = (name: string) => command.getOptionValueSource(name) === "cli";
      checkFlagConflicts(command.opts(), given);
      validateConfig(configFromFlags(command.opts(), given));
    } catch (err) {
      if (!(err instanceof UserError || err instanceof CommanderError)) throw err;
      const why = err.message.replace(/^error: /, "");
      throw new UserError(
        `${table} at scale ${scale} cannot run here: its run ${run.name} says: ${why}`,
      );
    }
  }
}

/** A line naming the machine: CPU, cores, memory, Deno. */
async function machine(): Promise<string> {
  let cpu = "an unknown CPU";
  try {
    cpu = (await Deno.readTextFile("/proc/cpuinfo")).match(/^model name\s*:\s*(.+)$/m)?.[1] ?? cpu;
  } catch {
    // Not Linux: the CPU's name is left out.
  }
  const gib = Deno.systemMemoryInfo().total / 2 ** 30;
  return `${cpu}, ${navigator.hardwareConcurrency} logical CPUs, ${gib.toFixed(0)} GiB, ` +
    `Deno ${Deno.version.deno}`;
}

/** `path` as it reads from the repository root, for the report. */
function shown(path: string): string {
  const rel = relative(REPO_ROOT, path);
  return rel.startsWith("..") || isAbsolute(rel) ? path : rel;
}

async function main(args: string[]): Promise<void> {
  const command = reproduceCommand().parse(args, { from: "user" });
  const opts = command.opts();
  const table = command.args[0] as TableId;
  check(
    (TABLE_IDS as readonly string[]).includes(table),
    `unknown table "${table}": use one of ${TABLE_IDS.join(", ")}`,
  );
  const scale = opts.scale as Scale;
  const key = `${table}-${scale}`;
  const runsDir = resolve(opts.runs ?? join(REPO_ROOT, "runs/reproduce", key));
  const dataRoot = resolve(opts.dataRoot);
  const runs = tableRuns(table, scale, { dataRoot, repoRoot: REPO_ROOT });
  const modes = ["index", "collect", "emit"].filter((m) => opts[m] !== undefined);
  check(modes.length <= 1, `--${modes.join(" and --")} do different things; pass one of them`);

  if (opts.emit !== undefined) {
    checkRuns(table, scale, runs);
    const common = { table, scale, runs: runs.length, cpus: opts.cpus, memoryGiB: opts.memory };
    const text = opts.emit === "k8s"
      ? kubernetesJob({
        ...common,
        image: opts.image ?? "sparrow:latest",
        claim: opts.claim,
        mountPath: opts.mount,
        runsDir: opts.runs ?? `${opts.mount}/runs/reproduce/${key}`,
        dataRoot: command.getOptionValueSource("dataRoot") === "cli"
          ? opts.dataRoot
          : `${opts.mount}/datasets`,
      })
      : slurmScript({ ...common, runsDir, dataRoot, repoDir: REPO_ROOT });
    // Slurm opens each task's --output file in the runs' directory before the task starts.
    if (opts.emit === "slurm") await Deno.mkdir(runsDir, { recursive: true });
    const file = resolve(
      opts.jobFile ??
        join(REPO_ROOT, "runs/reproduce", `${key}.${opts.emit === "k8s" ? "yaml" : "sh"}`),
    );
    await writeFileAtomic(file, text);
    console.log(`wrote ${file}: ${runs.length} runs, index i trains run i`);
    return;
  }

  if (opts.index !== undefined) {
    const index: number = opts.index;
    check(
      index >= 0 && index < runs.length,
      `--index ${index} is not a run of ${table}: it has runs 0 to ${runs.length - 1}`,
    );
    checkRuns(table, scale, [runs[index]]);
    if (await removeEarlierLock(runs[index], runsDir, STARTED)) {
      console.log(`removed the lock of ${runs[index].name} left by an earlier job`);
    }
    await trainRun(runs[index], { repoRoot: REPO_ROOT, runsDir, log: logLine });
    return;
  }

  const started = performance.now();
  const fromDir = opts.collect !== undefined ? resolve(opts.collect) : runsDir;
  if (opts.collect === undefined) {
    checkRuns(table, scale, runs);
    for (const [i, run] of runs.entries()) {
      console.log(`run ${i + 1}/${runs.length}: ${run.name}`);
      await trainRun(run, { repoRoot: REPO_ROOT, runsDir, log: logLine });
    }
  }
  const records = await readRecords(fromDir, runs);
  const context: ReportContext = {
    command: ["deno task reproduce", ...args].join(" "),
    scale,
    wallSeconds: opts.collect === undefined ? (performance.now() - started) / 1000 : undefined,
    machine: await machine(),
    runsDir: shown(fromDir),
    commands: runs.map((run) => trainArgs(run, fromDir).map((a) => isAbsolute(a) ? shown(a) : a)),
  };
  const report = resolve(opts.report ?? join(REPO_ROOT, "docs/results", `${key}.md`));
  await writeFileAtomic(report, reportMarkdown(TABLES[table], runs, records, context));
  const missing = records.filter((r) => r === undefined).length;
  console.log(
    `wrote ${report}` + (missing > 0 ? ` (${missing} of ${runs.length} runs not run yet)` : ""),
  );
}

function logLine(run: string, line: string): void {
  console.log(`  [${run}] ${line}`);
}

if (import.meta.main) {
  await runCommand(() => main(Deno.args));
}
