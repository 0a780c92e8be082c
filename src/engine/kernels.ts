/**
 * The kernel interface of the CPU training engine: every number-crunching
 * loop of a training step, as one call each. Two implementations exist:
 * `oracle.ts`, plain TypeScript loops that define the results, and
 * `wasm.ts`, the same kernels in WebAssembly SIMD128 (built from
 * `kernels.c`). Tests hold the second to the first.
 *
 * ## Layouts
 * - **Activations** are feature-major matrices `[F][ld]`, row-major: row `f`
 *   holds one feature for `ld` columns, and a column is one (time step,
 *   sequence) pair, column `t·B + b`. So a whole sequence of `T` steps of a
 *   batch of `B` is `[F][T·B]`, and step `t` is the column block
 *   `[t·B, t·B + B)`. A kernel reads `N` columns of each row starting at the
 *   view's offset, rows `ld` floats apart; SIMD runs along the columns.
 * - **Weight matrices** are sparse, CSR over the *outputs*: a layer that
 *   computes `y = x·W` with `W` `[inputs, outputs]` (../spec/config.ts)
 *   stores `Wᵀ`, one row per output, whose column indices are inputs. A
 *   dense matrix is the same CSR with every entry present.
 * - **LSTM gates** are fused rows of one `[4H][ld]` matrix in the order
 *   i, f, g, o (rows `[0,H)` input, `[H,2H)` forget, `[2H,3H)` cell,
 *   `[3H,4H)` output), the column order of `lstm.L.W` and `lstm.L.R`.
 * - **GRU gates** are fused rows of one `[3H][ld]` matrix in the order z, r, n
 *   (update, reset, candidate), the column order of `gru.L.W` and `gru.L.R`.
 *
 * Buffers come from {@link Kernels.f32} and {@link Kernels.i32}: the WASM
 * kernels can only read their own memory. `subarray` views of them may be
 * passed anywhere a buffer is expected.
 *
 * @module
 */

import type { RhnCache, RhnShape, RhnWeights } from "./rhn.ts";

/** A sparse matrix in CSR over output rows (the transpose of a `[in, out]` weight). */
export interface Csr {
  /** Outputs. */
  rows: number;
  /** Inputs. */
  cols: number;
  /** `rows + 1` offsets into `colIdx` and `values`. */
  rowPtr: Int32Array;
  /** Input index of each nonzero, ascending within a row. */
  colIdx: Int32Array;
  values: Float32Array;
}

/** A feature-major activation matrix: `rows` rows, `ld` floats apart, from `data[0]`. */
export interface Strided {
  data: Float32Array;
  ld: number;
}

/** What one LSTM layer's forward pass keeps for its backward pass, each `[.][T·B]`. */
export interface LstmCache {
  /** Gate activations after their nonlinearity, `[4H][T·B]`: σ(i), σ(f), tanh(g), σ(o). */
  gates: Float32Array;
  /** Cell state after each step, `[H][T·B]` (after padding masks). */
  c: Float32Array;
  /** tanh of the new cell state of each step, `[H][T·B]` (before padding masks). */
  tanhC: Float32Array;
}

/** What one GRU layer's forward pass keeps for its backward pass. */
export interface GruCache {
  /**
   * `[4H][T·B]`: σ(z), σ(r), the candidate n after its tanh, and the
   * candidate's recurrent term `hn = R_n·h_{t-1} + bR` before the reset gate.
   */
  gates: Float32Array;
}

/** The kernels of a training step. All sizes are in elements. */
export interface Kernels {
  /** A zeroed float buffer the kernels can use. */
  f32(length: number): Float32Array;
  /** A zeroed int buffer the kernels can use. */
  i32(length: number): Int32Array;
  /** Frees every buffer handed out so far (their views must not be used again). */
  reset(): void;

  /** `y[r][n] = (accumulate ? y[r][n] : 0) + Σ_k W[r][c_k]·x[c_k][n]` for `n < N`. */
  csrForward(W: Csr, x: Strided, y: Strided, N: number, accumulate: boolean): void;
  /** `dx[c][n] += Σ_r W[r][c]·dy[r][n]` for `n < N` (scatter through the same CSR). */
  csrBackwardInput(W: Csr, dy: Strided, dx: Strided, N: number): void;
  /** `grad[k] += Σ_{n<N} dy[row(k)][n]·x[colIdx[k]][n]`: the weight gradient at the nonzeros. */
  csrWeightGrad(W: Csr, dy: Strided, x: Strided, N: number, grad: Float32Array): void;

