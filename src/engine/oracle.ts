/**
 * The reference kernels: plain TypeScript loops that define what every
 * kernel of {@link Kernels} computes. They are written to be obviously
 * right, not fast. Sums are accumulated in float64 (JavaScript numbers) and
 * rounded once when stored.
 *
 * The loops also accept `Float64Array` buffers ({@link oracleOps}), which the
 * tests use to check gradients by finite differences without float32
 * rounding noise.
 *
 * @module
 */

import type { Kernels } from "./kernels.ts";
import { rhnBackwardReference, rhnForwardReference } from "./rhn.ts";

/** A float buffer of either precision. */
export type Vec = Float32Array | Float64Array;

/** {@link Csr} with values of either precision. */
export interface CsrN {
  rows: number;
  cols: number;
  rowPtr: Int32Array;
  colIdx: Int32Array;
  values: Vec;
}

/** {@link Strided} with data of either precision. */
export interface StridedN {
  data: Vec;
  ld: number;
}

/** {@link LstmCache} with buffers of either precision. */
export interface LstmCacheN {
  gates: Vec;
  c: Vec;
  tanhC: Vec;
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

function csrForward(W: CsrN, x: StridedN, y: StridedN, N: number, accumulate: boolean): void {
  for (let r = 0; r < W.rows; r++) {
    for (let n = 0; n < N; n++) {
      let sum = accumulate ? y.data[r * y.ld + n] : 0;
      for (let k = W.rowPtr[r]; k < W.rowPtr[r + 1]; k++) {
        sum += W.values[k] * x.data[W.colIdx[k] * x.ld + n];
      }
      y.data[r * y.ld + n] = sum;
    }
  }
}

function csrBackwardInput(W: CsrN, dy: StridedN, dx: StridedN, N: number): void {
  // Gathered per input column so each dx entry is one float64 sum.
  const sums = new Float64Array(W.cols * N);
  for (let c = 0; c < W.cols; c++) {
    for (let n = 0; n < N; n++) sums[c * N + n] = dx.data[c * dx.ld + n];
  }
  for (let r = 0; r < W.rows; r++) {
    for (let k = W.rowPtr[r]; k < W.rowPtr[r + 1]; k++) {
      const c = W.colIdx[k];
      for (let n = 0; n < N; n++) sums[c * N + n] += W.values[k] * dy.data[r * dy.ld + n];
    }
  }
  for (let c = 0; c < W.cols; c++) {
    for (let n = 0; n < N; n++) dx.data[c * dx.ld + n] = sums[c * N + n];
  }
}

function csrWeightGrad(W: CsrN, dy: StridedN, x: StridedN, N: number, grad: Vec): void {
  for (let r = 0; r < W.rows; r++) {
    for (let k = W.rowPtr[r]; k < W.rowPtr[r + 1]; k++) {
      let sum = 0;
      for (let n = 0; n < N; n++) sum += dy.data[r * dy.ld + n] * x.data[W.colIdx[k] * x.ld + n];
      grad[k] += sum;
    }
  }
}

function addBias(y: StridedN, rows: number, N: number, bias: Vec): void {
  for (let r = 0; r < rows; r++) {
    for (let n = 0; n < N; n++) y.data[r * y.ld + n] += bias[r];
  }
}

function biasGrad(dy: StridedN, rows: number, N: number, grad: Vec): void {
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let n = 0; n < N; n++) sum += dy.data[r * dy.ld + n];
    grad[r] += sum;
  }
}

function multiply(x: Vec, mask: Vec, length: number): void {
  for (let i = 0; i < length; i++) x[i] *= mask[i];
}

function embedForward(E: CsrN, tokens: Int32Array, out: StridedN, N: number): void {
  for (let n = 0; n < N; n++) {
    for (let e = 0; e < E.cols; e++) out.data[e * out.ld + n] = 0;
    const v = tokens[n];
    for (let k = E.rowPtr[v]; k < E.rowPtr[v + 1]; k++) {
      out.data[E.colIdx[k] * out.ld + n] = E.values[k];
    }
  }
}

function embedBackward(E: CsrN, tokens: Int32Array, dOut: StridedN, N: number, grad: Vec): void {
  const sums = new Float64Array(grad.length);
  for (let n = 0; n < N; n++) {
    const v = tokens[n];
    for (let k = E.rowPtr[v]; k < E.rowPtr[v + 1]; k++) {
      sums[k] += dOut.data[E.colIdx[k] * dOut.ld + n];
    }
  }
  for (let k = 0; k < grad.length; k++) grad[k] += sums[k];
}

