/**
 * Parameters as plain data: what checkpoints store, what export and
 * inference read, and what the sparse core and the CPU engine compute on.
 * Names and shapes come from `paramSpecs` (./config.ts).
 *
 * @module
 */

/** One parameter: its shape and row-major values. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/** All parameters of a model, keyed by the names from `paramSpecs` (./config.ts). */
export type HostParams = Record<string, HostTensor>;
