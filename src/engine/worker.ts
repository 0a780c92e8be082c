/**
 * A Web Worker of the engine's thread pool (./pool.ts): it computes its
 * slice of each batch on a replica of the main thread's network, in the
 * same shared WebAssembly memory.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { Network } from "./network.ts";
import {
  type Purpose,
  restoreStates,
  runSlice,
  type SavedStates,
  saveStates,
  type WorkerReply,
  type WorkerRequest,
} from "./pool.ts";
import type { RecurrentStates } from "./network.ts";
import { instantiateKernels, type WasmKernels } from "./wasm.ts";

let kernels: WasmKernels | undefined;
let network: Network | undefined;
let states: Partial<Record<Purpose, RecurrentStates>> = {};
let saved: SavedStates = {};

function handle(request: WorkerRequest): unknown {
  switch (request.type) {
    case "init":
      kernels = instantiateKernels(request.module, request.memory, request.stack);
      return;
    case "attach":
      network = new Network(kernels!, request.model, request.params);
      states = restoreStates(network, saved);
      saved = {};
      return network.params.map((p) => p.grad.byteOffset);
    case "detach":
      saved = saveStates(states);
      network = undefined;
      states = {};
      return;
    case "run":
      return runSlice(network!, states, request);
    case "dense":
      return network!.denseGradients(request.names);
  }
}

self.onmessage = (e: MessageEvent<WorkerRequest>) => {
  let reply: WorkerReply;
  try {
    reply = { ok: true, value: handle(e.data) };
  } catch (err) {
    reply = { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  self.postMessage(reply);
};
