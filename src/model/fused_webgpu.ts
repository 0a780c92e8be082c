/**
 * The fused recurrence on tfjs's webgpu backend: one WGSL dispatch per time
 * step forward, and one per step backward through time, instead of the
 * ~45 tfjs kernel launches per step of the op-by-op recurrence in ./lstm.ts.
 *
 * Each step's dispatch computes `z = P_t + h_{t-1}·R` for its units, the
 * gates and the state update (with the padding masks), and writes a step
 * record (h, c and what the backward pass needs) into one `[T, B, record]`
 * buffer; the next step reads the previous record from that same buffer.
 * Consecutive dispatches see each other's writes (WebGPU orders storage
 * writes between dispatches), so no step waits for the CPU.
 *
 * The WGSL is a cell-independent skeleton (the recurrent product, the
 * reading and writing of records) around a cell's gate functions
 * ({@link FusedCell}); the LSTM is {@link LSTM_CELL}, the GRU {@link GRU_CELL}.
 * The gate matrices are masked-dense (`R ⊙ M` is what the caller passes).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";

/**
 * A recurrent cell as WGSL gate functions for the fused kernels. The
 * skeleton hands a cell, per unit `j` of batch row `b`, the pre-activations
 * `z[k] = P_t[k·H + j] + (h_{t-1}·R)[k·H + j]` of its `gates` column blocks
 * (or, with `splitRecurrent`, the two terms apart); record field 0 must be
 * the new h and field 1 the second carried state.
 */
export interface FusedCell {
  /** Column blocks of width H in P and R (LSTM: 4, GRU: 3). */
  gates: number;
  /** Fields of width H in a step record (LSTM: h, c, i, f, g, o, tanh c). */
  recordFields: number;
  /**
   * Whether the cell sees the input term `x = P_t` and the recurrent term
   * `a = h_{t-1}·R + bR` apart (a GRU's reset gate scales only the recurrent
   * term of its candidate); then the recurrence takes a recurrent bias
   * `bR` (`[G·H]`), and the cell returns the gradients of both terms.
   */
  splitRecurrent: boolean;
  /**
   * WGSL defining `fn cellForward(z: array<f32, G>, hPrev: f32, cPrev: f32,
   * m: f32) -> array<f32, F>` (with `splitRecurrent`: `cellForward(x, a,
   * hPrev, cPrev, m)`): the step record of one unit; `m` is 1 for a real
   * token and 0 for padding (the state passes through).
   */
  forward: string;
  /**
   * WGSL defining `fn cellBackward(rec: array<f32, F>, hPrev: f32, cPrev: f32,
   * dh: f32, dc: f32, m: f32) -> array<f32, G + 2>`: from the step's record
   * and the gradients reaching its h and c, the gradients of the G
   * pre-activations, then those passed to h_{t-1} (besides through R) and to
   * c_{t-1}. With `splitRecurrent` it returns `2G + 2` values: the gradients
   * of the G input terms, then of the G recurrent terms, then the two.
   */
  backward: string;
}

const ACTIVATIONS = /* wgsl */ `
fn sigmoid_(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }
// exp(2x) overflows for large |x|; this form stays finite.
fn tanh_(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - e) / (1.0 + e);
}
`;

/** The LSTM cell (gates i, f, g, o, as in ./lstm.ts). */
export const LSTM_CELL: FusedCell = {
  gates: 4,
  recordFields: 7,
  splitRecurrent: false,
  forward: /* wgsl */ `
fn cellForward(z: array<f32, 4>, hPrev: f32, cPrev: f32, m: f32) -> array<f32, 7> {
  let i = sigmoid_(z[0]);
  let f = sigmoid_(z[1]);
  let g = tanh_(z[2]);
  let o = sigmoid_(z[3]);
  let c = f * cPrev + i * g;
  let tc = tanh_(c);
  let h = o * tc;
  return array<f32, 7>(hPrev + m * (h - hPrev), cPrev + m * (c - cPrev), i, f, g, o, tc);
}`,
  backward: /* wgsl */ `
fn cellBackward(rec: array<f32, 7>, hPrev: f32, cPrev: f32, dh: f32, dc: f32, m: f32) -> array<f32, 6> {
  let i = rec[2];
  let f = rec[3];
  let g = rec[4];
  let o = rec[5];
  let tc = rec[6];
  // A padded step passes the state through: only the masked part reaches the cell.
  let dhNew = dh * m;
  let dcCell = dc * m + dhNew * o * (1.0 - tc * tc);
  return array<f32, 6>(
    dcCell * g * i * (1.0 - i),
    dcCell * cPrev * f * (1.0 - f),
    dcCell * i * (1.0 - g * g),
    dhNew * tc * o * (1.0 - o),
    dh * (1.0 - m),
    dcCell * f + dc * (1.0 - m),
  );
}`,
};

