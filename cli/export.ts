/**
 * `deno task export <checkpoint>`: writes an ONNX bundle (model.onnx,
 * vocab.json, metadata.json) of the run's best epoch (or with `--last` its
 * last) after checking it in onnxruntime against the trained model. See docs/export.md for the modes and their trade-offs.
 *
 * @module
 */

import { Command, Option } from "commander";
import { bundleMetadata, checkTolerance, exportBundle, writeBundle } from "../export/bundle.ts";
import {
  COMPUTE_MODES,
  type ComputeMode,
  STORAGE_CHOICES,
  type StorageChoice,
  VALUE_PRECISIONS,
  type ValuePrecision,
} from "../export/onnx_model.ts";
import { chooseTarget, formatTargetTable, targetMetadata } from "../export/target.ts";
import {
  exportSparseWeights,
  type SparseWeightsSummary,
} from "../export/weights/sparse_weights.ts";
import { SPARSE_FORMATS } from "../export/weights/format.ts";
import { chooseCheckpoint } from "../export/select.ts";
import { UserError } from "../src/spec/errors.ts";
import type { BundleMetadata } from "../src/infer/bundle.ts";
import { loadCheckpoint } from "../src/spec/checkpoint.ts";
import { number, runCommand } from "./common.ts";

/** The `export` command's parser. */
export function exportCommand(): Command {
  return new Command("export")
    .description(
      "Export a checkpoint to an ONNX bundle, verified in onnxruntime before it is written.",
    )
    .argument(
      "<checkpoint>",
      "checkpoint written by `deno task train`; its run's best epoch is exported (see --last)",
    )
    .option("--last", "export the last epoch instead of the best one by validation", false)
    .option(
      "--out <path>",
      "bundle directory (default: bundle/ beside the checkpoint); with --weights, the weights file " +
        "(default: weights.<format>.sparrow beside the checkpoint)",
    )
    .addOption(
      new Option(
        "--storage <mode>",
        "how weights sit in the file (auto: packed where smaller than dense, else dense)",
      ).choices([...STORAGE_CHOICES]),
    )
    .addOption(
      new Option(
        "--compute <mode>",
        "how the LSTM runs: the standard op, a Scan over nonzeros, or int8 (approximate)",
      ).choices([...COMPUTE_MODES]),
    )
    .addOption(
      new Option("--values <precision>", "precision of stored float values (fp16 halves them)")
        .choices([...VALUE_PRECISIONS]),
    )
    .option(
      "--tolerance <x>",
      "largest accepted max |Δlogit| against the trained model (default 1e-4; for int8 5% of the largest |logit|)",
      number,
    )
    .addOption(
      new Option(
        "--target <target>",
        "auto: measure every format on this machine and keep the fastest within tolerance",
      ).choices(["auto"]),
    )
    .addOption(
      new Option(
        "--weights <format>",
        "write the sparse weights for a custom runtime instead of an ONNX bundle (docs/weights.md)",
      ).choices([...SPARSE_FORMATS]),
    );
}

