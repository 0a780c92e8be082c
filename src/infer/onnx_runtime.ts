/**
 * Runs exported sparrow models with onnxruntime-node. Inference knows only
 * the `.onnx` file and its input/output contract (see `export/onnx_model.ts`),
 * never the training code, so it stays small enough to ship to a device.
 *
 * onnxruntime-node is a native addon: Deno needs `--allow-ffi` (or `-A`).
 *
 * @module
 */

import * as ort from "onnxruntime-node";
import { check, UserError } from "../spec/errors.ts";

/** An open model, ready to run. */
export type OnnxSession = ort.InferenceSession;

/** Recurrent state of every layer, `[L, B, H]` row-major each; a GRU's `c` is empty. */
export interface LmState {
  h: Float32Array;
  c: Float32Array;
}

/** Output of {@link runLanguageModel}. */
export interface LmRunResult {
  /** `[T, B, V]` row-major. */
  logits: Float32Array;
  /** `[T, B, V]`. */
  dims: number[];
  /** The state after the last step; pass it to the next call to continue. */
  state: LmState;
}

/** Output of {@link runClassifier}. */
export interface ClassifierRunResult {
  /** `[B, C]` row-major. */
  logits: Float32Array;
  /** `[B, C]`. */
  dims: number[];
}

/**
 * Opens a model from a file path or its bytes (`label` names bytes in
 * errors). One intra-op thread: the recurrent steps are small and
 * sequential, so extra threads mostly add synchronisation cost on small
 * machines.
 */
export async function openSession(
  source: string | Uint8Array,
  label: string = typeof source === "string" ? source : "(in-memory model)",
): Promise<OnnxSession> {
  const options: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
    // Failures reach the caller as errors; the runtime's own log would only
    // print them a second time.
    logSeverityLevel: 4,
  };
  if (typeof source === "string") {
    let isFile = false;
    try {
      isFile = (await Deno.stat(source)).isFile;
    } catch {
      // Reported below together with the not-a-file case.
    }
    check(
      isFile,
      `ONNX model ${source} does not exist; pass the path of an exported .onnx file`,
    );
  }
  try {
    return typeof source === "string"
      ? await ort.InferenceSession.create(source, options)
      : await ort.InferenceSession.create(source, options);
  } catch (error) {
    throw new UserError(
      `Cannot load ONNX model ${label}: ${firstLine(error)}; export it again with sparrow`,
    );
  }
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0];
}

/** The fixed `[L, H]` of the model's `state_h` input (`[L, batch, H]`). */
function stateSize(session: OnnxSession): { layers: number; hidden: number } {
  const meta = session.inputMetadata.find((m) => m.name === "state_h");
  const shape = meta && meta.isTensor ? meta.shape : [];
  const [layers, , hidden] = shape;
  check(
    shape.length === 3 && typeof layers === "number" &&
      typeof hidden === "number",
    "The ONNX model has no [layers, batch, hidden] state_h input; use a model exported by sparrow",
  );
  return { layers, hidden };
}

/**
 * Whether the model has a `state_c` input: an LSTM's cell state (an RHN passes
 * an unused one through); a GRU has none.
 */
export function hasCellStateInput(session: OnnxSession): boolean {
  return session.inputNames.includes("state_c");
}

/** `names` with `state_c` left out for a model without a cell state. */
function stateInputs(session: OnnxSession, names: string[]): string[] {
  return hasCellStateInput(session) ? names : names.filter((n) => n !== "state_c");
}

function expectInputs(session: OnnxSession, names: string[], kind: string) {
  const missing = names.filter((n) => !session.inputNames.includes(n));
  check(
    missing.length === 0 && session.inputNames.length === names.length,
    `The ONNX model is not a sparrow ${kind} (inputs ${
      session.inputNames.join(", ")
    }); use a ${kind} exported by sparrow`,
  );
}

function checkTokenId(token: number): void {
  // Gather would silently wrap negative ids, so reject them here.
  check(
    Number.isInteger(token) && token >= 0,
    `Token id ${token} is not a non-negative integer; encode text with the model's vocabulary`,
  );
}

async function run(
  session: OnnxSession,
  feeds: Record<string, ort.Tensor>,
): Promise<ort.InferenceSession.OnnxValueMapType> {
  try {
    return await session.run(feeds);
  } catch (error) {
    throw new UserError(
      `ONNX Runtime rejected the input: ${
        firstLine(error)
      }; check that token ids are within the model's vocabulary`,
    );
  }
}

/**
 * Runs a language model over `tokens` (`[T][B]`, time-major), starting from
 * `state` or zeros. Feeding one step at a time while carrying the returned
 * state gives the same logits as feeding the whole sequence, except for
 * int8 models (metadata `causal: false`), whose quantization scale depends
 * on each call's whole input.
 */
