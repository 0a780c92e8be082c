/**
 * The WebAssembly SIMD128 kernels (built from `kernels.c` into
 * `kernels.wasm` by `deno task build:kernels`), behind the {@link Kernels}
 * interface.
 *
 * The module runs on a shared `WebAssembly.Memory`: growing shared memory
 * never detaches the views already handed out, and Web Workers can later run
 * kernels on the same buffers. Buffers come from a bump allocator that starts
 * at the module's `__heap_base`; {@link Kernels.reset} frees them all at once.
 *
 * @module
 */

import type { Csr, Kernels, LstmCache, Strided } from "./kernels.ts";
import type { RhnWeights } from "./rhn.ts";

const WASM_URL = new URL("./kernels.wasm", import.meta.url);
const PAGE = 65536;
/** 4 GiB, the most wasm32 can address; shared memory must declare a maximum. */
const MAX_PAGES = 65536;
/** Buffers start on cache lines. */
const ALIGN = 64;

/** The functions kernels.c exports; pointers are byte addresses. */
interface Exports {
  __heap_base: WebAssembly.Global;
  __stack_pointer: WebAssembly.Global;
  csr_forward(...a: number[]): void;
  csr_backward_input(...a: number[]): void;
  csr_weight_grad(...a: number[]): void;
  add_bias(...a: number[]): void;
  bias_grad(...a: number[]): void;
  multiply(...a: number[]): void;
  scale(...a: number[]): void;
  sum_squares(...a: number[]): number;
  adam(...a: number[]): void;
  sgd(...a: number[]): void;
  embed_forward(...a: number[]): void;
  embed_backward(...a: number[]): void;
  lstm_forward(...a: number[]): void;
  lstm_backward(...a: number[]): void;
  rhn_forward(...a: number[]): void;
  rhn_backward(...a: number[]): void;
  gru_forward(...a: number[]): void;
  gru_backward(...a: number[]): void;
  softmax_cross_entropy(...a: number[]): number;
  softmax_loss(...a: number[]): number;
}

let compiled: WebAssembly.Module | undefined;

/** The compiled kernels module (compiled once per process). */
export async function kernelsModule(): Promise<WebAssembly.Module> {
  compiled ??= await WebAssembly.compile(await Deno.readFile(WASM_URL));
  return compiled;
}

/** {@link kernelsModule}, synchronously. */
export function kernelsModuleSync(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(Deno.readFileSync(WASM_URL));
  return compiled;
}

/** The WASM kernels with their own shared memory. */
export async function createWasmKernels(): Promise<WasmKernels> {
  return instantiateKernels(await kernelsModule(), newMemory());
}

/** {@link createWasmKernels}, synchronously. */
export function createWasmKernelsSync(): WasmKernels {
  return instantiateKernels(kernelsModuleSync(), newMemory());
}

function newMemory(): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: 4, maximum: MAX_PAGES, shared: true });
}

/** Kernels on a WebAssembly memory that other threads can share. */
export interface WasmKernels extends Kernels {
  readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
  /** Keeps every buffer handed out so far through later {@link Kernels.reset}s. */
  keepAllocated(): void;
  /** A view of `length` elements at byte address `pointer` of this memory. */
  view<T extends Float32Array | Int32Array>(
    type: { new (buffer: ArrayBufferLike, offset: number, length: number): T },
    pointer: number,
    length: number,
  ): T;
}

/** Bytes of stack each additional thread gets. */
const THREAD_STACK_BYTES = 1 << 20;

/**
 * The kernels of `module` on `memory`. The first instance on a memory
 * (`stack` omitted) owns the allocator's state; a Worker's instance on the
 * same memory passes `stack`, the top of a stack the first one allocated for
 * it with {@link allocateThreadStack}: threads share the heap, never a stack.
 */
