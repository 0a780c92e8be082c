/**
 * The parity check every export must pass before it is written: the ONNX
 * model, run by onnxruntime, must reproduce the trained model's logits, as the float64 reference
 * forward computes them,
 * on sample inputs, including a full-length sequence and the same sequence
 * streamed one token at a time.
 *
 * @module
 */

import { Rng } from "../src/core/rng.ts";
import type { ModelConfig } from "../src/spec/config.ts";
import type { HostParams } from "../src/spec/params.ts";
import { referenceClassifierForward, referenceLmForward } from "../src/spec/reference.ts";
import { openSession, runClassifier, runLanguageModel } from "../src/infer/onnx_runtime.ts";

/**
 * The largest max-abs logit difference an export may have: fp32 modes, and
 * fp16 values too (their rounding error counts against it).
 */
export const PARITY_TOLERANCE = 1e-4;

/**
 * The tolerance of `--compute int8`, relative to the largest |logit| of the
 * trained model on the samples (or 1, if that is smaller). int8 is
 * approximate by design: onnxruntime quantizes the inputs and the hidden
 * state to uint8 on the fly at every step, which moves logits by a few
 * percent of their range; the int8 weights alone move them far less.
 */
export const INT8_RELATIVE_TOLERANCE = 5e-2;

/**
 * The parity tolerance an export in `compute` mode is held to, given the
 * largest |logit| the trained model produced on the samples.
 */
export function parityTolerance(compute: string, referenceMaxAbs: number): number {
  return compute === "int8"
    ? INT8_RELATIVE_TOLERANCE * Math.max(1, referenceMaxAbs)
    : PARITY_TOLERANCE;
}

/** The outcome of a parity check. */
export interface ParityReport {
  /** Largest |onnx − reference| over all sample logits. */
  maxAbsDiff: number;
  /** Number of logits compared. */
  compared: number;
  /** What was compared, for the export record. */
  samples: string;
  /** Largest |logit| of the trained model on the samples (the logit scale). */
  referenceMaxAbs: number;
  /**
   * Language models: the largest |Δlogit| between the sample streamed one
   * token per call and run in one call. 0 up to float rounding for exact
   * modes; for int8 it is not (see {@link checkParity}).
   */
  streamedVsWhole?: number;
}

/** Deterministic sample inputs for a model (seeded, so reports are reproducible). */
export function sampleSequences(config: ModelConfig, seed = 7): number[][] {
  const rng = new Rng(seed);
  const lengths = config.kind === "lm" ? [16, 16] : [12, 5, 1];
  return lengths.map((n) => Array.from({ length: n }, () => rng.int(config.vocabSize)));
}

/**
 * Logits of the float64 reference forward (../src/spec/reference.ts) for
 * equal-length LM sequences or classifier sequences, `[T, B, V]` or `[B, C]`.
 * The reference and the tfjs training model agree to float32 rounding
 * (test/model), so export needs neither tfjs nor a backend.
 */
export function referenceLogits(
  config: ModelConfig,
  params: HostParams,
  sequences: number[][],
): Float32Array {
  if (config.kind === "classifier") return referenceClassifierForward(config, params, sequences);
  const T = sequences[0].length;
  const timeMajor = Array.from({ length: T }, (_, t) => sequences.map((s) => s[t]));
  return referenceLmForward(config, params, timeMajor).logits;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst;
}

/**
 * Runs `onnxBytes` in onnxruntime and compares it with the reference forward on
 * sample inputs. For a language model the sample is also streamed token by
 * token with carried state, and both runs are held to the tolerance. For an
 * exact mode that makes streamed and whole runs agree; `--compute int8`
 * (pass `compute`) is not causal: onnxruntime's DynamicQuantizeLSTM picks
 * its scale from each call's whole input, so the report states how far
 * streamed and whole runs differ instead of claiming they agree.
 */
export async function checkParity(
  config: ModelConfig,
  params: HostParams,
  onnxBytes: Uint8Array,
  compute = "op",
): Promise<ParityReport> {
  const sequences = sampleSequences(config);
  const expected = referenceLogits(config, params, sequences);
  const referenceMaxAbs = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const session = await openSession(onnxBytes);
  try {
    if (config.kind === "classifier") {
      const { logits } = await runClassifier(session, sequences);
      return {
        maxAbsDiff: maxAbsDiff(logits, expected),
        compared: expected.length,
        samples: "3 sequences of lengths 12, 5, 1",
        referenceMaxAbs,
      };
    }
    const T = sequences[0].length;
    const timeMajor = Array.from({ length: T }, (_, t) => sequences.map((s) => s[t]));
    const full = await runLanguageModel(session, timeMajor);
    // Streamed: one token per call, the state carried across calls.
    const streamed = new Float32Array(expected.length);
    let state = undefined;
    for (let t = 0; t < T; t++) {
      const step = await runLanguageModel(session, [timeMajor[t]], state);
      streamed.set(step.logits, t * step.logits.length);
      state = step.state;
    }
    const samples = `${sequences.length} sequences of ${T} tokens, whole and streamed one ` +
      `token at a time, each against the reference`;
    return {
      maxAbsDiff: Math.max(maxAbsDiff(full.logits, expected), maxAbsDiff(streamed, expected)),
      compared: 2 * expected.length,
      samples: compute === "int8"
        ? `${samples} (int8 is not causal: streamed and whole logits differ by streamedVsWhole)`
        : samples,
      referenceMaxAbs,
      streamedVsWhole: maxAbsDiff(streamed, full.logits),
    };
  } finally {
    await session.release();
  }
}