/**
 * The GRU cell (gates z, r, n, as in ./gru.ts):
 * `n = tanh(x_n + r ⊙ a_n)` with `a_n = h·R_n + bR`, `h' = n + z ⊙ (h - n)`.
 * Record: h, c (passed through unchanged), z, r, n, a_n.
 */
export const GRU_CELL: FusedCell = {
  gates: 3,
  recordFields: 6,
  splitRecurrent: true,
  forward: /* wgsl */ `
fn cellForward(x: array<f32, 3>, a: array<f32, 3>, hPrev: f32, cPrev: f32, m: f32) -> array<f32, 6> {
  let z = sigmoid_(x[0] + a[0]);
  let r = sigmoid_(x[1] + a[1]);
  let n = tanh_(x[2] + r * a[2]);
  let h = n + z * (hPrev - n);
  return array<f32, 6>(hPrev + m * (h - hPrev), cPrev, z, r, n, a[2]);
}`,
  backward: /* wgsl */ `
fn cellBackward(rec: array<f32, 6>, hPrev: f32, cPrev: f32, dh: f32, dc: f32, m: f32) -> array<f32, 8> {
  let z = rec[2];
  let r = rec[3];
  let n = rec[4];
  let an = rec[5];
  // A padded step passes the state through: only the masked part reaches the cell.
  let dhNew = dh * m;
  let dzPre = dhNew * (hPrev - n) * z * (1.0 - z);
  let dnPre = dhNew * (1.0 - z) * (1.0 - n * n);
  let drPre = dnPre * an * r * (1.0 - r);
  return array<f32, 8>(
    dzPre, drPre, dnPre,
    dzPre, drPre, dnPre * r,
    dhNew * z + dh * (1.0 - m),
    dc,
  );
}`,
};

/**
 * The RHN cell (./rhn.ts), one micro-layer: candidate `h = tanh(z_h)`,
 * transform gate `g = σ(z_t)`, `s' = h ⊙ g + s ⊙ (1 − g)`; run with
 * `depth` micro-steps per time step. Record: s, c (passed through), h, g.
 */
export const RHN_CELL: FusedCell = {
  gates: 2,
  recordFields: 4,
  splitRecurrent: false,
  forward: /* wgsl */ `
fn cellForward(z: array<f32, 2>, hPrev: f32, cPrev: f32, m: f32) -> array<f32, 4> {
  let h = tanh_(z[0]);
  let g = sigmoid_(z[1]);
  let s = h * g + hPrev * (1.0 - g);
  return array<f32, 4>(hPrev + m * (s - hPrev), cPrev, h, g);
}`,
  backward: /* wgsl */ `
fn cellBackward(rec: array<f32, 4>, hPrev: f32, cPrev: f32, dh: f32, dc: f32, m: f32) -> array<f32, 4> {
  let h = rec[2];
  let g = rec[3];
  // A padded step passes the state through: only the masked part reaches the cell.
  let dsNew = dh * m;
  return array<f32, 4>(
    dsNew * g * (1.0 - h * h),
    dsNew * (h - hPrev) * g * (1.0 - g),
    dsNew * (1.0 - g) + dh * (1.0 - m),
    dc,
  );
}`,
};

/** Batch rows per thread: each weight read from memory serves this many rows. */
const ROWS = 4;
const WORKGROUP = 64;

/** The parts of tfjs-backend-webgpu's `WebGPUBackend` this module uses. */
interface WebGPUBackendLike {
  runWebGPUProgram(
    program: unknown,
    inputs: tf.TensorInfo[],
    dtype: "float32",
    uniforms: { type: "int32"; data: number[] }[],
    output: tf.TensorInfo,
  ): tf.TensorInfo;
}

/** A program object as tfjs-backend-webgpu 4.22's `runWebGPUProgram` takes it. */
function program(key: string, variableNames: string[], threads: number, code: string) {
  return {
    outputShape: [] as number[],
    shaderKey: key,
    dispatchLayout: { x: [0] },
    dispatch: [Math.ceil(threads / WORKGROUP), 1, 1] as [number, number, number],
    variableNames,
    workgroupSize: [WORKGROUP, 1, 1] as [number, number, number],
    uniforms: "t : i32,",
    getUserCode: () => code,
  };
}

