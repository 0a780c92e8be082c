/**
 * `deno task bench train`: training-step speed of the wasm backend, side by
 * side in one run:
 *
 * - stock tfjs-wasm kernels (plus the missing UnsortedSegmentSum, without
 *   which the embedding cannot train at all) vs sparrow's fixed kernels;
 * - the sparse model (masked-dense execution) vs the dense model.
 *
 * Each measurement runs in its own process (tfjs kernels are global).
 * `--quick` shrinks the workloads 4x for a fast smoke run.
 *
 * @module
 */

import { WORKLOADS } from "./train_step.ts";

interface Timing {
  msPerStep: number;
  tokensPerSecond: number;
  hidden: number;
  vocab: number;
}

async function measure(args: string[]): Promise<Timing> {
  const child = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./train_step.ts", import.meta.url).pathname, ...args],
    stderr: "inherit",
  }).output();
  if (!child.success) throw new Error(`train_step ${args.join(" ")} failed`);
  const lines = new TextDecoder().decode(child.stdout).trim().split("\n");
  return JSON.parse(lines.at(-1)!);
}

/** Runs the benchmark and prints its table. */
export async function main(args: string[]): Promise<void> {
  const quick = args.includes("--quick");
  const common = ["--scale", quick ? "0.25" : "1", "--repeats", quick ? "2" : "3"];
  console.log(
    "| workload | sparsity | stock wasm tok/s | fixed wasm tok/s | fixed/stock | sparse/dense (fixed) |",
  );
  console.log("|---|---|---|---|---|---|");
  for (const workload of Object.keys(WORKLOADS)) {
    const dense = await measure(["--workload", workload, "--sparsity", "0", ...common]);
    for (const sparsity of [0.8, 0.95]) {
      const stock = await measure([
        "--workload",
        workload,
        "--sparsity",
        `${sparsity}`,
        "--fixes",
        "segmentSum",
        ...common,
      ]);
      const fixed = await measure(["--workload", workload, "--sparsity", `${sparsity}`, ...common]);
      console.log(
        `| ${workload} H=${fixed.hidden} V=${fixed.vocab} | ${sparsity} | ${
          stock.tokensPerSecond.toFixed(0)
        } | ` +
          `${fixed.tokensPerSecond.toFixed(0)} | ${
            (fixed.tokensPerSecond / stock.tokensPerSecond).toFixed(2)
          }x | ` +
          `${(fixed.tokensPerSecond / dense.tokensPerSecond).toFixed(2)}x |`,
      );
    }
  }
  console.log(
    "\nsparse/dense near 1x is expected: training executes masked-dense products (see docs/flops.md);" +
      " truly sparse kernels are a later step.",
  );
}
