/**
 * `deno task bench export`: every ONNX export format against the dense
 * LSTM op, side by side in one run, for one-layer LSTM language models with
 * random weights of exact sparsity (every weight matrix, embedding and
 * decoder included, has exactly round((1-s)·size) nonzeros):
 *
 * - file size, load time, latency of one call of T tokens at B=1 and B=16,
 *   peak and steady RSS, each format measured in its own process;
 * - whether onnxruntime folded every weight decode at load (its optimized
 *   graph has no constant-only node left);
 * - max |Δlogit| against the dense export on the same input.
 *
 * Flags: `--quick` (H 256 and 650, sparsity 0.9 and 0.99, fewer runs),
 * `--hidden 256,650`, `--sparsity 0.9,0.99`, `--steps 35`, `--vocab 32`,
 * `--rounds 1` (measuring rounds; the best of them counts),
 * `--out docs/results/export.md` (write the tables there as well).
 *
 * @module
 */

import { Command } from "commander";
import { integer } from "../cli/common.ts";
import { Rng } from "../src/core/rng.ts";
import { writeFileAtomic } from "../src/spec/atomic.ts";
import { type LanguageModelConfig, paramSpecs, sizeOf } from "../src/spec/config.ts";
import type { HostParams } from "../src/spec/params.ts";
import { optimizedGraph } from "../export/onnx/fold.ts";
import { measureInChild, type Measurement, type MeasureRequest } from "../export/measure.ts";
import { buildOnnx } from "../export/onnx_model.ts";
import { type Format, formatName } from "../export/target.ts";

/** The formats compared; the first is the baseline, the second the default export. */
const FORMATS: readonly (Format & { label: string })[] = [
  { label: "dense LSTM op (baseline)", compute: "op", storage: "dense", values: "fp32" },
  { label: "default export", compute: "op", storage: "auto", values: "fp32" },
  {
    label: "sparse tensor (Constant sparse_value)",
    compute: "op",
    storage: "sparse-init",
    values: "fp32",
  },
  { label: "bitmask", compute: "op", storage: "bitmask", values: "fp32" },
  { label: "packed, fp16 values", compute: "op", storage: "packed", values: "fp16" },
  { label: "sparse Scan (COO)", compute: "sparse-scan", storage: "auto", values: "fp32" },
  { label: "int8 DynamicQuantizeLSTM", compute: "int8", storage: "auto", values: "fp32" },
  // The baseline measured again: its ratio is the run-to-run noise of this table.
  { label: "dense again (noise floor)", compute: "op", storage: "dense", values: "fp32" },
];

/** Below this sparsity the Scan touches too many nonzeros per step to be worth timing. */
const SCAN_MIN_SPARSITY = 0.9;

/** One format's row. */
interface Row {
  format: Format & { label: string };
  bytes: number;
  m?: Measurement;
  folded: boolean;
  /** onnxruntime's optimized graph has the same op sequence as the dense export's. */
  sameOpsAsDense: boolean;
  maxAbsDiff: number;
  skipped?: string;
}