/**
 * WGSL of the forward step: inputs P, R, H0, C0, M (then BR with
 * `splitRecurrent`, then HM with a hidden mask); output the records.
 */
function forwardCode(cell: FusedCell, B: number, H: number, layout: Layout): string {
  const G = cell.gates, F = cell.recordFields, GH = G * H;
  // Without splitRecurrent the recurrent term accumulates onto the input term.
  const split = cell.splitRecurrent;
  const acc = split ? "a" : "z";
  const declareA = split ? `var a: array<array<f32, ${G}>, ${ROWS}>;` : "";
  const initA = split ? `a[r][k] = BR[k * ${H} + j];` : "";
  const splitArg = split ? "a[r], " : "";
  const dropout = layout.hiddenMask ? ` * HM[b * ${H} + m]` : "";
  return `${ACTIVATIONS}${cell.forward}
fn prevH(t: i32, b: i32, m: i32) -> f32 {
  if (t == 0) { return H0[b * ${H} + m]; }
  return result[((t - 1) * ${B} + b) * ${F * H} + m];
}
fn prevC(t: i32, b: i32, j: i32) -> f32 {
  if (t == 0) { return C0[b * ${H} + j]; }
  return result[((t - 1) * ${B} + b) * ${F * H} + ${H} + j];
}
fn main(index: i32) {
  let j = index % ${H};
  let b0 = (index / ${H}) * ${ROWS};
  if (b0 >= ${B}) { return; }
  let t = uniforms.t;
  // Micro-step t of a deep cell uses its own R; the padding mask is per time step.
  let rBase = (t % ${layout.depth}) * ${H * GH};
  let mStep = (t / ${layout.depth}) * ${B};
  var z: array<array<f32, ${G}>, ${ROWS}>;
  ${declareA}
  for (var r = 0; r < ${ROWS}; r++) {
    let b = min(b0 + r, ${B - 1});
    for (var k = 0; k < ${G}; k++) {
      z[r][k] = P[(t * ${B} + b) * ${GH} + k * ${H} + j];
      ${initA}
    }
  }
  for (var m = 0; m < ${H}; m++) {
    var h: array<f32, ${ROWS}>;
    for (var r = 0; r < ${ROWS}; r++) {
      let b = min(b0 + r, ${B - 1});
      h[r] = prevH(t, b, m)${dropout};
    }
    for (var k = 0; k < ${G}; k++) {
      let w = R[rBase + m * ${GH} + k * ${H} + j];
      for (var r = 0; r < ${ROWS}; r++) { ${acc}[r][k] += h[r] * w; }
    }
  }
  for (var r = 0; r < ${ROWS}; r++) {
    let b = b0 + r;
    if (b >= ${B}) { break; }
    let rec = cellForward(z[r], ${splitArg}prevH(t, b, j), prevC(t, b, j), M[mStep + b]);
    let base = (t * ${B} + b) * ${F * H} + j;
    for (var f = 0; f < ${F}; f++) { result[base + f * ${H}] = rec[f]; }
  }
}`;
}

/** How a recurrence goes beyond one cell step per time step. */
export interface Layout {
  /**
   * Micro-steps per time step (an RHN's depth; 1 otherwise): P and the
   * result then have `T·depth` steps, micro-step `s` uses `R[s % depth]`
   * (R is `[depth, H, G·H]`), and the padding masks stay per time step.
   */
  depth: number;
  /** `[B, H]`: multiplies the state entering the recurrent product (variational dropout). */
  hiddenMask?: tf.Tensor2D;
}

/** Width of a gradient record: dP (and dA with splitRecurrent), then what passes to h and c. */
function gradientWidth(cell: FusedCell, H: number): number {
  return ((cell.splitRecurrent ? 2 : 1) * cell.gates + 2) * H;
}

/**
 * WGSL of the backward step: inputs RT (`[depth, G·H, H]`), DY (`[T + 2, B, H]`),
 * REC (the forward records), H0, C0, M; output the gradient records
 * `[T, B, D]`: the gradients of the G input blocks (then, with
 * `splitRecurrent`, of the G recurrent blocks), then what passes to h and c.
 */