/** The state entering step `t` at `[j][b]`: `h0` first, then step `t − 1`'s column of `h`. */
function previousState(
  h0: Vec,
  h: Vec,
  t: number,
  B: number,
  ld: number,
  j: number,
  b: number,
): number {
  return t === 0 ? h0[j * B + b] : h[j * ld + (t - 1) * B + b];
}

/** `out = zx_t + R·h_{t-1}` (`[rows][B]`); without `zx`, `R·h_{t-1}`. */
function recurrentForward(
  R: CsrN,
  rows: number,
  zx: Vec | null,
  h0: Vec,
  h: Vec,
  t: number,
  B: number,
  ld: number,
  out: Float64Array,
): void {
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < B; b++) {
      let sum = zx === null ? 0 : zx[r * ld + t * B + b];
      for (let k = R.rowPtr[r]; k < R.rowPtr[r + 1]; k++) {
        sum += R.values[k] * previousState(h0, h, t, B, ld, R.colIdx[k], b);
      }
      out[r * B + b] = sum;
    }
  }
}

/** `dh_{t-1} += Rᵀ·d_t` and `dR += d_t ⊗ h_{t-1}`, for `d` `[rows][T·B]`. */
function recurrentBackward(
  R: CsrN,
  rows: number,
  d: Vec,
  h0: Vec,
  h: Vec,
  t: number,
  B: number,
  ld: number,
  dhPrev: Float64Array,
  dR: Vec,
): void {
  for (let r = 0; r < rows; r++) {
    for (let k = R.rowPtr[r]; k < R.rowPtr[r + 1]; k++) {
      const j = R.colIdx[k];
      let sum = 0;
      for (let b = 0; b < B; b++) {
        const g = d[r * ld + t * B + b];
        dhPrev[j * B + b] += R.values[k] * g;
        sum += g * previousState(h0, h, t, B, ld, j, b);
      }
      dR[k] += sum;
    }
  }
}

/** Each sequence's state after the last of `T` steps (`h0` when there are none), `[H][B]`. */
function finalState(h0: Vec, h: Vec, T: number, B: number, H: number, out: Vec): void {
  for (let j = 0; j < H; j++) {
    for (let b = 0; b < B; b++) out[j * B + b] = previousState(h0, h, T, B, T * B, j, b);
  }
}

function lstmForward(
  R: CsrN,
  zx: Vec,
  h0: Vec,
  c0: Vec,
  T: number,
  B: number,
  stepMask: Vec | null,
  h: Vec,
  cache: LstmCacheN,
  hT: Vec,
  cT: Vec,
): void {
  const H = R.cols;
  const ld = T * B;
  const z = new Float64Array(4 * H * B);
  for (let t = 0; t < T; t++) {
    recurrentForward(R, 4 * H, zx, h0, h, t, B, ld, z);
    for (let j = 0; j < H; j++) {
      for (let b = 0; b < B; b++) {
        const col = t * B + b;
        const i = sigmoid(z[j * B + b]);
        const f = sigmoid(z[(H + j) * B + b]);
        const g = Math.tanh(z[(2 * H + j) * B + b]);
        const o = sigmoid(z[(3 * H + j) * B + b]);
        cache.gates[j * ld + col] = i;
        cache.gates[(H + j) * ld + col] = f;
        cache.gates[(2 * H + j) * ld + col] = g;
        cache.gates[(3 * H + j) * ld + col] = o;
        const cPrev = t === 0 ? c0[j * B + b] : cache.c[j * ld + col - B];
        const hPrev = t === 0 ? h0[j * B + b] : h[j * ld + col - B];
        const cNew = f * cPrev + i * g;
        const tc = Math.tanh(cNew);
        const hNew = o * tc;
        const m = stepMask === null ? 1 : stepMask[col];
        cache.tanhC[j * ld + col] = tc;
        cache.c[j * ld + col] = cPrev + m * (cNew - cPrev);
        h[j * ld + col] = hPrev + m * (hNew - hPrev);
      }
    }
  }
  finalState(h0, h, T, B, H, hT);
  finalState(c0, cache.c, T, B, H, cT);
}

