/**
 * One Recurrent Highway Network layer (../spec/rhn_reference.ts) on the CPU
 * engine: forward and backward through time over `T` steps of `B`
 * sequences. The functions here are the TypeScript reference (the oracle
 * kernels run them), built from the sparse kernels of ./kernels.ts — one
 * CSR product per micro-layer and step — with the elementwise math in
 * TypeScript; `rhn_forward`/`rhn_backward` in kernels.c run the same loops
 * in one WebAssembly call per layer.
 *
 * Layouts follow the engine's: feature-major `[F][T·B]`, step `t` the
 * column block `[t·B, t·B + B)`. A micro-layer's fused pre-activations are
 * `[2H]` rows, the candidate `h` first, then the transform gate `t`.
 *
 * Padding (the classifier's `stepMask`, 1 for a real token) is applied in
 * every micro-layer, `s_k = s_{k−1} + m·(s'_k − s_{k−1})`, so a padded step
 * passes the state through unchanged and the backward pass stays uniform.
 *
 * Variational hidden dropout (../core/variational_dropout.ts) multiplies the
 * state entering each micro-layer's product `s·R_k` by a per-sequence mask
 * (`[H][B]`, the same for every step and micro-layer); the carry reads the
 * state undropped.
 *
 * @module
 */

import type { Csr, Kernels, Strided } from "./kernels.ts";

/** What one RHN layer's forward pass keeps for its backward pass. */
export interface RhnCache {
  /** State after each micro-layer, `[D][H][T·B]`; micro-layer `D−1` is the layer's output. */
  s: Float32Array;
  /** Activations per micro-layer, `[D][2H][T·B]`: tanh(candidate), σ(transform). */
  acts: Float32Array;
  /** The state each micro-layer multiplies by its `R`, `[D][H][T·B]` (after hidden dropout). */
  sIn: Float32Array;
}

/** The sizes of one pass of one layer. */
export interface RhnShape {
  T: number;
  B: number;
  H: number;
  /** Micro-layers per step. */
  D: number;
}

/**
 * The recurrent weights of one layer: per micro-layer, `R_k` (CSR) and
 * `b_k` (`[2H]`). The WASM kernels keep a table of their addresses per
 * object, so a network passes the same object on every call.
 */
export interface RhnWeights {
  R: Csr[];
  b: Float32Array[];
}

/**
 * Where micro-layer `k` of step `t` reads its previous state: the state
 * after micro-layer `k − 1` of the same step, or the layer output of step
 * `t − 1` (`s0` at step 0) for `k = 0`. Returns the buffer (from its
 * element 0 for that block) and its row stride.
 */
function previousState(
  cache: RhnCache,
  s0: Float32Array,
  shape: RhnShape,
  t: number,
  k: number,
): { data: Float32Array; ld: number } {
  const { T, B, H, D } = shape;
  const N = T * B;
  if (k > 0) return { data: cache.s.subarray((k - 1) * H * N + t * B), ld: N };
  if (t > 0) return { data: cache.s.subarray((D - 1) * H * N + (t - 1) * B), ld: N };
  return { data: s0, ld: B };
}

/**
 * The forward pass of one layer (the reference of {@link Kernels.rhnForward}). `zx` (`[2H][T·B]`) holds the input
 * projection plus micro-layer 0's bias. Fills `cache` and writes the final
 * state to `sT` (`[H][B]`); `stepMask` is `[T·B]` or null, `hiddenMask`
 * `[H][B]` or null.
 */
export function rhnForwardReference(
  k: Kernels,
  weights: RhnWeights,
  zx: Float32Array,
  s0: Float32Array,
  shape: RhnShape,
  stepMask: Float32Array | null,
  hiddenMask: Float32Array | null,
  cache: RhnCache,
  sT: Float32Array,
): void {
  const { T, B, H, D } = shape;
  const N = T * B;
  for (let t = 0; t < T; t++) {
    for (let m = 0; m < D; m++) {
      const a = cache.acts.subarray(m * 2 * H * N + t * B);
      // Pre-activations: the input projection (micro-layer 0) or the bias, plus R_m·s.
      for (let j = 0; j < 2 * H; j++) {
        const row = j * N;
        if (m === 0) a.set(zx.subarray(row + t * B, row + t * B + B), row);
        else a.fill(weights.b[m][j], row, row + B);
      }
      const prev = previousState(cache, s0, shape, t, m);
      const sIn = cache.sIn.subarray(m * H * N + t * B);
      for (let j = 0; j < H; j++) {
        for (let b = 0; b < B; b++) {
          const p = prev.data[j * prev.ld + b];
          sIn[j * N + b] = hiddenMask ? p * hiddenMask[j * B + b] : p;
        }
      }
      k.csrForward(weights.R[m], { data: sIn, ld: N }, { data: a, ld: N }, B, true);
      const s = cache.s.subarray(m * H * N + t * B);
      for (let j = 0; j < H; j++) {
        for (let b = 0; b < B; b++) {
          const h = Math.tanh(a[j * N + b]);
          const g = 1 / (1 + Math.exp(-a[(H + j) * N + b]));
          a[j * N + b] = h;
          a[(H + j) * N + b] = g;
          const p = prev.data[j * prev.ld + b];
          const next = h * g + p * (1 - g);
          s[j * N + b] = stepMask ? p + stepMask[t * B + b] * (next - p) : next;
        }
      }
    }
  }
  // The final state is the last micro-layer's output at the last step.
  const last = cache.s.subarray((D - 1) * H * N);
  for (let j = 0; j < H; j++) {
    if (T === 0) sT.set(s0.subarray(j * B, j * B + B), j * B);
    else sT.set(last.subarray(j * N + (T - 1) * B, j * N + T * B), j * B);
  }
}