  /** `y[r][n] += bias[r]` for `r < rows`, `n < N`. */
  addBias(y: Strided, rows: number, N: number, bias: Float32Array): void;
  /** `grad[r] += Σ_{n<N} dy[r][n]`. */
  biasGrad(dy: Strided, rows: number, N: number, grad: Float32Array): void;
  /** `x[i] *= mask[i]` for `i < length` (dropout: mask holds 0 or 1/(1-p)). */
  multiply(x: Float32Array, mask: Float32Array, length: number): void;

  /**
   * Embedding lookup: `out[e][n] = E[tokens[n]][e]` (0 where row `tokens[n]`
   * has no nonzero in column e), for `n < N`. `E` is CSR over vocabulary rows
   * (the embedding is already `[vocab, embed]`, no transpose).
   */
  embedForward(E: Csr, tokens: Int32Array, out: Strided, N: number): void;
  /** `grad[k] += Σ_{n: tokens[n] = row(k)} dOut[colIdx[k]][n]`. */
  embedBackward(E: Csr, tokens: Int32Array, dOut: Strided, N: number, grad: Float32Array): void;

  /**
   * One LSTM layer over `T` steps of `B` sequences. `zx` (`[4H][T·B]`) holds
   * the input projection plus bias and is left as it is. The recurrent term
   * of step t is `R·h_{t-1}` with `h_{-1} = h0`. Writes `h` (`[H][T·B]`, the
   * output of each step) and `cache`; `hT`, `cT` (`[H][B]`) get the final
   * state. With `stepMask` (`[T·B]`, 1 for a real token, 0 for padding) a
   * padded step keeps the previous state: `h_t = h_{t-1} + m·(h'_t − h_{t-1})`,
   * likewise `c`.
   */
  lstmForward(
    R: Csr,
    zx: Float32Array,
    h0: Float32Array,
    c0: Float32Array,
    T: number,
    B: number,
    stepMask: Float32Array | null,
    h: Float32Array,
    cache: LstmCache,
    hT: Float32Array,
    cT: Float32Array,
  ): void;
  /**
   * Backward through time of {@link lstmForward}. `dh` (`[H][T·B]`) is the
   * loss gradient at each step's output and is overwritten (scratch). `dhT`,
   * `dcT` (`[H][B]`, may be zero) are gradients at the final state. Writes
   * `dz` (`[4H][T·B]`, gradients of the pre-activation gates, i.e. of `zx`)
   * and `dh0`, `dc0` (`[H][B]`), and adds the gradient of R at its nonzeros to
   * `dR` (`R.values.length`). `h0`, `c0`, `h` and `cache` are the forward's.
   */
  lstmBackward(
    R: Csr,
    h0: Float32Array,
    c0: Float32Array,
    T: number,
    B: number,
    stepMask: Float32Array | null,
    h: Float32Array,
    cache: LstmCache,
    dh: Float32Array,
    dhT: Float32Array,
    dcT: Float32Array,
    dz: Float32Array,
    dh0: Float32Array,
    dc0: Float32Array,
    dR: Float32Array,
  ): void;

  /**
   * One RHN layer's forward pass over `T` steps (./rhn.ts, which also holds
   * the TypeScript reference of this kernel): `zx` (`[2H][T·B]`) is the input
   * projection plus micro-layer 0's bias; fills `cache`, writes the final
   * state to `sT` (`[H][B]`). `stepMask` `[T·B]` and `hiddenMask` `[H][B]`
   * may be null.
   */
  rhnForward(
    weights: RhnWeights,
    zx: Float32Array,
    s0: Float32Array,
    shape: RhnShape,
    stepMask: Float32Array | null,
    hiddenMask: Float32Array | null,
    cache: RhnCache,
    sT: Float32Array,
  ): void;
  /**
   * Backward through time of {@link rhnForward}: from `dOut` (`[H][T·B]`)
   * and `dsT` (`[H][B]`) writes `dz` (`[D][2H][T·B]`) and `ds0`; `scratch`
   * and `scratch2` are `[H][B]`. Weight gradients: `rhnGradientSites` (./rhn.ts).
   */
  rhnBackward(
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
  ): void;

