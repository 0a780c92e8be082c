/**
 * Fixes for the three traps of tfjs's wasm backend when it trains recurrent
 * networks (see docs/backends.md):
 *
 * 1. It has no `UnsortedSegmentSum` kernel, the gradient of `gather`, so an
 *    embedding lookup cannot be trained at all.
 * 2. `matMul` with `transposeA`/`transposeB` leaves XNNPACK's fast path
 *    (about 10x slower), and the stock matMul gradient uses those flags.
 * 3. `slice`, `split` and `unstack` copy the whole input for every slice,
 *    so unstacking a sequence over time steps is quadratic.
 *
 * Each fix replaces one kernel of the wasm backend only; other backends and
 * the model code are untouched.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";

type Dtype = "float32" | "int32" | "bool";
type Heap = Float32Array | Int32Array | Uint8Array;

interface TensorInfo {
  dataId: object;
  shape: number[];
  dtype: Dtype;
}

/** The part of tfjs's wasm backend object these kernels use. */
interface WasmBackend {
  makeOutput(shape: number[], dtype: Dtype): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Heap;
  disposeData(dataId: object): boolean;
}

interface KernelArgs {
  inputs: Record<string, TensorInfo>;
  attrs: Record<string, unknown>;
  backend: WasmBackend;
}

function stridesOf(shape: number[]): number[] {
  const strides = new Array(shape.length).fill(1);
  for (let d = shape.length - 2; d >= 0; d--) {
    strides[d] = strides[d + 1] * shape[d + 1];
  }
  return strides;
}

/**
 * Copies the box `[begin, begin + size)` of `x` into a new tensor, reading
 * the wasm heap in place. Trailing dimensions taken whole form one
 * contiguous run, so a time step of a `[T, B, H]` tensor is one memcpy.
 */