/**
 * Backward through time of {@link rhnForwardReference} (the reference of
 * {@link Kernels.rhnBackward}). `dOut` (`[H][T·B]`) is the
 * loss gradient at each step's output; `dsT` (`[H][B]`, may be zero) at the
 * final state. Writes `dz` (`[D][2H][T·B]`, gradients of each micro-layer's
 * pre-activations; micro-layer 0's block is the gradient of `zx`) and `ds0`
 * (`[H][B]`); `scratch` and `scratch2` are `[H][B]`. The weight gradients
 * follow from `dz` and the cache: {@link rhnGradientSites}.
 */
export function rhnBackwardReference(
  k: Kernels,
  weights: RhnWeights,
  s0: Float32Array,
  shape: RhnShape,
  stepMask: Float32Array | null,
  hiddenMask: Float32Array | null,
  cache: RhnCache,
  dOut: Float32Array,
  dsT: Float32Array,
  dz: Float32Array,
  ds0: Float32Array,
  scratch: Float32Array,
  scratch2: Float32Array,
): void {
  const { T, B, H, D } = shape;
  const N = T * B;
  // ds0 carries the gradient at the state entering the current micro-layer.
  const ds = ds0.subarray(0, H * B);
  ds.set(dsT.subarray(0, H * B));
  const dp = scratch.subarray(0, H * B);
  for (let t = T - 1; t >= 0; t--) {
    for (let j = 0; j < H; j++) {
      for (let b = 0; b < B; b++) ds[j * B + b] += dOut[j * N + t * B + b];
    }
    for (let m = D - 1; m >= 0; m--) {
      const a = cache.acts.subarray(m * 2 * H * N + t * B);
      const d = dz.subarray(m * 2 * H * N + t * B);
      const prev = previousState(cache, s0, shape, t, m);
      for (let j = 0; j < H; j++) {
        for (let b = 0; b < B; b++) {
          const mask = stepMask ? stepMask[t * B + b] : 1;
          const h = a[j * N + b], g = a[(H + j) * N + b];
          const p = prev.data[j * prev.ld + b];
          const dNext = mask * ds[j * B + b];
          d[j * N + b] = dNext * g * (1 - h * h);
          d[(H + j) * N + b] = dNext * (h - p) * g * (1 - g);
          dp[j * B + b] = (1 - mask) * ds[j * B + b] + dNext * (1 - g);
        }
      }
      if (hiddenMask) {
        // The product read the dropped state: its gradient passes the mask.
        const dIn = scratch2.subarray(0, H * B);
        dIn.fill(0);
        k.csrBackwardInput(weights.R[m], { data: d, ld: N }, { data: dIn, ld: B }, B);
        for (let i = 0; i < H * B; i++) dp[i] += dIn[i] * hiddenMask[i];
      } else {
        k.csrBackwardInput(weights.R[m], { data: d, ld: N }, { data: dp, ld: B }, B);
      }
      ds.set(dp);
    }
  }
}

/** One product whose sum over sites is a recurrent weight's gradient. */
export interface RhnGradientSite {
  /** The micro-layer whose `R` this site belongs to. */
  micro: number;
  dy: Strided;
  x: Strided;
  N: number;
}

/**
 * The operands of every `R_k` gradient after {@link rhnBackward}: `R_k`'s
 * gradient is `dz_k · sIn_kᵀ` over all steps, from the cache.
 */
export function rhnGradientSites(
  cache: RhnCache,
  dz: Float32Array,
  shape: RhnShape,
): RhnGradientSite[] {
  const { T, B, H, D } = shape;
  const N = T * B;
  return Array.from({ length: D }, (_, m) => ({
    micro: m,
    dy: { data: dz.subarray(m * 2 * H * N), ld: N },
    x: { data: cache.sIn.subarray(m * H * N), ld: N },
    N,
  }));
}
