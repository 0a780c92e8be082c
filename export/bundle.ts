/**
 * `deno task export`: a checkpoint becomes a bundle directory that a device
 * needs nothing else to run:
 *
 * ```text
 * <out>/model.onnx      the graph and weights
 * <out>/vocab.json      the vocabulary, a JSON array of tokens in id order
 * <out>/metadata.json   kind, config, labels, tokenizer, modes, sparsity,
 *                       FLOPs, parity
 * ```
 *
 * Nothing is written unless the model passes the structural check and the
 * parity check against the trained model (the float64 reference forward),
 * within the tolerance of its modes (see `parity.ts`). The new bundle is
 * written beside the old one and swapped in at the end (`swap.ts`), so the
 * output path always holds a complete bundle. metadata.json records the
 * sha256 of the other files, which loading verifies.
 *
 * @module
 */

import { basename } from "node:path";
import { inferenceFlops, type NonzeroCounts, parameterReport } from "../src/core/flops.ts";
import { check, UserError } from "../src/spec/errors.ts";
import { type ModelConfig, paramSpecs } from "../src/spec/config.ts";
import type { HostParams } from "../src/spec/params.ts";
import { type Checkpoint, loadCheckpoint } from "../src/spec/checkpoint.ts";
import {
  BUNDLE_FORMAT,
  BUNDLE_VERSION,
  type BundleMetadata,
  sha256Hex,
} from "../src/infer/bundle.ts";
import { EOS } from "../src/data/lm.ts";
import { UNK } from "../src/data/vocab.ts";
import { PAD } from "../src/data/classification.ts";
import { describeIo, textRule } from "./describe.ts";
import { type FileWriter, replaceBundle } from "./swap.ts";
import { SPARROW_VERSION } from "./version.ts";
import { checkOnnxModel } from "./onnx/check.ts";
import { float16RoundingError } from "./onnx/float16.ts";
import { optimizedGraph } from "./onnx/fold.ts";
import { quantizationError, quantizeColumns } from "./onnx/quantize.ts";
import {
  buildOnnx,
  type ComputeMode,
  type OnnxBuild,
  type OnnxExportOptions,
  type StorageChoice,
  type ValuePrecision,
} from "./onnx_model.ts";
import {
  checkParity,
  INT8_RELATIVE_TOLERANCE,
  type ParityReport,
  parityTolerance,
} from "./parity.ts";

/** Options of {@link exportBundle}. */
export interface ExportOptions {
  /** Weight storage; `auto` by default. */
  storage?: StorageChoice;
  /** LSTM compute mode; `op` by default. */
  compute?: ComputeMode;
  /** Float value precision; `fp32` by default. */
  values?: ValuePrecision;
  /**
   * The largest max-abs logit difference to accept; by default 1e-4, or
   * 5% of the trained model's largest |logit| with `compute: "int8"` (see `parity.ts`).
   */
  tolerance?: number;
  /** Replaces the graph builder; tests use it to plant a broken model. */
  build?: typeof buildOnnx;
  /** Extra metadata to record (e.g. the `--target auto` table). */
  extra?: Partial<BundleMetadata>;
  /** Writes each bundle file; tests inject one that fails like a full disk. */
  writeFile?: FileWriter;
}

/** Refuses a tolerance that is not a positive number. */
export function checkTolerance(tolerance: number | undefined): void {
  check(
    // NaN fails the comparison too; Infinity (measure without refusing) is allowed.
    tolerance === undefined || tolerance > 0,
    `--tolerance must be a positive number (the largest accepted max |Δlogit|), got ${tolerance}`,
  );
}

/** A model built and verified, not yet written. */
export interface VerifiedExport {
  build: OnnxBuild;
  parity: ParityReport & { tolerance: number };
  /** Where the export is approximate by design: what, and the weight error. */
  approximation?: { note: string; maxWeightError: number };
}

/** The resolved modes of an export. */
function modesOf(options: OnnxExportOptions) {
  return {
    storage: options.storage ?? "auto",
    compute: options.compute ?? "op",
    values: options.values ?? "fp32",
  } as const;
}