function backwardCode(
  cell: FusedCell,
  T: number,
  B: number,
  H: number,
  layout: Layout,
): string {
  const G = cell.gates, F = cell.recordFields, GH = G * H, D = gradientWidth(cell, H);
  // Where the recurrent blocks' gradients start, and the pass-through fields.
  const A = cell.splitRecurrent ? GH : 0, PASS = D - 2 * H;
  const dropout = layout.hiddenMask
    ? `for (var r = 0; r < ${ROWS}; r++) { dh[r] *= HM[min(b0 + r, ${B - 1}) * ${H} + j]; }`
    : "";
  return `${ACTIVATIONS}${cell.backward}
fn main(index: i32) {
  let j = index % ${H};
  let b0 = (index / ${H}) * ${ROWS};
  if (b0 >= ${B}) { return; }
  let t = uniforms.t;
  // The gradient reaching h_t through R from step t + 1.
  var dh: array<f32, ${ROWS}>;
  if (t < ${T - 1}) {
    let rBase = ((t + 1) % ${layout.depth}) * ${GH * H};
    for (var k = 0; k < ${GH}; k++) {
      let w = RT[rBase + k * ${H} + j];
      for (var r = 0; r < ${ROWS}; r++) {
        dh[r] += result[((t + 1) * ${B} + min(b0 + r, ${B - 1})) * ${D} + ${A} + k] * w;
      }
    }
    ${dropout}
  }
  for (var r = 0; r < ${ROWS}; r++) {
    let b = b0 + r;
    if (b >= ${B}) { break; }
    var dhIn = dh[r] + DY[(t * ${B} + b) * ${H} + j];
    var dcIn: f32;
    if (t == ${T - 1}) {
      dhIn += DY[(${T} * ${B} + b) * ${H} + j];
      dcIn = DY[(${T + 1} * ${B} + b) * ${H} + j];
    } else {
      let later = ((t + 1) * ${B} + b) * ${D} + j;
      dhIn += result[later + ${PASS}];
      dcIn = result[later + ${PASS + H}];
    }
    var rec: array<f32, ${F}>;
    let base = (t * ${B} + b) * ${F * H} + j;
    for (var f = 0; f < ${F}; f++) { rec[f] = REC[base + f * ${H}]; }
    var hPrev: f32;
    var cPrev: f32;
    if (t == 0) {
      hPrev = H0[b * ${H} + j];
      cPrev = C0[b * ${H} + j];
    } else {
      hPrev = REC[base - ${B * F * H}];
      cPrev = REC[base - ${B * F * H} + ${H}];
    }
    let d = cellBackward(rec, hPrev, cPrev, dhIn, dcIn, M[(t / ${layout.depth}) * ${B} + b]);
    let dst = (t * ${B} + b) * ${D} + j;
    for (var k = 0; k < ${D / H}; k++) { result[dst + k * ${H}] = d[k]; }
  }
}`;
}

function webgpu(): WebGPUBackendLike {
  return tf.backend() as unknown as WebGPUBackendLike;
}

/** An uninitialised float32 tensor on the webgpu backend, for a program to fill. */
function emptyTensor(shape: number[]): tf.Tensor {
  const info = (tf.backend() as unknown as {
    makeTensorInfo(shape: number[], dtype: "float32"): tf.TensorInfo;
  }).makeTensorInfo(shape, "float32");
  return tf.engine().makeTensorFromTensorInfo(info);
}

/**
 * The fused recurrence with the contract of ./lstm.ts's op-by-op one:
 * `(P [T, B, G·H], R [H, G·H], h0 [B, H], c0 [B, H])` → `[T + 2, B, H]`
 * (the T outputs, then the final h and c), differentiable in all its
 * inputs; a `splitRecurrent` cell takes a fifth, the recurrent bias
 * `bR [G·H]`. `stepMasks` are per time step `[B, 1]`, 1 for a real token
 * and 0 for padding; `layout` adds micro-steps (then T counts micro-steps
 * and R is `[depth, H, G·H]`) and a hidden dropout mask. Runs only on the
 * webgpu backend.
 */
