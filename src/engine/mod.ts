/**
 * The CPU training engine: a fused, sparse forward and backward pass for
 * the model family of ../spec/config.ts on WebAssembly SIMD kernels.
 *
 * @module
 */

import { createWasmKernels, type WasmKernels } from "./wasm.ts";

export type { Csr, Kernels, LstmCache, Strided } from "./kernels.ts";
export { createOracleKernels } from "./oracle.ts";
export { createWasmKernels, type WasmKernels } from "./wasm.ts";
export { EnginePool } from "./pool.ts";
export { type EngineBatch, Network, type RecurrentStates } from "./network.ts";
export { EngineTrainer, type TrainerState } from "./trainer.ts";

/** The kernels training runs on: WebAssembly SIMD128. */
export function createKernels(): Promise<WasmKernels> {
  return createWasmKernels();
}