/** How far fp16 values or int8 codes move the weights of the LSTM (and other) matrices. */
function approximationOf(
  model: ModelConfig,
  params: HostParams,
  compute: ComputeMode,
  values: ValuePrecision,
): VerifiedExport["approximation"] {
  if (compute !== "int8" && values !== "fp16") return undefined;
  let worst = 0;
  const notes: string[] = [];
  if (values === "fp16") {
    for (const spec of paramSpecs(model)) {
      worst = Math.max(worst, float16RoundingError(params[spec.name].data));
    }
    notes.push("weights stored as float16");
  }
  if (compute === "int8") {
    for (const spec of paramSpecs(model)) {
      if (!spec.name.startsWith("lstm.") || spec.role === "bias") continue;
      const [rows, cols] = spec.shape;
      const data = params[spec.name].data;
      worst = Math.max(worst, quantizationError(data, quantizeColumns(data, rows, cols), cols));
    }
    notes.push(
      "LSTM weights int8 (one scale per gate column), inputs and hidden state quantized to uint8 " +
        "at every step by onnxruntime's DynamicQuantizeLSTM (onnxruntime only); tolerance " +
        `${100 * INT8_RELATIVE_TOLERANCE}% of the largest |logit| of the trained model`,
    );
  }
  return { note: notes.join("; "), maxWeightError: worst };
}

function refusal(
  parity: ParityReport,
  tolerance: number,
  modes: ReturnType<typeof modesOf>,
  approximation: VerifiedExport["approximation"],
): UserError {
  const diff = parity.maxAbsDiff.toExponential(2);
  if (modes.compute === "int8") {
    return new UserError(
      `export refused: with --compute int8 onnxruntime's logits differ from the trained model's by ${diff}, ` +
        `over the tolerance ${tolerance}; nothing was written. Export with --compute op for exact results`,
    );
  }
  if (modes.values === "fp16") {
    return new UserError(
      `export refused: with --values fp16 the logits differ from the trained model's by ${diff} ` +
        `(float16 rounding moves weights by up to ${
          approximation!.maxWeightError.toExponential(2)
        }), ` +
        `over the tolerance ${tolerance}; nothing was written. Export with --values fp32`,
    );
  }
  return new UserError(
    `export refused: onnxruntime's logits differ from the trained model's by ${diff} ` +
      `(tolerance ${tolerance}); nothing was written. This is a bug in the exporter or a corrupt checkpoint`,
  );
}

/**
 * Builds a model and runs every check an export must pass: the structural
 * check and parity with the trained model's reference forward within its modes' tolerance.
 * Throws a {@link UserError} explaining the failure otherwise.
 */
export async function buildVerified(
  model: ModelConfig,
  params: HostParams,
  options: ExportOptions = {},
): Promise<VerifiedExport> {
  checkTolerance(options.tolerance);
  const modes = modesOf(options);
  const build = (options.build ?? buildOnnx)(model, params, modes);
  const problems = checkOnnxModel(build.bytes, model.kind);
  if (problems.length > 0) {
    throw new UserError(
      `export refused: the ONNX graph is malformed (${problems.join("; ")}); nothing was written`,
    );
  }
  const report = await checkParity(model, params, build.bytes, modes.compute);
  const tolerance = options.tolerance ?? parityTolerance(modes.compute, report.referenceMaxAbs);
  const approximation = approximationOf(model, params, modes.compute, modes.values);
  if (!(report.maxAbsDiff <= tolerance)) {
    throw refusal(report, tolerance, modes, approximation);
  }
  return { build, parity: { ...report, tolerance }, approximation };
}

function nonzeroCounts(model: ModelConfig, params: HostParams): NonzeroCounts {
  const counts: Record<string, number> = {};
  for (const spec of paramSpecs(model)) {
    if (spec.role === "bias") continue;
    let nonzeros = 0;
    for (const v of params[spec.name].data) if (v !== 0) nonzeros++;
    counts[spec.name] = nonzeros;
  }
  return counts;
}

/** The token ids of `<unk>` and `<eos>`, where the vocabulary has them, and of padding. */
function specialTokens(
  kind: ModelConfig["kind"],
  vocab: readonly string[],
): BundleMetadata["specialTokens"] {
  const role = (token: string, description: string) => {
    const id = vocab.indexOf(token);
    return id < 0 ? undefined : { token, id, description };
  };
  return {
    unk: role(UNK, "stands for every word outside the vocabulary"),
    eos: role(EOS, "ends every line of text; feed it after a line's words"),
    padding: kind === "classifier"
      ? {
        ...(vocab.indexOf(PAD) >= 0 ? { token: PAD } : {}),
        id: Math.max(0, vocab.indexOf(PAD)),
        description:
          "fills the steps past a sequence's `lengths` entry, which the model ignores, so any id would do",
      }
      : { id: -1, description: "none: a language model's sequences in one batch share a length" },
  };
}

/**
 * The metadata.json of a verified export of checkpoint `ckpt`, which came
 * from `checkpointName` (only its file name is recorded).
 */
