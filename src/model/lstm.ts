/**
 * An LSTM layer as a function of tensors (tfjs). Gate matrices are fused
 * column-wise in the order i, f, c, o; see ./config.ts for the layout.
 *
 * The input projection of all time steps is one large matMul (autodiff
 * handles it). The recurrence is one custom-gradient op with a hand-written
 * backward pass through time: per step it needs one matMul with Rᵀ
 * (transposed once per sequence), and the weight gradient of R is a single
 * `Hprevᵀ · dZ` product over all steps. Autodiff of the step-by-step graph
 * would instead transpose R and h and repack small matrices at every step.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { fusedRecurrence, fusedRecurrenceActive, LSTM_CELL } from "./fused_webgpu.ts";

/** The three parameters of one LSTM layer. */
export interface LstmWeights {
  /** `[inputSize, 4H]` */
  W: tf.Tensor2D;
  /** `[H, 4H]` */
  R: tf.Tensor2D;
  /** `[4H]` */
  b: tf.Tensor1D;
}

/** Hidden and cell state, each `[B, H]`. */
export interface LstmState {
  h: tf.Tensor2D;
  c: tf.Tensor2D;
}

/**
 * Every step's input term of a layer's gates at once, `x·W + b` (or `x·W`
 * for a layer whose biases sit elsewhere, as an RHN's), as
 * `[T, B, gates·H]`: one matrix product instead of one per step.
 */
