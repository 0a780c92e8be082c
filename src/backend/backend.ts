/**
 * Chooses and starts the tfjs backend that trains the models.
 *
 * - `wasm` (default): XNNPACK on one CPU thread, with the fixes of
 *   ./wasm_fixes.ts.
 * - `webgpu`: tfjs's WebGPU backend through Deno's WebGPU (a GPU's Vulkan
 *   driver, or Mesa's software lavapipe where there is no GPU).
 * - `cpu`: tfjs's pure-JS kernels, about 100x slower; for debugging only.
 * - `tensorflow`: @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node, if
 *   the user has installed one (it is not a dependency: its installer
 *   downloads libtensorflow).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { UserError } from "../spec/errors.ts";
import { installWasmFixes, type WasmFix } from "./wasm_fixes.ts";

/** The backends `--backend` accepts. */
export const BACKENDS = ["wasm", "webgpu", "cpu", "tensorflow"] as const;

/** A backend name. */
export type BackendName = typeof BACKENDS[number];

const TFJS_NODE_PACKAGES = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"];

async function importTensorflowBinding(): Promise<string> {
  for (const name of TFJS_NODE_PACKAGES) {
    // Probe node_modules first: importing a package that is not installed
    // would make Deno try to install it, running its libtensorflow download.
    const dir = new URL(`../../node_modules/${name}/package.json`, import.meta.url);
    try {
      await Deno.stat(dir);
    } catch {
      continue;
    }
    await import(`npm:${name}`);
    return name;
  }
  throw new UserError(
    "--backend tensorflow needs @tensorflow/tfjs-node-gpu (CUDA) or @tensorflow/tfjs-node: " +
      "install one with `deno add npm:@tensorflow/tfjs-node-gpu@4.22.0 && deno approve-scripts` " +
      "(its installer downloads libtensorflow), or use --backend wasm",
  );
}

/**
 * Starts `name` as tfjs's backend; resolves once it is ready. `wasmFixes`
 * chooses which wasm kernel fixes to install (all by default).
 */
export async function useBackend(
  name: BackendName,
  wasmFixes?: readonly WasmFix[],
): Promise<void> {
  if (!BACKENDS.includes(name)) {
    throw new UserError(
      `unknown backend "${name}": choose one of ${BACKENDS.join(", ")}`,
    );
  }
  tf.env().set("IS_TEST", false);
  if (name === "wasm") installWasmFixes(wasmFixes);
  if (name === "webgpu") {
    if (!("gpu" in navigator)) {
      throw new UserError(
        "--backend webgpu: this Deno has no WebGPU; run with --unstable-webgpu (the deno tasks pass it)",
      );
    }
    await import("@tensorflow/tfjs-backend-webgpu");
  }
  let backendName: string = name;
  if (name === "tensorflow") {
    await importTensorflowBinding();
    backendName = "tensorflow";
  }
  const ok = await tf.setBackend(backendName).catch(() => false);
  if (!ok) {
    throw new UserError(
      `backend "${name}" failed to start on this machine` +
        (name === "webgpu"
          ? " (no WebGPU adapter: install a Vulkan driver, e.g. Debian's mesa-vulkan-drivers)"
          : "") +
        "; try --backend wasm",
    );
  }
  await tf.ready();
}
