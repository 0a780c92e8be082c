/**
 * `deno task export`: a checkpoint becomes a bundle directory that a device
 * needs nothing else to run:
 *
 * ```text
 * <out>/model.onnx      the graph and weights (standard ONNX ops)
 * <out>/vocab.json      the vocabulary, a JSON array of tokens in id order
 * <out>/metadata.json   kind, config, labels, tokenizer, sparsity, parity
 * ```
 *
 * Nothing is written unless the model passes the structural check and the
 * parity check against the trained tfjs model. Each file is written
 * atomically, metadata.json last, so a bundle with metadata is complete.
 *
 * @module
 */

import { join } from "node:path";
import { useBackend } from "../src/backend/backend.ts";
import { UserError } from "../src/errors.ts";
import { writeFileAtomic } from "../src/io/atomic.ts";
import { paramSpecs, sizeOf } from "../src/model/config.ts";
import { type Checkpoint, loadCheckpoint } from "../src/train/checkpoint.ts";
import { BUNDLE_FORMAT, type BundleMetadata } from "../src/infer/bundle.ts";
import { checkOnnxModel } from "./onnx/check.ts";
import { buildOnnxModel, type WeightStorage } from "./onnx_model.ts";
import { checkParity, PARITY_TOLERANCE } from "./parity.ts";

/** Options of {@link exportBundle}. */
export interface ExportOptions {
  storage?: WeightStorage;
  /** Replaces the graph builder; tests use it to plant a broken model. */
  build?: typeof buildOnnxModel;
}

/** Builds, verifies and writes the bundle of checkpoint `source` into `outDir`. */
export async function exportBundle(
  source: string | Checkpoint,
  outDir: string,
  options: ExportOptions = {},
): Promise<BundleMetadata> {
  const ckpt = typeof source === "string" ? await loadCheckpoint(source) : source;
  const checkpointName = typeof source === "string" ? source : "(in memory)";
  const { model } = ckpt.meta;
  const storage = options.storage ?? "auto";
  const bytes = (options.build ?? buildOnnxModel)(model, ckpt.params, { storage });

  const problems = checkOnnxModel(bytes, model.kind);
  if (problems.length > 0) {
    throw new UserError(
      `export refused: the ONNX graph is malformed (${problems.join("; ")}); nothing was written`,
    );
  }
  await useBackend("wasm");
  const parity = await checkParity(model, ckpt.params, bytes);
  if (!(parity.maxAbsDiff <= PARITY_TOLERANCE)) {
    throw new UserError(
      `export refused: onnxruntime's logits differ from the trained model's by ${
        parity.maxAbsDiff.toExponential(2)
      } ` +
        `(tolerance ${PARITY_TOLERANCE}); nothing was written. This is a bug in the exporter or a corrupt checkpoint`,
    );
  }

  const layers = paramSpecs(model).filter((s) => s.role !== "bias").map((s) => {
    const data = ckpt.params[s.name].data;
    let nonzeros = 0;
    for (let i = 0; i < data.length; i++) if (data[i] !== 0) nonzeros++;
    return { name: s.name, shape: s.shape, nonzeros, sparsity: 1 - nonzeros / data.length };
  });
  const total = paramSpecs(model).reduce((n, s) => n + sizeOf(s.shape), 0);
  const biases = paramSpecs(model).filter((s) => s.role === "bias").reduce(
    (n, s) => n + sizeOf(s.shape),
    0,
  );
  const metadata: BundleMetadata = {
    format: BUNDLE_FORMAT,
    version: 1,
    kind: model.kind,
    model,
    files: { model: "model.onnx", vocab: "vocab.json" },
    labels: ckpt.meta.labels,
    tokenizer: ckpt.meta.tokenizer,
    storage,
    layers,
    parameters: { total, nonzero: biases + layers.reduce((n, l) => n + l.nonzeros, 0) },
    parity: { ...parity, tolerance: PARITY_TOLERANCE },
    source: {
      checkpoint: checkpointName,
      epochs: ckpt.meta.progress.epoch,
      metrics: ckpt.meta.progress.history.at(-1) ?? {},
    },
    bytes: bytes.length,
  };
  // A bundle without metadata.json reads as incomplete, never as a mix of two exports.
  await Deno.remove(join(outDir, "metadata.json")).catch(() => {});
  await writeFileAtomic(join(outDir, metadata.files.model), bytes);
  await writeFileAtomic(join(outDir, metadata.files.vocab), JSON.stringify(ckpt.meta.vocab));
  await writeFileAtomic(join(outDir, "metadata.json"), JSON.stringify(metadata, null, 2) + "\n");
  return metadata;
}