export async function runLanguageModel(
  session: OnnxSession,
  tokens: number[][],
  state?: LmState,
): Promise<LmRunResult> {
  expectInputs(session, stateInputs(session, ["tokens", "state_h", "state_c"]), "language model");
  const cellState = hasCellStateInput(session);
  const { layers, hidden } = stateSize(session);
  const T = tokens.length;
  check(T > 0, "No tokens to run; pass at least one time step");
  const B = tokens[0].length;
  check(
    B > 0 && tokens.every((row) => row.length === B),
    "Token rows must all hold the same batch size B > 0; pass a [T][B] array",
  );
  const ids = new BigInt64Array(T * B);
  tokens.forEach((row, t) =>
    row.forEach((token, b) => {
      checkTokenId(token);
      ids[t * B + b] = BigInt(token);
    })
  );
  const stateLength = layers * B * hidden;
  if (state) {
    check(
      state.h.length === stateLength && state.c.length === (cellState ? stateLength : 0),
      `State must hold [${layers}, ${B}, ${hidden}] values per tensor; pass the state returned for a batch of ${B}`,
    );
  }
  const stateDims = [layers, B, hidden];
  const feeds: Record<string, ort.Tensor> = {
    tokens: new ort.Tensor("int64", ids, [T, B]),
    state_h: new ort.Tensor(
      "float32",
      state ? state.h : new Float32Array(stateLength),
      stateDims,
    ),
  };
  if (cellState) {
    feeds.state_c = new ort.Tensor(
      "float32",
      state ? state.c : new Float32Array(stateLength),
      stateDims,
    );
  }
  const outputs = await run(session, feeds);
  const logits = outputs.logits;
  return {
    logits: logits.data as Float32Array,
    dims: [...logits.dims],
    state: {
      h: outputs.state_h_out.data as Float32Array,
      c: cellState ? outputs.state_c_out.data as Float32Array : new Float32Array(0),
    },
  };
}

/**
 * Classifies variable-length sequences: pads them into one `[T, B]` batch,
 * passes each true length so padding never reaches the result, and starts
 * from zero state.
 */
export async function runClassifier(
  session: OnnxSession,
  sequences: number[][],
): Promise<ClassifierRunResult> {
  const B = sequences.length;
  check(B > 0, "No sequences to classify; pass at least one");
  sequences.forEach((sequence, b) =>
    check(
      sequence.length > 0,
      `Sequence ${b} is empty; every sequence needs at least one token`,
    )
  );
  const T = Math.max(...sequences.map((s) => s.length));
  // Padding is 0: steps past a sequence's length never reach its logits.
  const tokens = Array.from({ length: T }, (_, t) => sequences.map((s) => s[t] ?? 0));
  return await runClassifierPadded(session, tokens, sequences.map((s) => s.length));
}

/**
 * Runs a classifier on a padded `[T][B]` (time-major) batch with the valid
 * length of each sequence. Every length must be a whole number from 1 to T:
 * the graph's modes disagree on others (the LSTM op fails, a Scan would clamp
 * them), so they are refused here, whatever the mode.
 */
export async function runClassifierPadded(
  session: OnnxSession,
  tokens: number[][],
  lengths: readonly number[],
): Promise<ClassifierRunResult> {
  expectInputs(
    session,
    stateInputs(session, ["tokens", "lengths", "state_h", "state_c"]),
    "classifier",
  );
  const { layers, hidden } = stateSize(session);
  const T = tokens.length;
  check(T > 0, "No tokens to classify; pass at least one time step");
  const B = tokens[0].length;
  check(
    B > 0 && tokens.every((row) => row.length === B),
    "Token rows must all hold the same batch size B > 0; pass a [T][B] array",
  );
  check(
    lengths.length === B,
    `lengths has ${lengths.length} entries for a batch of ${B}; pass one length per sequence`,
  );
  lengths.forEach((length, b) =>
    check(
      Number.isInteger(length) && length >= 1 && length <= T,
      `lengths[${b}] is ${length}, outside 1..${T} (the padded sequence length); pass each sequence's number of tokens`,
    )
  );
  const ids = new BigInt64Array(T * B);
  tokens.forEach((row, t) =>
    row.forEach((token, b) => {
      checkTokenId(token);
      ids[t * B + b] = BigInt(token);
    })
  );
  const stateDims = [layers, B, hidden];
  const zeros = new Float32Array(layers * B * hidden);
  const feeds: Record<string, ort.Tensor> = {
    tokens: new ort.Tensor("int64", ids, [T, B]),
    lengths: new ort.Tensor("int32", Int32Array.from(lengths), [B]),
    state_h: new ort.Tensor("float32", zeros, stateDims),
  };
  if (hasCellStateInput(session)) feeds.state_c = new ort.Tensor("float32", zeros, stateDims);
  const outputs = await run(session, feeds);
  return {
    logits: outputs.logits.data as Float32Array,
    dims: [...outputs.logits.dims],
  };
}
