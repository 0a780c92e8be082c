/**
 * Every core: a batch is split into slices of sequences, one per thread.
 * The main thread computes the first slice on the network itself; each Web
 * Worker computes another on a replica that reads the same weights in the
 * same shared WebAssembly memory and writes gradients of its own, which the
 * main thread then adds up. Dropout masks and the loss scale follow the
 * whole batch, so the sum is the gradient of the whole batch's mean loss.
 *
 * Each thread keeps the recurrent state of its slice between LM windows,
 * one state for training and one for evaluation.
 *
 * @module
 */

import type {
  BatchSlice,
  EngineBatch,
  EngineDropout,
  Network,
  RecurrentStates,
} from "./network.ts";
import { allocateThreadStack, type WasmKernels } from "./wasm.ts";
import { addConfusion, type Confusion } from "../core/metrics.ts";
import type { ModelConfig } from "../spec/config.ts";

/** What one slice's forward (and backward) pass adds up. */
export interface SliceTotals {
  nats: number;
  count: number;
  correct: number;
  /** A classifier's evaluation: counts of (true label, prediction) pairs. */
  confusion?: Confusion;
}

/** Which carried state a pass uses. */
export type Purpose = "train" | "eval";

/** Messages to a worker (./worker.ts). */
export type WorkerRequest =
  | { type: "init"; module: WebAssembly.Module; memory: WebAssembly.Memory; stack: number }
  | { type: "attach"; model: ModelConfig; params: ReturnType<Network["shared"]> }
  | { type: "detach" }
  | {
    type: "run";
    batch: EngineBatch;
    slice: BatchSlice;
    purpose: Purpose;
    reset: boolean;
    drop?: EngineDropout;
    backward: boolean;
  }
  | { type: "dense"; names: string[] };

/** A worker's answer: a result or an error message. */
export type WorkerReply = { ok: true; value?: unknown } | { ok: false; error: string };

/** The sequences of a batch of `batch` each of (at most) `threads` threads computes. */
export function slices(batch: number, threads: number): BatchSlice[] {
  const n = Math.max(1, Math.min(threads, batch));
  return Array.from({ length: n }, (_, i) => {
    const start = Math.floor((i * batch) / n);
    return { offset: start, size: Math.floor(((i + 1) * batch) / n) - start, batch };
  });
}

/** The sequences of `slice` taken out of a time-major batch. */
export function sliceBatch(batch: EngineBatch, slice: BatchSlice, lm: boolean): EngineBatch {
  const { T, B } = batch;
  const b0 = slice.offset, nb = slice.size;
  const pick = (x: Int32Array) => {
    const out = new Int32Array(T * nb);
    for (let t = 0; t < T; t++) out.set(x.subarray(t * B + b0, t * B + b0 + nb), t * nb);
    return out;
  };
  return {
    tokens: pick(batch.tokens),
    T,
    B: nb,
    targets: lm ? pick(batch.targets) : batch.targets.slice(b0, b0 + nb),
    lengths: batch.lengths?.slice(b0, b0 + nb),
  };
}

/** A zeroed state for `B` sequences, reusing `state`'s buffers when they fit. */
export function zeroedState(
  network: Network,
  state: RecurrentStates | undefined,
  B: number,
): RecurrentStates {
  if (!state || state.h[0].length !== network.model.hiddenSize * B) return network.zeroState(B);
  for (const s of [...state.h, ...state.c]) s.fill(0);
  return state;
}

/** States copied out of kernel memory, to survive a reset. */
export type SavedStates = Partial<Record<Purpose, { h: Float32Array[]; c: Float32Array[] }>>;

/** Copies `states` out of kernel memory. */
export function saveStates(states: Partial<Record<Purpose, RecurrentStates>>): SavedStates {
  const saved: SavedStates = {};
  for (const [purpose, s] of Object.entries(states) as [Purpose, RecurrentStates][]) {
    saved[purpose] = { h: s.h.map((x) => x.slice()), c: s.c.map((x) => x.slice()) };
  }
  return saved;
}

/** Puts saved states back into fresh buffers of `network`. */
export function restoreStates(
  network: Network,
  saved: SavedStates,
): Partial<Record<Purpose, RecurrentStates>> {
  const states: Partial<Record<Purpose, RecurrentStates>> = {};
  for (const [purpose, s] of Object.entries(saved) as [Purpose, SavedStates["train"]][]) {
    const state = network.zeroState(s!.h[0].length / network.model.hiddenSize);
    s!.h.forEach((h, l) => state.h[l].set(h));
    s!.c.forEach((c, l) => state.c[l].set(c));
    states[purpose] = state;
  }
  return states;
}

/** One forward (and backward) pass of a slice, from its carried state. */
export function runSlice(
  network: Network,
  states: Partial<Record<Purpose, RecurrentStates>>,
  request: Extract<WorkerRequest, { type: "run" }>,
): SliceTotals {
  const { batch, purpose } = request;
  let state = states[purpose];
  if (!state || request.reset || state.h[0].length !== network.model.hiddenSize * batch.B) {
    state = states[purpose] = zeroedState(network, state, batch.B);
  }
  return network.run(batch, state, request.drop, request.backward, request.slice);
}

class WorkerHandle {
  readonly #worker: Worker;
  #pending?: { resolve: (v: unknown) => void; reject: (e: Error) => void };