function lstmBackward(
  R: CsrN,
  h0: Vec,
  c0: Vec,
  T: number,
  B: number,
  stepMask: Vec | null,
  h: Vec,
  cache: LstmCacheN,
  dh: Vec,
  dhT: Vec,
  dcT: Vec,
  dz: Vec,
  dh0: Vec,
  dc0: Vec,
  dR: Vec,
): void {
  const H = R.cols;
  const ld = T * B;
  // Running gradients at h_t and c_t, [H][B].
  const dhCur = new Float64Array(H * B);
  const dcCur = new Float64Array(H * B);
  for (let i = 0; i < H * B; i++) {
    dhCur[i] = dhT[i];
    dcCur[i] = dcT[i];
  }
  const dhPrev = new Float64Array(H * B);
  for (let t = T - 1; t >= 0; t--) {
    for (let j = 0; j < H; j++) {
      for (let b = 0; b < B; b++) {
        const col = t * B + b;
        const m = stepMask === null ? 1 : stepMask[col];
        const dht = dhCur[j * B + b] + dh[j * ld + col];
        const dct = dcCur[j * B + b];
        const i = cache.gates[j * ld + col];
        const f = cache.gates[(H + j) * ld + col];
        const g = cache.gates[(2 * H + j) * ld + col];
        const o = cache.gates[(3 * H + j) * ld + col];
        const tc = cache.tanhC[j * ld + col];
        const cPrev = t === 0 ? c0[j * B + b] : cache.c[j * ld + col - B];
        const dhNew = m * dht;
        const dcNew = m * dct + dhNew * o * (1 - tc * tc);
        dz[j * ld + col] = dcNew * g * i * (1 - i);
        dz[(H + j) * ld + col] = dcNew * cPrev * f * (1 - f);
        dz[(2 * H + j) * ld + col] = dcNew * i * (1 - g * g);
        dz[(3 * H + j) * ld + col] = dhNew * tc * o * (1 - o);
        dcCur[j * B + b] = (1 - m) * dct + dcNew * f;
        dhPrev[j * B + b] = (1 - m) * dht;
        // Keep the total so the gradient of this step is visible in `dh` (it is scratch).
        dh[j * ld + col] = dht;
      }
    }
    recurrentBackward(R, 4 * H, dz, h0, h, t, B, ld, dhPrev, dR);
    dhCur.set(dhPrev);
  }
  for (let i = 0; i < H * B; i++) {
    dh0[i] = dhCur[i];
    dc0[i] = dcCur[i];
  }
}

/** {@link GruCache} with buffers of either precision. */
export interface GruCacheN {
  gates: Vec;
}

function gruForward(
  R: CsrN,
  bR: Vec,
  zx: Vec,
  h0: Vec,
  T: number,
  B: number,
  stepMask: Vec | null,
  h: Vec,
  cache: GruCacheN,
  hT: Vec,
): void {
  const H = R.cols;
  const ld = T * B;
  // a = R·h_{t-1}, [3H][B]
  const a = new Float64Array(3 * H * B);
  for (let t = 0; t < T; t++) {
    recurrentForward(R, 3 * H, null, h0, h, t, B, ld, a);
    for (let j = 0; j < H; j++) {
      for (let b = 0; b < B; b++) {
        const col = t * B + b;
        const z = sigmoid(zx[j * ld + col] + a[j * B + b]);
        const r = sigmoid(zx[(H + j) * ld + col] + a[(H + j) * B + b]);
        const hn = a[(2 * H + j) * B + b] + bR[j];
        const n = Math.tanh(zx[(2 * H + j) * ld + col] + r * hn);
        cache.gates[j * ld + col] = z;
        cache.gates[(H + j) * ld + col] = r;
        cache.gates[(2 * H + j) * ld + col] = n;
        cache.gates[(3 * H + j) * ld + col] = hn;
        const hp = previousState(h0, h, t, B, ld, j, b);
        const hNew = n + z * (hp - n);
        const m = stepMask === null ? 1 : stepMask[col];
        h[j * ld + col] = hp + m * (hNew - hp);
      }
    }
  }
  finalState(h0, h, T, B, H, hT);
}

function gruBackward(
  R: CsrN,
  h0: Vec,
  T: number,
  B: number,
  stepMask: Vec | null,
  h: Vec,
  cache: GruCacheN,
  dh: Vec,
  dhT: Vec,
  dz: Vec,
  da: Vec,
  dh0: Vec,
  dR: Vec,
): void {
  const H = R.cols;
  const ld = T * B;
  // Running gradient at h_t, [H][B].
  const dhCur = Float64Array.from(dhT.subarray(0, H * B));
  const dhPrev = new Float64Array(H * B);
  for (let t = T - 1; t >= 0; t--) {
    for (let j = 0; j < H; j++) {
      for (let b = 0; b < B; b++) {
        const col = t * B + b;
        const m = stepMask === null ? 1 : stepMask[col];
        const dht = dhCur[j * B + b] + dh[j * ld + col];
        const z = cache.gates[j * ld + col];
        const r = cache.gates[(H + j) * ld + col];
        const n = cache.gates[(2 * H + j) * ld + col];
        const hn = cache.gates[(3 * H + j) * ld + col];
        const dhNew = m * dht;
        const dn = dhNew * (1 - z) * (1 - n * n);
        const dzg = dhNew * (previousState(h0, h, t, B, ld, j, b) - n) * z * (1 - z);
        const drg = dn * hn * r * (1 - r);
        dz[j * ld + col] = dzg;
        dz[(H + j) * ld + col] = drg;
        dz[(2 * H + j) * ld + col] = dn;
        da[j * ld + col] = dzg;
        da[(H + j) * ld + col] = drg;
        da[(2 * H + j) * ld + col] = dn * r;
        dhPrev[j * B + b] = (1 - m) * dht + dhNew * z;
        // Keep the total so the gradient of this step is visible in `dh` (it is scratch).
        dh[j * ld + col] = dht;
      }
    }
    recurrentBackward(R, 3 * H, da, h0, h, t, B, ld, dhPrev, dR);
    dhCur.set(dhPrev);
  }
  for (let i = 0; i < H * B; i++) dh0[i] = dhCur[i];
}

