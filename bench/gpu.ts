/**
 * `deno task bench gpu`: the one command to run on a machine with a GPU. It
 * installs Debian's Vulkan loader if it is missing (the GPU's own Vulkan
 * driver is the machine's: NVIDIA's ships with its driver; in a container it
 * needs `NVIDIA_DRIVER_CAPABILITIES` to include `graphics`), prints the
 * WebGPU adapter, and measures training tokens/s and peak memory of:
 *
 * - `cpu`: the CPU engine (`--compute sparse`, all cores),
 * - `webgpu`: tfjs's op-by-op webgpu kernels (`--compute masked`),
 * - `webgpu fused`: the same with the fused WGSL recurrence
 *   (src/model/fused_webgpu.ts),
 *
 * on the LM and classifier workloads of ./train_step.ts and the medium LM
 * (650 units), with the LSTM or `--cell gru|rhn`. Each measurement runs in
 * its own process under a time limit, so the whole run stays under 8
 * minutes; the table is printed and written to `--out` (runs/bench_gpu.md). On a software adapter (lavapipe) every
 * workload is scaled down 8x, with one timed step, and the table says so.
 *
 * @module
 */

import { Command, Option } from "commander";
import { adapterName, findAdapter, isSoftwareAdapter } from "../src/backend/auto.ts";
import { writeFileAtomic } from "../src/spec/atomic.ts";
import { integer } from "../cli/common.ts";
import { CELL_TYPES } from "../src/spec/config.ts";
import { GPU_WORKLOADS, WORKLOADS } from "./train_step.ts";

/** The whole benchmark's budget; each measurement gets a share of what is left. */
const BUDGET_MS = 7.5 * 60_000;

interface Variant {
  label: string;
  args: string[];
  gpu: boolean;
}

const VARIANTS: Variant[] = [
  { label: "cpu engine", args: ["--compute", "sparse", "--threads", "0"], gpu: false },
  {
    label: "webgpu op-by-op",
    args: ["--compute", "masked", "--backend", "webgpu", "--no-fused"],
    gpu: true,
  },
  { label: "webgpu fused", args: ["--compute", "masked", "--backend", "webgpu"], gpu: true },
];

const LOADER_PATHS = [
  "/usr/lib/x86_64-linux-gnu/libvulkan.so.1",
  "/usr/lib/aarch64-linux-gnu/libvulkan.so.1",
  "/usr/lib64/libvulkan.so.1",
  "/usr/lib/libvulkan.so.1",
];

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

async function run(cmd: string, args: string[]): Promise<boolean> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "inherit" }).output();
    return out.success;
  } catch {
    return false;
  }
}

/** Installs Debian's libvulkan1 where it is missing and apt-get can; says what it did. */
async function ensureVulkanLoader(log: (line: string) => void): Promise<void> {
  for (const path of LOADER_PATHS) if (await exists(path)) return;
  if (Deno.uid() !== 0 || !(await exists("/usr/bin/apt-get"))) {
    log("no Vulkan loader (libvulkan.so.1) and no root apt-get: install libvulkan1 for webgpu");
    return;
  }
  log("installing Debian's Vulkan loader (libvulkan1)");
  const env = [
    "-c",
    "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libvulkan1",
  ];
  if (!(await run("sh", env))) log("apt-get could not install libvulkan1; webgpu may be missing");
}

interface Measured {
  msPerStep: number;
  tokensPerSecond: number;
  peakRssBytes: number;
  peakGpuBytes: number;
  hidden: number;
  vocab: number;
}

/** One train_step process; undefined (with the reason) when it fails or runs out of time. */
async function measure(args: string[], timeoutMs: number): Promise<Measured | string> {
  try {
    const child = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("./train_step.ts", import.meta.url).pathname, ...args],
      stderr: "piped",
      signal: AbortSignal.timeout(timeoutMs),
    }).output();
    if (!child.success) {
      const stderr = new TextDecoder().decode(child.stderr).trim().split("\n");
      const error = stderr.filter((l) => /error/i.test(l) && !/XDG_RUNTIME_DIR/.test(l)).at(0);
      return child.signal ? `stopped after ${Math.round(timeoutMs / 1000)} s` : error ?? "failed";
    }
    const lines = new TextDecoder().decode(child.stdout).trim().split("\n");
    return JSON.parse(lines.at(-1)!);
  } catch (err) {
    return String(err);
  }
}