  constructor() {
    this.#worker = new Worker(new URL("./worker.ts", import.meta.url).href, { type: "module" });
    this.#worker.onmessage = (e: MessageEvent<WorkerReply>) => {
      const pending = this.#pending!;
      this.#pending = undefined;
      if (e.data.ok) pending.resolve(e.data.value);
      else pending.reject(new Error(`engine worker: ${e.data.error}`));
    };
    this.#worker.onerror = (e) => {
      e.preventDefault();
      this.#pending?.reject(new Error(`engine worker: ${e.message}`));
      this.#pending = undefined;
    };
  }

  call<T>(request: WorkerRequest): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#pending = { resolve: resolve as (v: unknown) => void, reject };
      this.#worker.postMessage(request);
    });
  }

  terminate(): void {
    this.#worker.terminate();
  }
}

/** The threads that compute a network's batches. */
export class EnginePool {
  readonly threads: number;
  readonly #kernels: WasmKernels;
  readonly #workers: WorkerHandle[];
  #network?: Network;
  /** Gradient buffers of each worker's replica, per parameter, in the main thread's view. */
  #workerGrads: Float32Array[][] = [];
  #states: Partial<Record<Purpose, RecurrentStates>> = {};
  /** Workers that computed a slice of the last backward pass. */
  #busyWorkers = 0;

  private constructor(kernels: WasmKernels, workers: WorkerHandle[]) {
    this.#kernels = kernels;
    this.#workers = workers;
    this.threads = workers.length + 1;
  }

  /** A pool of `threads` threads (the main one included) on `kernels`' memory. */
  static async start(kernels: WasmKernels, threads: number): Promise<EnginePool> {
    const workers = Array.from({ length: Math.max(0, threads - 1) }, () => new WorkerHandle());
    const pool = new EnginePool(kernels, workers);
    const stacks = workers.map(() => allocateThreadStack(kernels));
    // Stacks come from the heap and must outlive every reset.
    kernels.keepAllocated();
    await Promise.all(
      workers.map((w, i) =>
        w.call({ type: "init", module: kernels.module, memory: kernels.memory, stack: stacks[i] })
      ),
    );
    return pool;
  }

  /** Computes batches of `network` from now on (after it was built or rebuilt). */
  async attach(network: Network, saved: SavedStates = {}): Promise<void> {
    this.#network = network;
    this.#states = restoreStates(network, saved);
    const params = network.shared();
    const grads = await Promise.all(
      this.#workers.map((w) => w.call<number[]>({ type: "attach", model: network.model, params })),
    );
    this.#workerGrads = grads.map((pointers) =>
      pointers.map((p, i) => this.#kernels.view(Float32Array, p, params[i].length))
    );
  }

  /**
   * Lets go of the network before the kernels' memory is reset; returns the
   * main thread's carried states (the workers keep theirs) for {@link attach}.
   */
  async detach(): Promise<SavedStates> {
    await Promise.all(this.#workers.map((w) => w.call({ type: "detach" })));
    const saved = saveStates(this.#states);
    this.#network = undefined;
    this.#states = {};
    this.#workerGrads = [];
    return saved;
  }

  /**
   * One pass over `batch`, split across the threads. With `backward`, the
   * network's gradients are the whole batch's (the workers' added in).
   */
  async run(
    batch: EngineBatch & { reset?: boolean },
    purpose: Purpose,
    drop: EngineDropout | undefined,
    backward: boolean,
  ): Promise<SliceTotals> {
    const network = this.#network!;
    const lm = network.model.kind === "lm";
    const parts = slices(batch.B, this.threads);
    // A classifier's every batch starts from the zero state; an LM's first window does.
    const reset = !lm || (batch.reset ?? false);
    const request = (slice: BatchSlice) => ({
      type: "run" as const,
      batch: parts.length === 1 ? batch : sliceBatch(batch, slice, lm),
      slice,
      purpose,
      reset,
      drop,
      backward,
    });
    const [first, ...rest] = parts;
    const others = rest.map((slice, i) => this.#workers[i].call<SliceTotals>(request(slice)));
    const totals = [runSlice(network, this.#states, request(first)), ...await Promise.all(others)];
    if (backward) {
      this.#busyWorkers = rest.length;
      network.params.forEach((p, i) => {
        for (let w = 0; w < rest.length; w++) {
          const g = this.#workerGrads[w][i];
          for (let k = 0; k < g.length; k++) p.grad[k] += g[k];
        }
      });
    }
    return totals.reduce((a, b) => ({
      nats: a.nats + b.nats,
      count: a.count + b.count,
      correct: a.correct + b.correct,
      ...(a.confusion && b.confusion ? { confusion: addConfusion(a.confusion, b.confusion) } : {}),
    }));
  }

  /** Dense gradients (spec layout) of the last backward pass, summed over the threads. */
  async denseGradients(names: string[]): Promise<Record<string, Float32Array>> {
    const network = this.#network!;
    const others = this.#workers.slice(0, this.#busyWorkers).map((w) =>
      w.call<Record<string, Float32Array>>({ type: "dense", names })
    );
    const sum = network.denseGradients(names);
    for (const part of await Promise.all(others)) {
      for (const [name, g] of Object.entries(part)) {
        const into = sum[name];
        for (let i = 0; i < g.length; i++) into[i] += g[i];
      }
    }
    return sum;
  }

  /** Ends the workers. */
  close(): void {
    for (const w of this.#workers) w.terminate();
  }
}