  /**
   * One GRU layer over `T` steps of `B` sequences. `zx` (`[3H][T·B]`) holds
   * the input projection plus `b` and is left as it is. Step t computes
   * `z = σ(zx_z + R_z·h)`, `r = σ(zx_r + R_r·h)`,
   * `n = tanh(zx_n + r·(R_n·h + bR))`, `h' = n + z·(h − n)` with
   * `h = h_{t-1}`, `h_{-1} = h0`. Writes `h` (`[H][T·B]`), `cache` and `hT`
   * (`[H][B]`). A padded step (`stepMask` 0) keeps the previous state, as in
   * {@link lstmForward}.
   */
  gruForward(
    R: Csr,
    bR: Float32Array,
    zx: Float32Array,
    h0: Float32Array,
    T: number,
    B: number,
    stepMask: Float32Array | null,
    h: Float32Array,
    cache: GruCache,
    hT: Float32Array,
  ): void;
  /**
   * Backward through time of {@link gruForward}. `dh` (`[H][T·B]`) is the
   * loss gradient at each step's output and is overwritten (scratch); `dhT`
   * (`[H][B]`) the gradient at the final state. Writes `dz` (`[3H][T·B]`, the
   * gradient of `zx`), `da` (`[3H][T·B]`, the gradient of the recurrent
   * pre-activations `R·h_{t-1}`, whose rows `[2H,3H)` are also that of `bR`)
   * and `dh0`, and adds the gradient of R at its nonzeros to `dR`.
   */
  gruBackward(
    R: Csr,
    h0: Float32Array,
    T: number,
    B: number,
    stepMask: Float32Array | null,
    h: Float32Array,
    cache: GruCache,
    dh: Float32Array,
    dhT: Float32Array,
    dz: Float32Array,
    da: Float32Array,
    dh0: Float32Array,
    dR: Float32Array,
  ): void;

  /**
   * Softmax cross-entropy over `V` rows for each of `N` columns of `logits`
   * (`[V][ld]`): returns the summed loss in nats, and overwrites `logits`
   * with `scale·(softmax − onehot(target))`, the gradient of `scale·loss`.
   */
  softmaxCrossEntropy(
    logits: Strided,
    V: number,
    N: number,
    targets: Int32Array,
    scale: number,
  ): number;
  /** Like {@link softmaxCrossEntropy} without the gradient; writes each column's argmax to `predicted` (`[N]`). */
  softmaxLoss(
    logits: Strided,
    V: number,
    N: number,
    targets: Int32Array,
    predicted: Int32Array,
  ): number;

  /** `Σ x[i]²` for `i < length`, accumulated in float64 where the implementation can. */
  sumSquares(x: Float32Array, length: number): number;
  /** `x[i] *= s`. */
  scale(x: Float32Array, length: number, s: number): void;
  /**
   * Adam on `length` entries, as tfjs computes it: `g += wd·w`,
   * `m = β1·m + (1−β1)·g`, `s = β2·s + (1−β2)·g²`,
   * `w −= lr · (m/c1) / (sqrt(s/c2) + ε)` with bias corrections `c1 = 1−β1^t`,
   * `c2 = 1−β2^t` passed in.
   */
  adam(
    w: Float32Array,
    g: Float32Array,
    m: Float32Array,
    s: Float32Array,
    length: number,
    o: {
      lr: number;
      beta1: number;
      beta2: number;
      epsilon: number;
      c1: number;
      c2: number;
      weightDecay: number;
    },
  ): void;
  /** SGD: `g += wd·w`; with momentum μ > 0, `v = μ·v + g`, `w −= lr·v`; else `w −= lr·g`. */
  sgd(
    w: Float32Array,
    g: Float32Array,
    v: Float32Array | null,
    length: number,
    o: { lr: number; momentum: number; weightDecay: number },
  ): void;
}