export function instantiateKernels(
  module: WebAssembly.Module,
  memory: WebAssembly.Memory,
  stack?: number,
): WasmKernels {
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const e = instance.exports as unknown as Exports;
  if (stack !== undefined) e.__stack_pointer.value = stack;
  // The allocator's top lives in the first word of the heap, so that every
  // thread allocates from the same heap (a compare-and-swap bump).
  const topSlot = align(e.__heap_base.value as number) / 4;
  // Where reset() rewinds to: the heap's start, or past buffers kept for good.
  let heapStart = align(topSlot * 4 + 4);
  const words = () => new Uint32Array(memory.buffer, 0, topSlot + 1);
  if (stack === undefined) Atomics.store(words(), topSlot, heapStart);

  // Every SharedArrayBuffer object handed out: after a grow, memory.buffer is
  // a new object over the same memory, and older views keep the old one.
  const ours = new WeakSet<ArrayBufferLike>();

  function alloc(bytes: number): [ArrayBufferLike, number] {
    let start: number, end: number;
    for (;;) {
      const top = Atomics.load(words(), topSlot);
      start = align(top);
      end = start + bytes;
      if (end > MAX_PAGES * PAGE) {
        throw new RangeError(
          `kernel memory exhausted: ${end} bytes needed, 4 GiB is the maximum memory`,
        );
      }
      if (Atomics.compareExchange(words(), topSlot, top, end) === top) break;
    }
    const have = memory.buffer.byteLength;
    if (end > have) memory.grow(Math.ceil((end - have) / PAGE));
    const buffer = memory.buffer;
    ours.add(buffer);
    // Memory handed out before a reset may hold old values.
    new Uint8Array(buffer, start, bytes).fill(0);
    return [buffer, start];
  }

  function ptr(view: Float32Array | Int32Array, name: string): number {
    if (!ours.has(view.buffer)) {
      throw new Error(`${name} is not a buffer of these kernels: allocate it with f32() or i32()`);
    }
    return view.byteOffset;
  }
  const opt = (view: Float32Array | null, name: string) => view === null ? 0 : ptr(view, name);

  function need(view: Float32Array | Int32Array, length: number, name: string): void {
    if (view.length < length) {
      throw new Error(`${name} holds ${view.length} elements, the kernel needs ${length}`);
    }
  }
  /** Checks every index is in [0, n): the kernels index memory with them. */
  function indices(ix: Int32Array, N: number, n: number, name: string, what: string): void {
    need(ix, N, name);
    for (let i = 0; i < N; i++) {
      if (!(ix[i] >= 0 && ix[i] < n)) {
        throw new Error(`${name}[${i}] is ${ix[i]}, outside the ${n} ${what}`);
      }
    }
  }
  /** Checks `rows` rows of `N` columns, `ld` apart, fit in `s`. */
  function strided(s: Strided, rows: number, N: number, name: string): number {
    if (rows > 0 && N > 0) {
      if (rows > 1 && N > s.ld) {
        throw new Error(`${name}: ${N} columns do not fit in a row of ${s.ld}`);
      }
      need(s.data, (rows - 1) * s.ld + N, name);
    }
    return ptr(s.data, name);
  }
  /** The CSR's pointers, after checking its arrays hold what rowPtr says. */
  function csr(W: Csr, name: string): [number, number, number] {
    need(W.rowPtr, W.rows + 1, `${name}.rowPtr`);
    const nnz = W.rowPtr[W.rows];
    need(W.colIdx, nnz, `${name}.colIdx`);
    need(W.values, nnz, `${name}.values`);
    return [
      ptr(W.rowPtr, `${name}.rowPtr`),
      ptr(W.colIdx, `${name}.colIdx`),
      ptr(W.values, `${name}.values`),
    ];
  }

  // Per RHN layer: the addresses of each micro-layer's R (CSR) and bias, which the kernel reads.
  const rhnTables = new WeakMap<RhnWeights, Int32Array>();
  function rhnTable(w: RhnWeights, H: number): Int32Array {
    let table = rhnTables.get(w);
    if (!table) {
      const [buffer, start] = alloc(4 * 4 * w.R.length);
      table = new Int32Array(buffer, start, 4 * w.R.length);
      for (const [k, R] of w.R.entries()) {
        if (R.rows !== 2 * H || R.cols !== H) {
          throw new RangeError(`R.${k}: ${R.rows}×${R.cols}, expected ${2 * H}×${H}`);
        }
        need(w.b[k], 2 * H, `b.${k}`);
        const [rp, ci, val] = csr(R, `R.${k}`);
        table.set([rp, ci, val, ptr(w.b[k], `b.${k}`)], 4 * k);
      }
      rhnTables.set(w, table);
    }
    return table;
  }

  return {
    module,
    memory,
    keepAllocated() {
      heapStart = Atomics.load(words(), topSlot);
    },
    view(type, pointer, length) {
      const buffer = memory.buffer;
      ours.add(buffer);
      return new type(buffer, pointer, length);
    },
    f32(length) {
      const [buffer, start] = alloc(length * 4);
      return new Float32Array(buffer, start, length);
    },
    i32(length) {
      const [buffer, start] = alloc(length * 4);
      return new Int32Array(buffer, start, length);
    },
    reset() {
      Atomics.store(words(), topSlot, heapStart);
    },

    csrForward(W, x, y, N, accumulate) {
      const [rp, ci, val] = csr(W, "W");
      e.csr_forward(
        W.rows,
        rp,
        ci,
        val,
        strided(x, W.cols, N, "x"),
        x.ld,
        strided(y, W.rows, N, "y"),
        y.ld,
        N,
        accumulate ? 1 : 0,
      );
    },
    csrBackwardInput(W, dy, dx, N) {
      const [rp, ci, val] = csr(W, "W");
      e.csr_backward_input(
        W.rows,
        rp,
        ci,
        val,
        strided(dy, W.rows, N, "dy"),
        dy.ld,
        strided(dx, W.cols, N, "dx"),
        dx.ld,
        N,
      );
    },
    csrWeightGrad(W, dy, x, N, grad) {
      const [rp, ci] = csr(W, "W");
      need(grad, W.rowPtr[W.rows], "grad");
      e.csr_weight_grad(
        W.rows,
        rp,
        ci,
        strided(dy, W.rows, N, "dy"),
        dy.ld,
        strided(x, W.cols, N, "x"),
        x.ld,
        N,
        ptr(grad, "grad"),
      );
    },

    addBias(y, rows, N, bias) {
      need(bias, rows, "bias");
      e.add_bias(strided(y, rows, N, "y"), y.ld, rows, N, ptr(bias, "bias"));
    },
    biasGrad(dy, rows, N, grad) {
      need(grad, rows, "grad");
      e.bias_grad(strided(dy, rows, N, "dy"), dy.ld, rows, N, ptr(grad, "grad"));
    },
    multiply(x, mask, length) {
      need(x, length, "x");
      need(mask, length, "mask");
      e.multiply(ptr(x, "x"), ptr(mask, "mask"), length);
    },

    embedForward(E, tokens, out, N) {
      const [rp, ci, val] = csr(E, "E");
      indices(tokens, N, E.rows, "tokens", "rows of E");
      e.embed_forward(
        E.cols,
        rp,
        ci,
        val,
        ptr(tokens, "tokens"),
        strided(out, E.cols, N, "out"),
        out.ld,
        N,
      );
    },
    rhnForward(weights, zx, s0, shape, stepMask, hiddenMask, cache, sT) {
      const { T, B, H, D } = shape;
      const N = T * B;
      need(zx, 2 * H * N, "zx");
      need(s0, H * B, "s0");
      need(sT, H * B, "sT");
      need(cache.s, D * H * N, "cache.s");
      need(cache.acts, D * 2 * H * N, "cache.acts");
      need(cache.sIn, D * H * N, "cache.sIn");
      if (stepMask !== null) need(stepMask, N, "stepMask");
      if (hiddenMask !== null) need(hiddenMask, H * B, "hiddenMask");
      e.rhn_forward(
        H,
        D,
        ptr(rhnTable(weights, H), "table"),
        ptr(zx, "zx"),
        ptr(s0, "s0"),
        T,
        B,
        opt(stepMask, "stepMask"),
        opt(hiddenMask, "hiddenMask"),
        ptr(cache.s, "cache.s"),
        ptr(cache.acts, "cache.acts"),
        ptr(cache.sIn, "cache.sIn"),
        ptr(sT, "sT"),
      );
    },
    rhnBackward(
      weights,
      s0,
      shape,
      stepMask,
      hiddenMask,
      cache,
      dOut,
      dsT,
      dz,
      ds0,
      scratch,
      scratch2,
    ) {
      const { T, B, H, D } = shape;
      const N = T * B;
      need(dOut, H * N, "dOut");
      need(dz, D * 2 * H * N, "dz");
      for (
        const [v, name] of [[s0, "s0"], [dsT, "dsT"], [ds0, "ds0"], [scratch, "scratch"], [
          scratch2,
          "scratch2",
        ]] as const
      ) {
        need(v, H * B, name);
      }
      if (stepMask !== null) need(stepMask, N, "stepMask");
      if (hiddenMask !== null) need(hiddenMask, H * B, "hiddenMask");
      e.rhn_backward(
        H,
        D,
        ptr(rhnTable(weights, H), "table"),
        ptr(s0, "s0"),
        T,
        B,
        opt(stepMask, "stepMask"),
        opt(hiddenMask, "hiddenMask"),
        ptr(cache.s, "cache.s"),
        ptr(cache.acts, "cache.acts"),
        ptr(dOut, "dOut"),
        ptr(dsT, "dsT"),
        ptr(dz, "dz"),
        ptr(ds0, "ds0"),
        ptr(scratch, "scratch"),
        ptr(scratch2, "scratch2"),
      );
    },

    embedBackward(E, tokens, dOut, N, grad) {
      const [rp, ci] = csr(E, "E");
      indices(tokens, N, E.rows, "tokens", "rows of E");
      need(grad, E.rowPtr[E.rows], "grad");
      e.embed_backward(
        rp,
        ci,
        ptr(tokens, "tokens"),
        strided(dOut, E.cols, N, "dOut"),
        dOut.ld,
        N,
        ptr(grad, "grad"),
      );
    },

    lstmForward(R, zx, h0, c0, T, B, stepMask, h, cache, hT, cT) {
      const H = lstmShape(R);
      const [rp, ci, val] = csr(R, "R");
      const TB = T * B;
      need(zx, 4 * H * TB, "zx");
      lstmState(h0, c0, H * B, "h0", "c0");
      lstmState(hT, cT, H * B, "hT", "cT");
      if (stepMask !== null) need(stepMask, TB, "stepMask");
      need(h, H * TB, "h");
      lstmCache(cache, H, TB);
      e.lstm_forward(
        H,
        rp,
        ci,
        val,
        ptr(zx, "zx"),
        ptr(h0, "h0"),
        ptr(c0, "c0"),
        T,
        B,
        opt(stepMask, "stepMask"),
        ptr(h, "h"),
        ptr(cache.gates, "cache.gates"),
        ptr(cache.c, "cache.c"),
        ptr(cache.tanhC, "cache.tanhC"),
        ptr(hT, "hT"),
        ptr(cT, "cT"),
      );
    },
    lstmBackward(R, h0, c0, T, B, stepMask, h, cache, dh, dhT, dcT, dz, dh0, dc0, dR) {
      const H = lstmShape(R);
      const [rp, ci, val] = csr(R, "R");
      const TB = T * B;
      lstmState(h0, c0, H * B, "h0", "c0");
      lstmState(dhT, dcT, H * B, "dhT", "dcT");
      lstmState(dh0, dc0, H * B, "dh0", "dc0");
      if (stepMask !== null) need(stepMask, TB, "stepMask");
      need(h, H * TB, "h");
      need(dh, H * TB, "dh");
      need(dz, 4 * H * TB, "dz");
      need(dR, R.rowPtr[R.rows], "dR");
      lstmCache(cache, H, TB);
      e.lstm_backward(
        H,
        rp,
        ci,
        val,
        ptr(h0, "h0"),
        ptr(c0, "c0"),
        T,
        B,
        opt(stepMask, "stepMask"),
        ptr(h, "h"),
        ptr(cache.gates, "cache.gates"),
        ptr(cache.c, "cache.c"),
        ptr(cache.tanhC, "cache.tanhC"),
        ptr(dh, "dh"),
        ptr(dhT, "dhT"),
        ptr(dcT, "dcT"),
        ptr(dz, "dz"),
        ptr(dh0, "dh0"),
        ptr(dc0, "dc0"),
        ptr(dR, "dR"),
      );
    },
    gruForward(R, bR, zx, h0, T, B, stepMask, h, cache, hT) {
      const H = gruShape(R);
      const [rp, ci, val] = csr(R, "R");
      const TB = T * B;
      need(bR, H, "bR");
      need(zx, 3 * H * TB, "zx");
      need(h0, H * B, "h0");
      need(hT, H * B, "hT");
      if (stepMask !== null) need(stepMask, TB, "stepMask");
      need(h, H * TB, "h");
      need(cache.gates, 4 * H * TB, "cache.gates");
      e.gru_forward(
        H,
        rp,
        ci,
        val,
        ptr(bR, "bR"),
        ptr(zx, "zx"),
        ptr(h0, "h0"),
        T,
        B,
        opt(stepMask, "stepMask"),
        ptr(h, "h"),
        ptr(cache.gates, "cache.gates"),
        ptr(hT, "hT"),
      );
    },
    gruBackward(R, h0, T, B, stepMask, h, cache, dh, dhT, dz, da, dh0, dR) {
      const H = gruShape(R);
      const [rp, ci, val] = csr(R, "R");
      const TB = T * B;
      need(h0, H * B, "h0");
      need(dhT, H * B, "dhT");
      need(dh0, H * B, "dh0");
      if (stepMask !== null) need(stepMask, TB, "stepMask");
      need(h, H * TB, "h");
      need(dh, H * TB, "dh");
      need(dz, 3 * H * TB, "dz");
      need(da, 3 * H * TB, "da");
      need(dR, R.rowPtr[R.rows], "dR");
      need(cache.gates, 4 * H * TB, "cache.gates");
      e.gru_backward(
        H,
        rp,
        ci,
        val,
        ptr(h0, "h0"),
        T,
        B,
        opt(stepMask, "stepMask"),
        ptr(h, "h"),
        ptr(cache.gates, "cache.gates"),
        ptr(dh, "dh"),
        ptr(dhT, "dhT"),
        ptr(dz, "dz"),
        ptr(da, "da"),
        ptr(dh0, "dh0"),
        ptr(dR, "dR"),
      );
    },

    softmaxCrossEntropy(logits, V, N, targets, scale) {
      indices(targets, N, V, "targets", "classes");
      const p = strided(logits, V, N, "logits");
      return e.softmax_cross_entropy(p, logits.ld, V, N, ptr(targets, "targets"), scale);
    },
    softmaxLoss(logits, V, N, targets, predicted) {
      indices(targets, N, V, "targets", "classes");
      need(predicted, N, "predicted");
      const p = strided(logits, V, N, "logits");
      return e.softmax_loss(
        p,
        logits.ld,
        V,
        N,
        ptr(targets, "targets"),
        ptr(predicted, "predicted"),
      );
    },

    sumSquares(x, length) {
      need(x, length, "x");
      return e.sum_squares(ptr(x, "x"), length);
    },
    scale(x, length, s) {
      need(x, length, "x");
      e.scale(ptr(x, "x"), length, s);
    },
    adam(w, g, m, s, length, o) {
      for (const [v, name] of [[w, "w"], [g, "g"], [m, "m"], [s, "s"]] as const) {
        need(v, length, name);
      }
      e.adam(
        ptr(w, "w"),
        ptr(g, "g"),
        ptr(m, "m"),
        ptr(s, "s"),
        length,
        o.lr,
        o.beta1,
        o.beta2,
        o.epsilon,
        o.c1,
        o.c2,
        o.weightDecay,
      );
    },
    sgd(w, g, v, length, o) {
      need(w, length, "w");
      need(g, length, "g");
      if (v !== null) need(v, length, "v");
      e.sgd(ptr(w, "w"), ptr(g, "g"), opt(v, "v"), length, o.lr, o.momentum, o.weightDecay);
    },
  };

  function lstmShape(R: Csr): number {
    if (R.rows !== 4 * R.cols) {
      throw new Error(`R has ${R.rows} rows for ${R.cols} inputs, an LSTM needs 4·H rows for H`);
    }
    return R.cols;
  }
  function gruShape(R: Csr): number {
    if (R.rows !== 3 * R.cols) {
      throw new Error(`R has ${R.rows} rows for ${R.cols} inputs, a GRU needs 3·H rows for H`);
    }
    return R.cols;
  }
  function lstmState(h: Float32Array, c: Float32Array, length: number, hn: string, cn: string) {
    need(h, length, hn);
    need(c, length, cn);
  }
  function lstmCache(cache: LstmCache, H: number, TB: number) {
    need(cache.gates, 4 * H * TB, "cache.gates");
    need(cache.c, H * TB, "cache.c");
    need(cache.tanhC, H * TB, "cache.tanhC");
  }
}

function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

/** A stack for another thread on `kernels`' memory: returns its top (stacks grow down). */
export function allocateThreadStack(kernels: Kernels): number {
  const stack = kernels.i32(THREAD_STACK_BYTES / 4);
  return stack.byteOffset + THREAD_STACK_BYTES;
}