/** A one-layer LM with every matrix at exactly `sparsity`. */
export function benchModel(
  hidden: number,
  sparsity: number,
  vocab: number,
  seed: number,
): { config: LanguageModelConfig; weights: HostParams } {
  const config: LanguageModelConfig = {
    kind: "lm",
    cell: "lstm",
    vocabSize: vocab,
    embedSize: hidden,
    hiddenSize: hidden,
    layers: 1,
    dropout: 0,
  };
  const rng = new Rng(seed);
  const weights: HostParams = {};
  for (const spec of paramSpecs(config)) {
    const size = sizeOf(spec.shape);
    const data = new Float32Array(size);
    if (spec.role === "bias") {
      for (let i = 0; i < size; i++) data[i] = 0.1 * rng.normal();
    } else {
      const keep = Math.round((1 - sparsity) * size);
      // Partial Fisher–Yates: the first `keep` slots of a shuffled index list.
      const order = new Int32Array(size).map((_, i) => i);
      const scale = 1 / Math.sqrt(Math.max(1, (1 - sparsity) * spec.shape[0]));
      for (let k = 0; k < keep; k++) {
        const j = k + rng.int(size - k);
        [order[k], order[j]] = [order[j], order[k]];
        data[order[k]] = scale * rng.normal();
      }
    }
    weights[spec.name] = { shape: spec.shape, data };
  }
  return { config, weights };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

async function readFloats(path: string): Promise<Float32Array> {
  const bytes = await Deno.readFile(path);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

/** Keeps the faster latencies and load time of two measurements of one file. */
function best(a: Measurement | undefined, b: Measurement): Measurement {
  if (!a) return b;
  const latencyMs: Record<string, number> = {};
  for (const key of Object.keys(b.latencyMs)) {
    latencyMs[key] = Math.min(a.latencyMs[key], b.latencyMs[key]);
  }
  return {
    loadMs: Math.min(a.loadMs, b.loadMs),
    latencyMs,
    peakRssBytes: Math.min(a.peakRssBytes, b.peakRssBytes),
    rssBytes: Math.min(a.rssBytes, b.rssBytes),
    baseRssBytes: Math.min(a.baseRssBytes, b.baseRssBytes),
  };
}

interface BenchSettings {
  steps: number;
  vocab: number;
  rounds: number;
  minRuns: number;
  minMs: number;
  maxMs: number;
}

async function benchOne(
  hidden: number,
  sparsity: number,
  settings: BenchSettings,
  dir: string,
  log: (line: string) => void,
): Promise<Row[]> {
  const { config, weights } = benchModel(
    hidden,
    sparsity,
    settings.vocab,
    1000 * hidden + 100 * sparsity,
  );
  const rows: Row[] = [];
  const paths: string[] = [];
  let denseOps: string | undefined;
  for (const [i, format] of FORMATS.entries()) {
    const path = `${dir}/h${hidden}_s${sparsity}_${i}.onnx`;
    const { bytes } = buildOnnx(config, weights, format);
    await Deno.writeFile(path, bytes);
    paths.push(path);
    const optimized = await optimizedGraph(bytes);
    const ops = optimized.ops.join(",");
    denseOps ??= ops;
    const skipped = format.compute === "sparse-scan" && sparsity < SCAN_MIN_SPARSITY
      ? `not timed below ${SCAN_MIN_SPARSITY} sparsity (each step gathers every nonzero)`
      : undefined;
    rows.push({
      format,
      bytes: bytes.length,
      folded: optimized.unfolded.length === 0,
      sameOpsAsDense: ops === denseOps,
      maxAbsDiff: NaN,
      skipped,
    });
  }
  const request = (i: number): MeasureRequest => ({
    kind: "lm",
    vocabSize: config.vocabSize,
    layers: 1,
    hidden,
    steps: settings.steps,
    batches: [1, 16],
    minRuns: settings.minRuns,
    minMs: settings.minMs,
    maxMs: settings.maxMs,
    outputPath: `${paths[i]}.out`,
  });
  for (let round = 0; round < settings.rounds; round++) {
    for (const [i, row] of rows.entries()) {
      if (row.skipped) continue;
      log(`H=${hidden} s=${sparsity} ${formatName(row.format)} (round ${round + 1})`);
      row.m = best(row.m, await measureInChild(paths[i], request(i)));
    }
  }
  const reference = await readFloats(`${paths[0]}.out`);
  for (const [i, row] of rows.entries()) {
    if (!row.skipped) row.maxAbsDiff = maxAbsDiff(await readFloats(`${paths[i]}.out`), reference);
  }
  for (const path of paths) {
    await Deno.remove(path);
    await Deno.remove(`${path}.out`).catch(() => {});
  }
  return rows;
}

function ratio(value: number, base: number): string {
  return Number.isFinite(value) && Number.isFinite(base) && base > 0
    ? `${(value / base).toFixed(2)}x`
    : "-";
}

function cell(value: number | undefined, base: number | undefined, digits: number): string {
  if (value === undefined || !Number.isFinite(value)) return "-";
  return `${value.toFixed(digits)} (${ratio(value, base ?? NaN)})`;
}

const MB = 2 ** 20;

function foldText(row: Row): string {
  if (!row.folded) return "no";
  return row.sameOpsAsDense ? "yes: runs the dense graph" : "yes";
}

function table(hidden: number, sparsity: number, rows: Row[]): string {
  const base = rows[0];
  const lines = [
    `### H=${hidden}, sparsity ${sparsity}`,
    "",
    "| format | file MB (×dense) | load ms (×) | B=1 ms (×) | B=16 ms (×) | peak RSS MB (×) | model RSS MB at peak / after load | decode folds at load | max abs Δ vs dense |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  for (const row of rows) {
    const m = row.m;
    const name = `${row.format.label} \`${formatName(row.format)}\``;
    if (!m) {
      lines.push(
        `| ${name} | ${cell(row.bytes / MB, base.bytes / MB, 3)} | ${
          row.skipped ?? "-"
        } | | | | | ${row.folded ? "yes" : "no"} | |`,
      );
      continue;
    }
    lines.push(
      `| ${name} | ${cell(row.bytes / MB, base.bytes / MB, 3)} | ${
        cell(m.loadMs, base.m?.loadMs, 0)
      } | ` +
        `${cell(m.latencyMs[1], base.m?.latencyMs[1], 2)} | ${
          cell(m.latencyMs[16], base.m?.latencyMs[16], 1)
        } | ` +
        `${cell(m.peakRssBytes / MB, (base.m?.peakRssBytes ?? NaN) / MB, 0)} | ` +
        `${((m.peakRssBytes - m.baseRssBytes) / MB).toFixed(0)} / ${
          ((m.rssBytes - m.baseRssBytes) / MB).toFixed(0)
        } | ` +
        `${foldText(row)} | ${row.maxAbsDiff.toExponential(1)} |`,
    );
  }
  return lines.join("\n");
}

/** The targets, checked against the measured rows. */
function targets(results: { hidden: number; sparsity: number; rows: Row[] }[]): string {
  const lines = ["## Targets", ""];
  for (const { hidden, sparsity, rows } of results) {
    const dense = rows[0];
    if (sparsity === 0.95) {
      const d = rows[1];
      const smaller = dense.bytes / d.bytes;
      const b1 = (d.m?.latencyMs[1] ?? NaN) / (dense.m?.latencyMs[1] ?? NaN);
      const b16 = (d.m?.latencyMs[16] ?? NaN) / (dense.m?.latencyMs[16] ?? NaN);
      const again = rows.at(-1)!;
      const noise = [1, 16].map((b) =>
        ((again.m?.latencyMs[b] ?? NaN) / (dense.m?.latencyMs[b] ?? NaN)).toFixed(2)
      );
      const fold = d.folded ? "folds at load" : "does NOT fold";
      const graph = d.sameOpsAsDense ? "has the same ops as dense's" : "DIFFERS from dense's";
      lines.push(
        `- H=${hidden}, 95%: default export \`${formatName(d.format)}\` is ${
          smaller.toFixed(1)
        }x ` +
          `smaller than dense (target ≥ 8x: ${smaller >= 8 ? "met" : "missed"}); latency ` +
          `${b1.toFixed(2)}x dense at B=1, ${
            b16.toFixed(2)
          }x at B=16. Its weight decoding ${fold} ` +
          `and onnxruntime's optimized graph ${graph}. ` +
          latencyVerdict([b1, b16], noise.map(Number)),
      );
    }
    if (sparsity === 0.99) {
      const timed = rows.filter((r) => r.m && r.format.storage !== "dense");
      const fastest = (candidates: Row[]) =>
        candidates.reduce<Row | undefined>(
          (a, r) => !a || r.m!.latencyMs[16] < a.m!.latencyMs[16] ? r : a,
          undefined,
        );
      const exact = fastest(
        timed.filter((r) => r.format.compute !== "int8" && r.format.values === "fp32"),
      );
      const any = fastest(timed);
      const describe = (r: Row | undefined) => {
        if (!r) return "none";
        const x = r.m!.latencyMs[16] / dense.m!.latencyMs[16];
        return `\`${formatName(r.format)}\` at ${x.toFixed(3)}x dense (${
          x < 1 ? "faster" : "not faster"
        })`;
      };
      lines.push(
        `- H=${hidden}, 99%, B=16: fastest exact format ${describe(exact)}; fastest of all ${
          describe(any)
        }.`,
      );
    }
  }
  return lines.join("\n");
}

/**
 * What the latency ratios of a format against dense say, given the ratios
 * of dense measured twice (`noise`), at B=1 and B=16: a ratio counts as
 * within the run-to-run spread only if it is no farther from 1 than the
 * dense-against-dense ratio of the same batch size.
 */
export function latencyVerdict(ratios: number[], noise: number[]): string {
  const sizes = ["B=1", "B=16"];
  const parts = ratios.map((r, i) => {
    const spread = Math.abs(noise[i] - 1);
    if (!Number.isFinite(r) || !Number.isFinite(spread)) return `${sizes[i]}: not measured`;
    const within = Math.abs(r - 1) <= spread;
    return `${sizes[i]} ${r.toFixed(2)}x is ${within ? "within" : "outside"} the spread of ` +
      `dense measured twice (${noise[i].toFixed(2)}x)`;
  });
  return `Latency: ${parts.join("; ")}.`;
}

/** What the machine a benchmark ran on is, as far as it can be measured at run time. */
export interface MachineInfo {
  cpu?: string;
  logicalCpus: number;
  os: string;
  osRelease: string;
  memoryBytes?: number;
  loadAverage?: number[];
  deno: string;
}

/** Measures {@link MachineInfo} now. */
export async function measureMachine(): Promise<MachineInfo> {
  let cpu: string | undefined;
  try {
    const info = await Deno.readTextFile("/proc/cpuinfo");
    cpu = info.match(/^model name\s*:\s*(.+)$/m)?.[1];
  } catch {
    // Not readable here (not Linux, or no permission): left out.
  }
  const optional = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch {
      return undefined;
    }
  };
  return {
    cpu,
    logicalCpus: navigator.hardwareConcurrency,
    os: `${Deno.build.os} ${Deno.build.arch}`,
    osRelease: Deno.osRelease(),
    memoryBytes: optional(() => Deno.systemMemoryInfo().total),
    loadAverage: optional(() => Deno.loadavg()),
    deno: Deno.version.deno,
  };
}

/** One line describing a measured machine; unknown parts are left out. */
export function describeMachine(m: MachineInfo): string {
  return [
    m.cpu ?? "CPU model not readable",
    `${m.logicalCpus} logical CPUs`,
    ...(m.memoryBytes ? [`${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB memory`] : []),
    `${m.os}, kernel ${m.osRelease}`,
    ...(m.loadAverage ? [`load average ${m.loadAverage[0].toFixed(2)} at the start`] : []),
    `Deno ${m.deno}`,
  ].join(", ");
}

/** Runs the benchmark, prints its tables and optionally writes them to a file. */
export async function main(args: string[]): Promise<void> {
  const list = (value: string) => value.split(",").map(Number);
  const flags = new Command("bench export")
    .option("--quick", "H 256 and 650, sparsity 0.9 and 0.99, fewer runs")
    .option("--hidden <list>", "hidden sizes", list)
    .option("--sparsity <list>", "sparsities", list)
    .option("--steps <n>", "tokens per call", integer, 35)
    .option("--vocab <n>", "vocabulary size", integer, 32)
    .option("--rounds <n>", "measuring rounds (the best counts)", integer, 1)
    .option("--out <file>", "also write the tables to this markdown file")
    .parse(args, { from: "user" })
    .opts();
  const quick = flags.quick === true;
  const hiddens: number[] = flags.hidden ?? (quick ? [256, 650] : [256, 650, 1500]);
  const sparsities: number[] = flags.sparsity ?? (quick ? [0.9, 0.99] : [0.67, 0.9, 0.95, 0.99]);
  const settings: BenchSettings = {
    steps: flags.steps,
    vocab: flags.vocab,
    rounds: flags.rounds,
    minRuns: quick ? 3 : 5,
    minMs: quick ? 150 : 400,
    maxMs: quick ? 1000 : 3000,
  };
  const command = `deno task bench export ${args.join(" ")}`.trim();
  const started = performance.now();
  const machine = describeMachine(await measureMachine());
  const dir = await Deno.makeTempDir({ prefix: "sparrow-bench-export-" });
  const results: { hidden: number; sparsity: number; rows: Row[] }[] = [];
  const sections: string[] = [];
  try {
    for (const hidden of hiddens) {
      for (const sparsity of sparsities) {
        const rows = await benchOne(hidden, sparsity, settings, dir, (line) => console.error(line));
        results.push({ hidden, sparsity, rows });
        const text = table(hidden, sparsity, rows);
        sections.push(text);
        console.log(text + "\n");
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const summary = targets(results);
  console.log(summary);
  const minutes = ((performance.now() - started) / 60000).toFixed(1);
  console.log(`\n(${minutes} min)`);
  if (flags.out) {
    const doc = [
      "# Export formats: size, load, latency and memory against the dense LSTM op",
      "",
      `Made by \`${command}\` in ${minutes} min on ${machine}; onnxruntime-node sessions with ` +
      "1 intra-op thread.",
      "",
      `Model: one-layer LSTM language model, embedding = hidden = H, vocabulary ${settings.vocab}; every weight ` +
      "matrix (embedding and decoder included) has exactly round((1-s)·size) random nonzeros. One call runs " +
      `T=${settings.steps} tokens. Each format is measured in its own process; latency is the median of at least ` +
      `${settings.minRuns} calls, or 2 for formats slower than ${
        settings.maxMs / 1000
      } s per call set ` +
      `(best of ${settings.rounds} round(s)); ratios are against the dense LSTM op in the same run. ` +
      "The last row of each table measures the dense export again: its ratios are this run's " +
      "run-to-run spread.",
      "",
      summary,
      "",
      ...sections.flatMap((s) => [s, ""]),
    ].join("\n");
    await writeFileAtomic(flags.out, doc);
    console.log(`written to ${flags.out}`);
  }
}