export function projectInputs(inputs: tf.Tensor3D, W: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor3D {
  const [T, B, inputSize] = inputs.shape;
  const xW = tf.matMul(tf.reshape(inputs, [T * B, inputSize]), W);
  return tf.reshape(b ? tf.add(xW, b) : xW, [T, B, W.shape[1]]) as tf.Tensor3D;
}

/**
 * The T steps of `[T, B, W]` as `[B, W]` tensors, for an op-by-op
 * recurrence. Slices, not unstack: tfjs's gradient of a one-step unstack
 * fails (it stacks a lone tensor).
 */
export function stepSlices(x: tf.Tensor3D): tf.Tensor2D[] {
  const [T, B, W] = x.shape;
  return Array.from(
    { length: T },
    (_, t) => tf.reshape(tf.slice(x, [t, 0, 0], [1, B, W]), [B, W]) as tf.Tensor2D,
  );
}

/** Runs one LSTM layer over `[T, B, inputSize]` inputs. */
export function lstmLayer(
  inputs: tf.Tensor3D,
  weights: LstmWeights,
  initial: LstmState,
  /**
   * Per step `[B, 1]` of 1 (a real token) or 0 (padding). A padded step
   * keeps the previous state, so the final state is the one after each
   * sequence's last real token.
   */
  stepMasks?: tf.Tensor2D[],
): { outputs: tf.Tensor3D; final: LstmState } {
  const [T, B] = inputs.shape;
  const H = weights.R.shape[0];
  const projected = projectInputs(inputs, weights.W, weights.b);
  // The recurrence returns [T + 2, B, H]: the T outputs, then the final h and c.
  // On webgpu the fused WGSL recurrence (./fused_webgpu.ts) replaces the op-by-op one.
  const run = fusedRecurrenceActive()
    ? fusedRecurrence(LSTM_CELL, stepMasks)
    : recurrence(stepMasks);
  return unpackRecurrence(run(projected, weights.R, initial.h, initial.c), T, B, H);
}

/** A recurrence's `[T + 2, B, H]` result (the T outputs, then the final h and c) taken apart. */
export function unpackRecurrence(
  packed: tf.Tensor,
  T: number,
  B: number,
  H: number,
): { outputs: tf.Tensor3D; final: LstmState } {
  const [outputs, h, c] = tf.split(packed, [T, 1, 1], 0);
  return {
    outputs: outputs as tf.Tensor3D,
    final: { h: tf.reshape(h, [B, H]) as tf.Tensor2D, c: tf.reshape(c, [B, H]) as tf.Tensor2D },
  };
}

/** What one forward step keeps for the backward pass. */
interface StepRecord {
  i: tf.Tensor2D;
  f: tf.Tensor2D;
  g: tf.Tensor2D;
  o: tf.Tensor2D;
  /** tanh of the new cell state (before masking). */
  tanhC: tf.Tensor2D;
  hPrev: tf.Tensor2D;
  cPrev: tf.Tensor2D;
}

const STEP_FIELDS = ["i", "f", "g", "o", "tanhC", "hPrev", "cPrev"] as const;

/**
 * The LSTM recurrence over projected inputs `P` (`[T, B, 4H]`, i.e. x·W + b):
 * `z_t = P_t + h_{t-1}·R`, gates, state update, optional padding masks.
 */
function recurrence(stepMasks?: tf.Tensor2D[]) {
  return tf.customGrad((
    // customGrad passes tensors and, last, the save function.
    ...args: (tf.Tensor | tf.GradSaveFunc)[]
  ) => {
    const [P, R, h0, c0] = args as tf.Tensor[];
    const save = args[4] as tf.GradSaveFunc;
    const [T, B] = P.shape;
    const H = R.shape[0];
    const steps = tf.unstack(P) as tf.Tensor2D[];
    let h = h0 as tf.Tensor2D;
    let c = c0 as tf.Tensor2D;
    const records: StepRecord[] = [];
    const outputs: tf.Tensor2D[] = [];
    for (let t = 0; t < T; t++) {
      const z = tf.add(steps[t], tf.matMul(h, R));
      const [zi, zf, zg, zo] = tf.split(z, 4, 1) as tf.Tensor2D[];
      const record: StepRecord = {
        i: tf.sigmoid(zi),
        f: tf.sigmoid(zf),
        g: tf.tanh(zg),
        o: tf.sigmoid(zo),
        tanhC: h, // replaced below
        hPrev: h,
        cPrev: c,
      };
      let nextC: tf.Tensor2D = tf.add(tf.mul(record.f, c), tf.mul(record.i, record.g));
      record.tanhC = tf.tanh(nextC);
      let nextH: tf.Tensor2D = tf.mul(record.o, record.tanhC);
      if (stepMasks) {
        const m = stepMasks[t];
        nextH = tf.add(h, tf.mul(m, tf.sub(nextH, h)));
        nextC = tf.add(c, tf.mul(m, tf.sub(nextC, c)));
      }
      records.push(record);
      h = nextH;
      c = nextC;
      outputs.push(h);
    }
    // Saved tensors outlive the forward pass; the masks are saved too, since
    // the caller's scope may dispose them before the backward pass runs.
    save([...records.flatMap((r) => STEP_FIELDS.map((k) => r[k])), ...(stepMasks ?? [])]);
    const value = tf.concat([tf.stack(outputs), tf.stack([h, c])], 0);

    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const at = (t: number, k: number) => saved[t * STEP_FIELDS.length + k] as tf.Tensor2D;
      const [dOutputs, dFinalH, dFinalC] = tf.split(dy, [T, 1, 1], 0);
      const dY = tf.unstack(dOutputs) as tf.Tensor2D[];
      const RT = tf.transpose(R);
      let dh = tf.reshape(dFinalH, [B, H]) as tf.Tensor2D;
      let dc = tf.reshape(dFinalC, [B, H]) as tf.Tensor2D;
      const dZ: tf.Tensor2D[] = new Array(T);
      for (let t = T - 1; t >= 0; t--) {
        const [i, f, g, o, tanhC, , cPrev] = STEP_FIELDS.map((_, k) => at(t, k));
        dh = tf.add(dh, dY[t]);
        // A padded step passes the state through: only the masked part reaches the cell.
        let dhNew = dh,
          dcNew = dc,
          dhKeep: tf.Tensor2D | undefined,
          dcKeep: tf.Tensor2D | undefined;
        if (stepMasks) {
          const m = saved[T * STEP_FIELDS.length + t];
          const keep = tf.sub(1, m);
          dhNew = tf.mul(dh, m);
          dcNew = tf.mul(dc, m);
          dhKeep = tf.mul(dh, keep);
          dcKeep = tf.mul(dc, keep);
        }
        const dcCell = tf.add(dcNew, tf.mul(tf.mul(dhNew, o), tf.sub(1, tf.square(tanhC))));
        const dzi = tf.mul(tf.mul(dcCell, g), tf.mul(i, tf.sub(1, i)));
        const dzf = tf.mul(tf.mul(dcCell, cPrev), tf.mul(f, tf.sub(1, f)));
        const dzg = tf.mul(tf.mul(dcCell, i), tf.sub(1, tf.square(g)));
        const dzo = tf.mul(tf.mul(dhNew, tanhC), tf.mul(o, tf.sub(1, o)));
        dZ[t] = tf.concat([dzi, dzf, dzg, dzo], 1) as tf.Tensor2D;
        dh = tf.matMul(dZ[t], RT);
        dc = tf.mul(dcCell, f);
        if (dhKeep && dcKeep) {
          dh = tf.add(dh, dhKeep);
          dc = tf.add(dc, dcKeep);
        }
      }
      const dP = tf.stack(dZ);
      const hPrevAll = tf.reshape(tf.stack(records.map((_, t) => at(t, 5))), [T * B, H]);
      const dR = tf.matMul(tf.transpose(hPrevAll), tf.reshape(dP, [T * B, 4 * H]));
      return [dP, dR, dh, dc];
    };
    return { value, gradFunc };
  });
}