function softmaxColumns(
  logits: StridedN,
  V: number,
  N: number,
  targets: Int32Array,
  perColumn: (n: number, max: number, sum: number, argmax: number) => void,
): number {
  let loss = 0;
  for (let n = 0; n < N; n++) {
    let max = -Infinity;
    let argmax = 0;
    for (let v = 0; v < V; v++) {
      const x = logits.data[v * logits.ld + n];
      if (x > max) {
        max = x;
        argmax = v;
      }
    }
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(logits.data[v * logits.ld + n] - max);
    loss += Math.log(sum) + max - logits.data[targets[n] * logits.ld + n];
    perColumn(n, max, sum, argmax);
  }
  return loss;
}

function softmaxCrossEntropy(
  logits: StridedN,
  V: number,
  N: number,
  targets: Int32Array,
  scale: number,
): number {
  return softmaxColumns(logits, V, N, targets, (n, max, sum) => {
    for (let v = 0; v < V; v++) {
      const p = Math.exp(logits.data[v * logits.ld + n] - max) / sum;
      logits.data[v * logits.ld + n] = scale * (p - (v === targets[n] ? 1 : 0));
    }
  });
}

function softmaxLoss(
  logits: StridedN,
  V: number,
  N: number,
  targets: Int32Array,
  predicted: Int32Array,
): number {
  return softmaxColumns(logits, V, N, targets, (n, _max, _sum, argmax) => {
    predicted[n] = argmax;
  });
}

function sumSquares(x: Vec, length: number): number {
  let sum = 0;
  for (let i = 0; i < length; i++) sum += x[i] * x[i];
  return sum;
}

function scale(x: Vec, length: number, s: number): void {
  for (let i = 0; i < length; i++) x[i] *= s;
}

function adam(
  w: Vec,
  g: Vec,
  m: Vec,
  s: Vec,
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
): void {
  for (let i = 0; i < length; i++) {
    g[i] += o.weightDecay * w[i];
    m[i] = o.beta1 * m[i] + (1 - o.beta1) * g[i];
    s[i] = o.beta2 * s[i] + (1 - o.beta2) * g[i] * g[i];
    w[i] -= o.lr * (m[i] / o.c1) / (Math.sqrt(s[i] / o.c2) + o.epsilon);
  }
}

function sgd(
  w: Vec,
  g: Vec,
  v: Vec | null,
  length: number,
  o: { lr: number; momentum: number; weightDecay: number },
): void {
  for (let i = 0; i < length; i++) {
    g[i] += o.weightDecay * w[i];
    if (o.momentum > 0 && v !== null) {
      v[i] = o.momentum * v[i] + g[i];
      w[i] -= o.lr * v[i];
    } else {
      w[i] -= o.lr * g[i];
    }
  }
}

/**
 * The reference loops, usable on float32 or float64 buffers. Same semantics
 * as the methods of {@link Kernels} of the same names.
 */
export const oracleOps = {
  csrForward,
  csrBackwardInput,
  csrWeightGrad,
  addBias,
  biasGrad,
  multiply,
  embedForward,
  embedBackward,
  lstmForward,
  lstmBackward,
  gruForward,
  gruBackward,
  softmaxCrossEntropy,
  softmaxLoss,
  sumSquares,
  scale,
  adam,
  sgd,
};

/** The reference kernels on ordinary JavaScript buffers. */
export function createOracleKernels(): Kernels {
  const kernels: Kernels = {
    f32: (length) => new Float32Array(length),
    i32: (length) => new Int32Array(length),
    reset: () => {},
    ...oracleOps,
    // The RHN layer is composed from the kernels above (./rhn.ts).
    rhnForward: (...args) => rhnForwardReference(kernels, ...args),
    rhnBackward: (...args) => rhnBackwardReference(kernels, ...args),
  };
  return kernels;
}
