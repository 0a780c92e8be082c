/**
 * The CPU training engine: a fused, sparse forward and backward pass for
 * the model family of ../spec/config.ts on WebAssembly SIMD kernels.
 *
 * @module
 */

import type { Kernels } from "./kernels.ts";
import { createOracleKernels } from "./oracle.ts";

export type { Csr, Kernels, LstmCache, Strided } from "./kernels.ts";
export { createOracleKernels } from "./oracle.ts";
export { type EngineBatch, Network, type RecurrentStates } from "./network.ts";
export { EngineTrainer, type TrainerState } from "./trainer.ts";

/** The fastest kernels available. */
export function createKernels(): Promise<Kernels> {
  return Promise.resolve(createOracleKernels());
}
