/**
 * `deno task demo`: the whole path on the bundled data, in seconds on the
 * sparse CPU engine. It trains a sparse LSTM language model (ST-RNN, 80% sparse
 * gate matrices), exports it to ONNX (checked against the trained model in
 * onnxruntime), then scores and generates text with onnxruntime alone; then
 * does the same for a sparse LSTM sentiment classifier.
 *
 * @module
 */

import { Command } from "commander";
import { exportBundle } from "../export/bundle.ts";
import { chooseCheckpoint } from "../export/select.ts";
import { classify, generate, openBundle, score } from "../src/infer/bundle.ts";
import { DEFAULT_CLASSIFIER_CONFIG, DEFAULT_LM_CONFIG } from "../src/train/config.ts";
import { train } from "../src/train/train.ts";
import { describeExport } from "./export.ts";
import { integer, runCommand } from "./common.ts";

async function main(): Promise<void> {
  const flags = new Command("demo")
    .description(
      "Train, export and run a sparse LSTM language model and classifier on the bundled data.",
    )
    .option("--out <dir>", "where checkpoints and bundles go", "runs/demo")
    .option("--lm-epochs <n>", "language-model epochs", integer, 4)
    .option("--classifier-epochs <n>", "classifier epochs", integer, 3)
    .parse(Deno.args, { from: "user" })
    .opts();
  const started = performance.now();
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;
  // A rerun of the demo starts over; only the demo's own folders are removed.
  for (const part of ["lm", "classifier"]) {
    await Deno.remove(`${flags.out}/${part}`, { recursive: true }).catch(() => {});
  }

  console.log("== 1. Train a sparse LSTM language model on fixtures/tinylm");
  const lmCheckpoint = `${flags.out}/lm/checkpoint.sparrow`;
  await train({ ...DEFAULT_LM_CONFIG, out: lmCheckpoint, epochs: flags.lmEpochs, logEvery: 0 });
  console.log(`\n== 2. Export it to ONNX (${elapsed()})`);
  const lmBundle = `${flags.out}/lm/bundle`;
  console.log(describeExport(lmBundle, await exportBest(lmCheckpoint, lmBundle)));

  console.log(`\n== 3. Run it with onnxruntime (${elapsed()})`);
  const lm = await openBundle(lmBundle);
  const testText = await Deno.readTextFile("fixtures/tinylm/test.txt");
  const { perplexity, tokens } = await score(lm, testText, "fixtures/tinylm/test.txt");
  console.log(
    `test perplexity ${perplexity.toFixed(2)} over ${tokens} tokens ` +
      `(a uniform guess over the ${lm.vocab.size}-word vocabulary scores ${lm.vocab.size})`,
  );
  for (const prompt of ["the company", "the fund said"]) {
    const words = await generate(lm, prompt, { length: 16, temperature: 0.7, seed: 3 });
    console.log(`generate "${prompt}" → ${words.join(" ").replaceAll(" <eos>", " |")}`);
  }
  await lm.session.release();

  console.log(`\n== 4. Train, export and run a sparse LSTM sentiment classifier (${elapsed()})`);
  const clsCheckpoint = `${flags.out}/classifier/checkpoint.sparrow`;
  await train({
    ...DEFAULT_CLASSIFIER_CONFIG,
    out: clsCheckpoint,
    epochs: flags.classifierEpochs,
    logEvery: 0,
  });
  const clsBundle = `${flags.out}/classifier/bundle`;
  console.log(describeExport(clsBundle, await exportBest(clsCheckpoint, clsBundle)));
  const classifier = await openBundle(clsBundle);
  const reviews = [
    "I really enjoyed the performances and the story was moving.",
    "This is not a good film: the plot was tedious.",
    "The jokes were not bad at all, but the pacing was dull.",
  ];
  for (const r of await classify(classifier, reviews)) {
    console.log(`${r.label} ${(100 * r.probabilities[r.label]).toFixed(1)}%  ${r.text}`);
  }
  await classifier.session.release();
  console.log(
    `\ndemo finished in ${elapsed()}; try \`deno task infer generate ${lmBundle} --prompt "the bank"\``,
  );
}

/** Exports the best epoch of the run at `checkpoint`, as `deno task export` does. */
async function exportBest(checkpoint: string, out: string) {
  const { path, line } = await chooseCheckpoint(checkpoint);
  console.log(line);
  return await exportBundle(path, out);
}

if (import.meta.main) await runCommand(main);
