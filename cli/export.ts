/**
 * `deno task export <checkpoint>`: writes an ONNX bundle (model.onnx,
 * vocab.json, metadata.json) after checking it in onnxruntime against the
 * trained model.
 *
 * @module
 */

import { Command, Option } from "commander";
import { exportBundle } from "../export/bundle.ts";
import type { BundleMetadata } from "../src/infer/bundle.ts";
import { runCommand } from "./common.ts";

/** The `export` command's parser. */
export function exportCommand(): Command {
  return new Command("export")
    .description(
      "Export a checkpoint to an ONNX bundle, verified in onnxruntime before it is written.",
    )
    .argument("<checkpoint>", "checkpoint written by `deno task train`")
    .option("--out <dir>", "bundle directory (default: beside the checkpoint, in bundle/)")
    .addOption(
      new Option(
        "--storage <mode>",
        "weights as dense or sparse_initializer (auto: sparse below 1/3 density)",
      )
        .choices(["auto", "dense", "sparse"]).default("auto"),
    );
}

/** One paragraph summarising an export for the terminal. */
export function describeExport(dir: string, m: BundleMetadata): string {
  const sparse = m.layers.filter((l) => l.sparsity > 0);
  return [
    `exported ${
      m.kind === "lm" ? "language model" : "classifier"
    } to ${dir}/model.onnx (${m.bytes} bytes, storage ${m.storage})`,
    `  parameters ${m.parameters.total}, nonzero ${m.parameters.nonzero} (${
      (100 * (1 - m.parameters.nonzero / m.parameters.total)).toFixed(1)
    }% sparse overall)`,
    ...sparse.map((l) => `  ${l.name} [${l.shape}] ${(100 * l.sparsity).toFixed(1)}% sparse`),
    `  onnxruntime parity: max |Δlogit| ${
      m.parity.maxAbsDiff.toExponential(2)
    } ≤ ${m.parity.tolerance} over ${m.parity.compared} logits (${m.parity.samples})`,
  ].join("\n");
}

if (import.meta.main) {
  await runCommand(async () => {
    const command = exportCommand().parse(Deno.args, { from: "user" });
    const [checkpoint] = command.args;
    const flags = command.opts();
    const out = flags.out ?? checkpoint.replace(/[^/]*$/, "") + "bundle";
    const metadata = await exportBundle(checkpoint, out, { storage: flags.storage });
    console.log(describeExport(out, metadata));
  });
}