export function fusedRecurrence(
  cell: FusedCell,
  stepMasks?: tf.Tensor2D[],
  layout: Layout = { depth: 1 },
) {
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const split = cell.splitRecurrent;
    const inputs = args.slice(0, split ? 5 : 4) as tf.Tensor[];
    const [P, R, h0, c0] = inputs;
    const save = args[inputs.length] as tf.GradSaveFunc;
    const [T, B] = P.shape as number[];
    const H = h0.shape[1]!;
    const F = cell.recordFields;
    const depth = layout.depth;
    const M = stepMasks ? tf.reshape(tf.stack(stepMasks), [T / depth, B]) : tf.ones([T, B]);
    // Saved (a copy), since the caller's scope may dispose the mask before the backward pass.
    const HM = layout.hiddenMask ? [tf.clone(layout.hiddenMask)] : [];
    const extra = [...(split ? [inputs[4]] : []), ...HM];
    const names = ["P", "R", "H0", "C0", "M", ...(split ? ["BR"] : [])];
    if (layout.hiddenMask) names.push("HM");
    const threads = Math.ceil(B / ROWS) * H;
    const shape = `${cell.gates}_${F}_${split}_${depth}_${!!layout.hiddenMask}_${B}_${H}`;
    const code = forwardCode(cell, B, H, layout);
    const records = emptyTensor([T, B, F * H]);
    for (let t = 0; t < T; t++) {
      // A fresh program object per dispatch: runWebGPUProgram extends its shaderKey.
      const forward = program(`sparrowFusedForward_${shape}`, names, threads, code);
      webgpu().runWebGPUProgram(forward, [P, R, h0, c0, M, ...extra], "float32", [
        { type: "int32", data: [t] },
      ], records);
    }
    save([records, R, h0, c0, M, ...HM]);
    const outputs = tf.slice(records, [0, 0, 0], [T, B, H]);
    const finals = tf.reshape(tf.slice(records, [T - 1, 0, 0], [1, B, 2 * H]), [1, B, 2, H]);
    const value = tf.concat([outputs, tf.reshape(tf.transpose(finals, [2, 1, 0, 3]), [2, B, H])]);

    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [records, R, h0, c0, M, ...HM] = saved;
      const G = cell.gates, GH = G * H, D = gradientWidth(cell, H);
      const R3 = tf.reshape(R, [depth, H, GH]);
      const RT = tf.transpose(R3, [0, 2, 1]);
      const code = backwardCode(cell, T, B, H, layout);
      const grads = emptyTensor([T, B, D]);
      const names = ["RT", "DY", "REC", "H0", "C0", "M", ...(HM.length ? ["HM"] : [])];
      const inputs = [RT, dy, records, h0, c0, M, ...HM];
      const dropout = (x: tf.Tensor) => HM.length ? tf.mul(x, HM[0]) : x;
      for (let t = T - 1; t >= 0; t--) {
        const backward = program(`sparrowFusedBackward_${shape}_${T}`, names, threads, code);
        webgpu().runWebGPUProgram(backward, inputs, "float32", [
          { type: "int32", data: [t] },
        ], grads);
      }
      const dP = tf.slice(grads, [0, 0, 0], [T, B, GH]);
      // The gradient of the recurrent term h·R (+ bR): dP itself unless the cell splits them.
      const dA = split ? tf.slice(grads, [0, 0, GH], [T, B, GH]) : dP;
      // The state each micro-step's product saw, and R's gradient summed per micro-layer.
      const hPrev = dropout(
        tf.concat([tf.reshape(h0, [1, B, H]), tf.slice(records, [0, 0, 0], [T - 1, B, H])]),
      );
      const perLayer = (x: tf.Tensor, width: number) =>
        tf.reshape(
          tf.transpose(tf.reshape(x, [T / depth, depth, B, width]), [1, 0, 2, 3]),
          [depth, (T / depth) * B, width],
        );
      const dR = tf.reshape(
        tf.matMul(perLayer(hPrev, H), perLayer(dA, GH), true),
        R.shape,
      );
      const first = tf.reshape(tf.slice(grads, [0, 0, 0], [1, B, D]), [B, D]);
      const RT0 = tf.reshape(tf.slice(RT, [0, 0, 0], [1, GH, H]), [GH, H]);
      const dh0 = tf.add(
        dropout(tf.matMul(tf.slice(first, [0, D - 2 * H - GH], [B, GH]), RT0)),
        tf.slice(first, [0, D - 2 * H], [B, H]),
      );
      const dc0 = tf.slice(first, [0, D - H], [B, H]);
      return split
        ? [dP, dR, dh0, dc0, tf.sum(tf.reshape(dA, [T * B, GH]), 0)]
        : [dP, dR, dh0, dc0];
    };
    return { value, gradFunc };
  });
}

let fusedEnabled = true;

/**
 * Turns the fused recurrence on the webgpu backend on (the default) or off
 * (tfjs's op-by-op kernels, as on every other backend); for benchmarks and
 * parity tests.
 */
export function setFusedRecurrence(enabled: boolean): void {
  fusedEnabled = enabled;
}

/** Whether recurrent layers run fused now: on the webgpu backend, unless turned off. */
export function fusedRecurrenceActive(): boolean {
  return fusedEnabled && tf.getBackend() === "webgpu";
}