const mib = (bytes: number) => Number.isFinite(bytes) ? (bytes / 2 ** 20).toFixed(0) : "–";

/** Runs the benchmark; `args` are its flags. */
export async function main(args: string[]): Promise<void> {
  const flags = new Command("bench gpu")
    .option("--out <file>", "where the table is written", "runs/bench_gpu.md")
    .option(
      "--repeats <n>",
      "timed steps per measurement (default 3; 1 on a software adapter)",
      integer,
    )
    .addOption(new Option("--cell <type>", "recurrent cell").choices(CELL_TYPES).default("lstm"))
    .parse(args, { from: "user" })
    .opts();
  const started = Date.now();
  const lines: string[] = [];
  const log = (line: string) => (console.log(line), lines.push(line));

  await ensureVulkanLoader(log);
  const adapter = await findAdapter();
  const software = adapter !== null && isSoftwareAdapter(adapter);
  if (adapter) {
    log(
      `adapter: ${adapterName(adapter)} (vendor ${adapter.vendor || "?"}): ` +
        (software ? "a software adapter (CPU), not a GPU" : "a GPU"),
    );
  } else {
    log("adapter: none (no WebGPU adapter; a GPU needs its Vulkan driver): measuring the CPU only");
  }
  const scale = software ? 1 / 8 : 1;
  const repeats: number = flags.repeats ?? (software ? 1 : 3);
  if (software) {
    log(
      "software adapter: every workload scaled down 8x (vocabulary, hidden size), 2 warm-up steps and 1 timed",
    );
  }
  const variants = VARIANTS.filter((v) => adapter !== null || !v.gpu);
  const all = { ...WORKLOADS, ...GPU_WORKLOADS };
  const workloads = Object.keys(all) as (keyof typeof all)[];
  const table = [
    "| workload | hidden | vocab | variant | tokens/s | ms/step | peak RSS MiB | GPU buffers MiB |",
    "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
  ];
  let left = workloads.length * variants.length;
  for (const workload of workloads) {
    for (const variant of variants) {
      const remaining = BUDGET_MS - (Date.now() - started);
      const timeout = Math.max(5_000, remaining / left--);
      const stepArgs = [
        "--workload",
        workload,
        "--scale",
        String(scale),
        "--repeats",
        String(repeats),
        "--warmup",
        software ? "2" : "3",
        "--cell",
        flags.cell,
        ...variant.args,
      ];
      const result = await measure(stepArgs, timeout);
      const w = all[workload];
      const row = typeof result === "string"
        ? `| ${workload} | ${Math.max(8, Math.round(w.hidden * scale))} | ${
          Math.max(16, Math.round(w.vocab * scale))
        } | ${variant.label} | ${result} | | | |`
        : `| ${workload} | ${result.hidden} | ${result.vocab} | ${variant.label} | ${
          result.tokensPerSecond.toFixed(0)
        } | ${result.msPerStep.toFixed(1)} | ${mib(result.peakRssBytes)} | ${
          mib(result.peakGpuBytes)
        } |`;
      table.push(row);
      console.log(row);
    }
  }
  const header = [
    `# bench gpu, ${new Date().toISOString()}`,
    "",
    ...lines.map((l) => `- ${l}`),
    `- cell ${flags.cell}, sparsity 0.8 of its gate matrices; the CPU engine on ${navigator.hardwareConcurrency} cores`,
    "",
  ];
  await writeFileAtomic(flags.out, [...header, ...table, ""].join("\n"));
  console.log(`table written to ${flags.out} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
}

if (import.meta.main) await main(Deno.args);
