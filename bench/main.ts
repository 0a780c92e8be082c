/**
 * `deno task bench [name...]`: runs the named benchmarks (all by default).
 * Each prints ratios measured side by side in one run (sparse vs dense,
 * ours vs the baseline): absolute times on shared machines are noisy.
 *
 * @module
 */

import { runCommand } from "../cli/common.ts";
import { UserError } from "../src/spec/errors.ts";

/** Benchmarks by name; each module exports `main(args: string[])`. */
const BENCHMARKS: Record<string, () => Promise<{ main: (args: string[]) => Promise<void> }>> = {
  export: () => import("./export.ts"),
  kernels: () => import("./kernels.ts"),
  train: () => import("./train.ts"),
  gpu: () => import("./gpu.ts"),
};

if (import.meta.main) {
  await runCommand(async () => {
    const [first, ...rest] = Deno.args;
    // gpu installs packages and wants a GPU machine: it runs only when named.
    const names = first && !first.startsWith("-")
      ? [first]
      : Object.keys(BENCHMARKS).filter((name) => name !== "gpu");
    const args = first && !first.startsWith("-") ? rest : Deno.args;
    for (const name of names) {
      const load = BENCHMARKS[name];
      if (!load) {
        throw new UserError(
          `unknown benchmark "${name}": choose one of ${Object.keys(BENCHMARKS).join(", ")}`,
        );
      }
      console.log(`== bench ${name}`);
      await (await load()).main(args);
    }
  });
}