function megabytes(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(2)} MB`;
}

/** One paragraph summarising an export for the terminal. */
export function describeExport(dir: string, m: BundleMetadata): string {
  const sparse = m.layers.filter((l) => l.sparsity > 0);
  const storages = new Map<string, number>();
  for (const t of m.tensors ?? []) storages.set(t.storage, (storages.get(t.storage) ?? 0) + 1);
  const kind = m.kind === "lm" ? "language model" : "classifier";
  return [
    `exported ${kind} to ${dir}/model.onnx (${m.bytes} bytes, ${megabytes(m.bytes)})`,
    `  storage ${m.storage} (${[...storages].map(([s, n]) => `${n} ${s}`).join(", ")}), ` +
    `compute ${m.compute ?? "op"}, values ${m.values ?? "fp32"}` +
    (m.foldedAtLoad === undefined
      ? ""
      : m.foldedAtLoad
      ? "; weight decoding folds at load"
      : "; WARNING: some weight decoding runs on every call"),
    `  parameters ${m.parameters.total}, nonzero ${m.parameters.nonzero} (${
      (100 * (1 - m.parameters.nonzero / m.parameters.total)).toFixed(1)
    }% sparse overall)` +
    (m.flops ? `; ${m.flops.perToken} FLOPs per token with sparse kernels` : ""),
    ...sparse.map((l) => `  ${l.name} [${l.shape}] ${(100 * l.sparsity).toFixed(1)}% sparse`),
    `  onnxruntime parity: max |Δlogit| ${m.parity.maxAbsDiff.toExponential(2)} ≤ ${
      Number(m.parity.tolerance.toPrecision(3))
    } over ${m.parity.compared} logits (${m.parity.samples})`,
    ...(m.causal === false
      ? ["  not causal: chunked feeding differs from one call (metadata.causalNote)"]
      : []),
    ...(m.approximation
      ? [
        `  approximate: ${m.approximation.note}; weights move by up to ${
          m.approximation.maxWeightError.toExponential(2)
        }`,
      ]
      : []),
  ].join("\n");
}

/** Flags of the export command, as commander parses them. */
interface ExportFlags {
  out?: string;
  storage?: StorageChoice;
  compute?: ComputeMode;
  values?: ValuePrecision;
  tolerance?: number;
  target?: "auto";
  weights?: string;
  last?: boolean;
}

/** One paragraph summarising a sparse weights file for the terminal. */
export function describeWeights(summary: SparseWeightsSummary): string {
  return [
    `wrote ${summary.format} weights to ${summary.path} (${summary.bytes} bytes, ` +
    `${(summary.denseBytes / summary.bytes).toFixed(1)}x smaller than dense float32)`,
    ...summary.matrices.map((m) =>
      `  ${m.name} [${m.shape}] ${m.nnz} stored, ${(100 * m.sparsity).toFixed(1)}% sparse`
    ),
  ].join("\n");
}

async function exportWeights(checkpoint: string, flags: ExportFlags) {
  const onnxOnly = ["storage", "compute", "values", "tolerance", "target"] as const;
  const given = onnxOnly.filter((flag) => flags[flag] !== undefined);
  if (given.length > 0) {
    throw new UserError(
      `--weights writes a sparse weights file, not ONNX; drop ${
        given.map((f) => `--${f}`).join(", ")
      }`,
    );
  }
  const out = flags.out ?? checkpoint.replace(/[^/]*$/, "") + `weights.${flags.weights}.sparrow`;
  console.log(describeWeights(await exportSparseWeights(checkpoint, flags.weights!, out)));
}

async function exportWithTarget(checkpoint: string, out: string, flags: ExportFlags) {
  if (flags.storage || flags.compute || flags.values) {
    throw new UserError(
      "--target auto chooses storage, compute and values itself; drop --storage, --compute and --values",
    );
  }
  const ckpt = await loadCheckpoint(checkpoint);
  const choice = await chooseTarget(ckpt.meta.model, ckpt.params, {
    tolerance: flags.tolerance,
    log: (line) => console.error(line),
  });
  console.log(formatTargetTable(choice));
  const options = { ...choice.chosen.format, extra: { target: targetMetadata(choice) } };
  const metadata = await bundleMetadata(ckpt, checkpoint, choice.verified, options);
  await writeBundle(out, ckpt, choice.verified.build.bytes, metadata);
  return metadata;
}

if (import.meta.main) {
  await runCommand(async () => {
    const command = exportCommand().parse(Deno.args, { from: "user" });
    const [run] = command.args;
    const flags = command.opts<ExportFlags>();
    checkTolerance(flags.tolerance);
    const { path: checkpoint, line } = await chooseCheckpoint(run, flags.last);
    console.log(line);
    if (flags.weights) return await exportWeights(checkpoint, flags);
    const out = flags.out ?? run.replace(/[^/]*$/, "") + "bundle";
    const metadata = flags.target === "auto"
      ? await exportWithTarget(checkpoint, out, flags)
      : await exportBundle(checkpoint, out, flags);
    console.log(describeExport(out, metadata));
  });
}
