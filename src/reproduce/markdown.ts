/**
 * The reproduction report: the table of our runs beside the paper's
 * numbers, as markdown. {@link resultsTable} depends on the runs' records
 * only, so collecting the records of runs trained elsewhere gives the same
 * table as training them here; {@link reportMarkdown} adds how it was made.
 *
 * @module
 */

import type { RunRecord } from "./records.ts";
import type { RunSpec, Scale, TableSpec } from "./tables.ts";

/** How a report was made, for its header. */
export interface ReportContext {
  /** The command that made it, as typed. */
  command: string;
  scale: Scale;
  /** Wall-clock seconds of that command, or undefined when it only collected. */
  wallSeconds?: number;
  /** The machine the command ran on, in words. */
  machine: string;
  /** Where the runs' checkpoints are. */
  runsDir: string;
  /** Each run's `deno task train` arguments, as run. */
  commands: string[][];
}

/** The markdown table of `records` (one per run of `runs`, undefined if not run yet). */
export function resultsTable(
  table: TableSpec,
  runs: RunSpec[],
  records: (RunRecord | undefined)[],
): string {
  const unit = table.metric === "ppl" ? "ppl" : "acc";
  const header = [
    "run",
    "method",
    "sparsity",
    "epochs",
    `valid ${unit}`,
    `test ${unit}`,
    ...table.references.map((r) => r.header),
    "nonzero params",
    "inference FLOPs",
    "training FLOPs",
    "seconds",
  ];
  const rows = runs.map((run, i) => {
    const record = records[i];
    const references = table.references.map((r) => r.values[run.name] ?? "—");
    if (!record) {
      const target = run.sparsity === undefined ? "—" : `${fixed(run.sparsity * 100, 0)}%`;
      return [
        `\`${run.name}\``,
        run.method,
        target,
        "not run",
        "—",
        "—",
        ...references,
        "—",
        "—",
        "—",
        "—",
      ];
    }
    const metric = (split: string) => formatMetric(record.metrics[`${split}_${unit}`], unit);
    const epochs = record.done
      ? `${record.reportedEpoch} of ${record.epochs}`
      : `${record.epochs} of ${record.epochsPlanned} (unfinished)`;
    return [
      `\`${run.name}\``,
      run.method,
      `${fixed(record.sparsity * 100, 1)}%`,
      epochs,
      metric("valid"),
      metric("test"),
      ...references,
      `${thousands(record.nonzeros)} of ${thousands(record.parameters)}`,
      `${fixed(record.inferenceFlops, 3)}x`,
      `${fixed(record.trainingFlops, 3)}x`,
      fixed(record.seconds, record.seconds < 10 ? 1 : 0),
    ];
  });
  return [header, header.map(() => "---"), ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n");
}

/** The whole report: header, {@link resultsTable}, notes and each run's command. */
export function reportMarkdown(
  table: TableSpec,
  runs: RunSpec[],
  records: (RunRecord | undefined)[],
  context: ReportContext,
): string {
  const made = context.wallSeconds === undefined
    ? `Collected by \`${context.command}\``
    : `Made by \`${context.command}\` in ${formatDuration(context.wallSeconds)}`;
  return [
    `# ${table.title} (scale: ${context.scale})`,
    "",
    `${made} on ${context.machine}. The runs' checkpoints are in \`${context.runsDir}\`` +
    (context.wallSeconds === undefined
      ? "."
      : "; running the same command again resumes unfinished runs and keeps finished ones."),
    "",
    "Epochs: the epoch reported (the best by validation where the run records it, else the " +
    "last) of those trained. FLOPs are relative to the same model trained dense " +
    "(docs/flops.md); seconds are training and evaluation summed over epochs.",
    "",
    resultsTable(table, runs, records),
    "",
    ...table.notes.map((n) => `- ${n}`),
    "",
    "## Runs",
    "",
    ...runs.map((run, i) =>
      `- \`${run.name}\`: \`deno task train ${context.commands[i].map(quote).join(" ")}\``
    ),
    "",
  ].join("\n");
}

function formatMetric(value: number | undefined, unit: "ppl" | "acc"): string {
  if (value === undefined || !Number.isFinite(value)) return "—";
  return unit === "ppl" ? fixed(value, 1) : `${fixed(value * 100, 1)}%`;
}

function fixed(value: number, digits: number): string {
  return value.toFixed(digits);
}

function thousands(n: number): string {
  return n.toLocaleString("en-US");
}

/** `3.2 min`, `45 s`, `1.5 h`. */
export function formatDuration(seconds: number): string {
  if (seconds < 120) return `${seconds.toFixed(0)} s`;
  if (seconds < 7200) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** A shell word: quoted when it holds anything but safe characters. */
export function quote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'"'"'`)}'`;
}