export async function bundleMetadata(
  ckpt: Checkpoint,
  checkpointName: string,
  verified: VerifiedExport,
  options: ExportOptions,
): Promise<BundleMetadata> {
  const { model } = ckpt.meta;
  const modes = modesOf(options);
  const counts = nonzeroCounts(model, ckpt.params);
  const report = parameterReport(model, counts);
  const flops = inferenceFlops(model, counts);
  const layers = report.params.filter((p) => p.role !== "bias").map((p) => ({
    name: p.name,
    shape: paramSpecs(model).find((s) => s.name === p.name)!.shape,
    nonzeros: p.nonzeros,
    sparsity: 1 - p.nonzeros / p.size,
  }));
  // A decode left unfolded would run on every call; say so rather than hide it.
  const folded = (await optimizedGraph(verified.build.bytes)).unfolded.length === 0;
  const files = { model: "model.onnx", vocab: "vocab.json" };
  const tokenizer = { ...(ckpt.meta.tokenizer ?? {}), rule: textRule(model.kind, ckpt.meta) };
  const causal = modes.compute !== "int8";
  return {
    format: BUNDLE_FORMAT,
    version: BUNDLE_VERSION,
    kind: model.kind,
    model,
    files,
    sha256: {
      [files.model]: await sha256Hex(verified.build.bytes),
      [files.vocab]: await sha256Hex(vocabBytes(ckpt)),
    },
    producer: { name: "sparrow", version: SPARROW_VERSION },
    io: describeIo(model),
    labels: ckpt.meta.labels,
    tokenizer,
    specialTokens: specialTokens(model.kind, ckpt.meta.vocab),
    causal,
    ...(causal ? {} : {
      causalNote: "onnxruntime's DynamicQuantizeLSTM picks its quantization scale from the " +
        "whole input of each call, so a token's logits depend on the tokens after it and on " +
        "how the input is split into calls (measured here: parity.streamedVsWhole); feed " +
        "the same chunks to get the same results",
    }),
    storage: modes.storage,
    compute: modes.compute,
    values: modes.values,
    tensors: verified.build.tensors,
    foldedAtLoad: folded,
    layers,
    parameters: { total: report.total, nonzero: report.nonzeros },
    flops: {
      perToken: flops.perToken,
      perSequence: flops.perSequence,
      maskedDensePerToken: flops.maskedDensePerToken,
      maskedDensePerSequence: flops.maskedDensePerSequence,
    },
    parity: verified.parity,
    approximation: verified.approximation,
    source: {
      // A path of the build machine means nothing on the device, and may say too much.
      checkpoint: basename(checkpointName),
      epochs: ckpt.meta.progress.epoch,
      metrics: checkpointMetrics(ckpt),
    },
    bytes: verified.build.bytes.length,
    ...options.extra,
  };
}

/** The metrics of the epoch `ckpt` holds: a best checkpoint's include its test metrics. */
function checkpointMetrics(ckpt: Checkpoint): Record<string, number> {
  const { best, epoch, history } = ckpt.meta.progress;
  return best?.epoch === epoch ? best.metrics : history.at(-1) ?? {};
}

function vocabBytes(ckpt: Checkpoint): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(ckpt.meta.vocab));
}

/**
 * Writes a verified export as the bundle directory `outDir`, replacing any
 * bundle there only once the new one is complete (see `swap.ts`).
 */
export async function writeBundle(
  outDir: string,
  ckpt: Checkpoint,
  bytes: Uint8Array,
  metadata: BundleMetadata,
  writeFile?: FileWriter,
): Promise<void> {
  const files = new Map<string, Uint8Array>([
    [metadata.files.model, bytes],
    [metadata.files.vocab, vocabBytes(ckpt)],
    ["metadata.json", new TextEncoder().encode(JSON.stringify(metadata, null, 2) + "\n")],
  ]);
  await replaceBundle(outDir, files, writeFile);
}

/** Builds, verifies and writes the bundle of checkpoint `source` into `outDir`. */
export async function exportBundle(
  source: string | Checkpoint,
  outDir: string,
  options: ExportOptions = {},
): Promise<BundleMetadata> {
  checkTolerance(options.tolerance);
  const ckpt = typeof source === "string" ? await loadCheckpoint(source) : source;
  const checkpointName = typeof source === "string" ? source : "(in memory)";
  const verified = await buildVerified(ckpt.meta.model, ckpt.params, options);
  const metadata = await bundleMetadata(ckpt, checkpointName, verified, options);
  await writeBundle(outDir, ckpt, verified.build.bytes, metadata, options.writeFile);
  return metadata;
}