function copyBox(
  backend: WasmBackend,
  x: TensorInfo,
  begin: number[],
  size: number[],
  outShape: number[] = size,
): TensorInfo {
  // makeOutput may grow the heap and detach older views: take views after it.
  const out = backend.makeOutput(outShape, x.dtype);
  const source = backend.typedArrayFromHeap(x);
  const target = backend.typedArrayFromHeap(out);
  const rank = x.shape.length;
  const strides = stridesOf(x.shape);
  let inner = rank;
  while (inner > 0 && size[inner - 1] === x.shape[inner - 1]) inner--;
  // Dimensions [inner, rank) are whole; dimension inner-1 (if any) is the
  // last partial one and belongs to the contiguous run as well.
  const runDim = Math.max(inner - 1, 0);
  const run = rank === 0 ? 1 : size[runDim] * strides[runDim];
  const outer = size.slice(0, runDim);
  const index = new Array(outer.length).fill(0);
  const count = outer.reduce((a, b) => a * b, 1);
  let written = 0;
  for (let n = 0; n < count; n++) {
    let offset = 0;
    for (let d = 0; d < rank; d++) {
      offset += ((d < outer.length ? index[d] : 0) + begin[d]) * strides[d];
    }
    target.set(source.subarray(offset, offset + run), written);
    written += run;
    for (let d = outer.length - 1; d >= 0; d--) {
      if (++index[d] < outer[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

function sliceKernel({ inputs, attrs, backend }: KernelArgs): TensorInfo {
  const x = inputs.x;
  const begin = attrs.begin as number[];
  const size = (attrs.size as number[]).map((s, d) => s === -1 ? x.shape[d] - begin[d] : s);
  return copyBox(backend, x, begin, size);
}

function splitKernel({ inputs, attrs, backend }: KernelArgs): TensorInfo[] {
  const x = inputs.x;
  const axis = tf.util.parseAxisParam(attrs.axis as number, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(
    x as unknown as tf.Tensor,
    attrs.numOrSizeSplits as number[] | number,
    axis,
  );
  const begin = new Array(x.shape.length).fill(0);
  return sizes.map((s) => {
    const size = x.shape.slice();
    size[axis] = s;
    const piece = copyBox(backend, x, begin, size);
    begin[axis] += s;
    return piece;
  });
}

function unstackKernel({ inputs, attrs, backend }: KernelArgs): TensorInfo[] {
  const x = inputs.value;
  const rank = x.shape.length;
  const axis = ((attrs.axis as number) + rank) % rank;
  const outShape = x.shape.filter((_, d) => d !== axis);
  const size = x.shape.slice();
  size[axis] = 1;
  const begin = new Array(rank).fill(0);
  const pieces: TensorInfo[] = [];
  for (let i = 0; i < x.shape[axis]; i++) {
    begin[axis] = i;
    pieces.push(copyBox(backend, x, begin, size, outShape));
  }
  return pieces;
}

function unsortedSegmentSumKernel(
  { inputs, attrs, backend }: KernelArgs,
): TensorInfo {
  const { x, segmentIds } = inputs;
  const numSegments = attrs.numSegments as number;
  const rowSize = x.shape.slice(segmentIds.shape.length).reduce(
    (a, b) => a * b,
    1,
  );
  const out = backend.makeOutput(
    [numSegments, ...x.shape.slice(segmentIds.shape.length)],
    x.dtype,
  );
  const values = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(segmentIds);
  const sums = backend.typedArrayFromHeap(out);
  sums.fill(0);
  for (let i = 0; i < ids.length; i++) {
    const segment = ids[i];
    if (segment < 0 || segment >= numSegments) continue;
    const from = i * rowSize;
    const to = segment * rowSize;
    for (let j = 0; j < rowSize; j++) sums[to + j] += values[from + j];
  }
  return out;
}

/** Wraps the stock kernel so flagged transposes become explicit `Transpose` calls. */
function fastTransposedMatMul(
  stock: tf.KernelFunc,
  transposeKernel: tf.KernelFunc,
): tf.KernelFunc {
  const swapLastTwo = (t: TensorInfo, backend: WasmBackend) => {
    const perm = t.shape.map((_, d) => d);
    const r = perm.length;
    [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
    return transposeKernel({
      inputs: { x: t } as never,
      attrs: { perm } as never,
      backend: backend as never,
    }) as TensorInfo;
  };
  return (args) => {
    const { inputs, attrs, backend } = args as unknown as KernelArgs;
    const { transposeA, transposeB } = attrs as Record<string, boolean>;
    if (!transposeA && !transposeB) return stock(args);
    const a = transposeA ? swapLastTwo(inputs.a, backend) : inputs.a;
    const b = transposeB ? swapLastTwo(inputs.b, backend) : inputs.b;
    const result = stock({
      ...args,
      inputs: { ...inputs, a, b } as never,
      attrs: { ...attrs, transposeA: false, transposeB: false },
    });
    if (transposeA) backend.disposeData(a.dataId);
    if (transposeB) backend.disposeData(b.dataId);
    return result;
  };
}

function replaceKernel(kernelName: string, kernelFunc: tf.KernelFunc): void {
  const stock = tf.getKernel(kernelName, "wasm");
  if (stock) tf.unregisterKernel(kernelName, "wasm");
  // setupFunc binds the stock kernel's wasm exports; keep it for wrapped kernels.
  tf.registerKernel({ kernelName, backendName: "wasm", kernelFunc, setupFunc: stock?.setupFunc });
}

/** The fixes, by name; benchmarks switch them off one at a time. */
export type WasmFix = "segmentSum" | "matMul" | "slice";

const installed = new Set<WasmFix>();

/**
 * Installs the fixed kernels into tfjs's wasm backend (idempotent). By
 * default all of them; `bench/train.ts` measures stock kernels by leaving
 * some out.
 */
export function installWasmFixes(
  fixes: readonly WasmFix[] = ["segmentSum", "matMul", "slice"],
): void {
  for (const fix of fixes) {
    if (installed.has(fix)) continue;
    installed.add(fix);
    if (fix === "segmentSum") {
      replaceKernel("UnsortedSegmentSum", unsortedSegmentSumKernel as unknown as tf.KernelFunc);
    } else if (fix === "matMul") {
      const stockMatMul = tf.getKernel("BatchMatMul", "wasm")!.kernelFunc;
      const transpose = tf.getKernel("Transpose", "wasm")!.kernelFunc;
      replaceKernel("BatchMatMul", fastTransposedMatMul(stockMatMul, transpose));
    } else {
      replaceKernel("Slice", sliceKernel as unknown as tf.KernelFunc);
      replaceKernel("SplitV", splitKernel as unknown as tf.KernelFunc);
      replaceKernel("Unpack", unstackKernel as unknown as tf.KernelFunc);
    }
  }
}
