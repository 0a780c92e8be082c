/**
 * `deno task infer <command> <bundle>`: runs an exported bundle with
 * onnxruntime only (no tfjs): classify lines, evaluate on labelled data, score a text's perplexity,
 * generate a continuation, or stream words one at a time with carried state.
 *
 * @module
 */

import { Command, Option } from "commander";
import {
  classify,
  generate,
  isCharModel,
  openBundle,
  score,
  streamStep,
  UNCLASSIFIED,
} from "../src/infer/bundle.ts";
import { readText, splitLines } from "../src/data/files.ts";
import { type InputConfig, TOKEN_UNITS } from "../src/data/input.ts";
import { evaluateBundle, formatEvaluation } from "../src/infer/evaluate.ts";
import type { LmState } from "../src/infer/onnx_runtime.ts";
import { UserError } from "../src/spec/errors.ts";
import { integer, number, runCommand } from "./common.ts";
import { addColumnOptions, parseSplit } from "./input_flags.ts";

async function readInput(file: string | undefined): Promise<string> {
  if (file === undefined || file === "-") return await new Response(Deno.stdin.readable).text();
  // The training readers' checks: missing files, and encodings other than UTF-8.
  return await readText(file);
}

/** `infer evaluate`'s flags: training's input flags, `--seed` and `--json`. */
interface EvaluateFlags {
  test?: string;
  format?: InputConfig["format"];
  textColumn?: string;
  labelColumn?: string;
  header?: InputConfig["header"];
  split?: number[];
  unit?: InputConfig["unit"];
  seed: number;
  json?: boolean;
}

/** The `infer` command's parser, with one subcommand per use. */
export function inferCommand(print: (line: string) => void = console.log): Command {
  const program = new Command("infer").description("Run an exported bundle with onnxruntime.");
  program.command("classify")
    .description(
      "classify each line of a file (or stdin): label, probability, text; a line with no known word prints - for both",
    )
    .argument("<bundle>", "bundle directory")
    .argument("[file]", "text file, one text per line; - or nothing reads stdin")
    .action(async (dir: string, file?: string) => {
      const bundle = await openBundle(dir);
      // One output line per input line, blank ones included, so outputs line up with inputs.
      const lines = splitLines(await readInput(file));
      if (lines.length === 0) {
        throw new UserError(`${file ?? "stdin"} has no lines to classify`);
      }
      for (const r of await classify(bundle, lines)) {
        const p = r.label === UNCLASSIFIED
          ? UNCLASSIFIED
          : `${(100 * r.probabilities[r.label]).toFixed(1)}%`;
        print(`${r.label}\t${p}\t${r.text}`);
      }
    });
  program.command("score")
    .description("perplexity of a text file under a language model")
    .argument("<bundle>", "bundle directory")
    .argument("[file]", "text file, one sentence per line; - or nothing reads stdin")
    .action(async (dir: string, file?: string) => {
      const bundle = await openBundle(dir);
      const r = await score(bundle, await readInput(file), file ?? "stdin");
      const bpc = r.bitsPerCharacter === undefined
        ? ""
        : `, ${r.bitsPerCharacter.toFixed(3)} bits per character`;
      print(`perplexity ${r.perplexity.toFixed(3)}${bpc} over ${r.tokens} tokens`);
    });
  addColumnOptions(program.command("evaluate"))
    .description(
      "accuracy, per-class precision/recall/F1, macro-F1 and confusion matrix (classifier), or perplexity, bits per character and unknown tokens (language model), on labelled data",
    )
    .argument("<bundle>", "bundle directory")
    .argument(
      "[data]",
      "a data directory as training reads it (its test split is evaluated), or one file; or --test FILE",
    )
    .option("--test <file>", "the file to evaluate, instead of DATA")
    .option(
      "--split <fractions>",
      "evaluate the test part of one file cut as training cut it, e.g. 0.8,0.1,0.1 (with --seed)",
      parseSplit,
    )
    .option("--seed <n>", "the training run's --seed, for a classifier's --split", integer, 1)
    .addOption(
      new Option("--unit <unit>", "language-model tokens (default: the bundle's)").choices(
        TOKEN_UNITS,
      ),
    )
    .option("--json", "print the evaluation as JSON")
    .action(async (dir: string, data: string | undefined, flags: EvaluateFlags) => {
      const { json, seed, ...given } = flags;
      // Flags not given keep training's defaults (DEFAULT_INPUT).
      const input = Object.fromEntries(
        Object.entries(given).filter(([, v]) => v !== undefined),
      ) as Partial<InputConfig>;
      const evaluation = await evaluateBundle(await openBundle(dir), data ?? "", { input, seed });
      if (json) print(JSON.stringify(evaluation));
      else print(formatEvaluation(evaluation));
    });
  program.command("generate")
    .description("continue a prompt by sampling from a language model")
    .argument("<bundle>", "bundle directory")
    .option("--prompt <text>", "words to start from", "")
    .option("--length <n>", "words to generate", integer, 20)
    .option("--temperature <t>", "sampling temperature", number, 1)
    .option("--seed <n>", "sampling seed", integer, 1)
    .action(async (dir: string, flags) => {
      const bundle = await openBundle(dir);
      const words = await generate(bundle, flags.prompt, flags);
      // A character model's output is plain text: its characters joined as they are.
      if (isCharModel(bundle)) return print(flags.prompt + words.join(""));
      const text = [flags.prompt, ...words].join(" ").split("<eos>").map((l) => l.trim());
      print(text.join("\n").trim());
    });
  program.command("stream")
    .description("feed words one at a time, carrying the recurrent state between calls")
    .argument("<bundle>", "bundle directory")
    .argument("<words...>", "words to feed, one call each")
    .action(async (dir: string, words: string[]) => {
      const bundle = await openBundle(dir);
      let state: LmState | undefined;
      for (const word of words) {
        const step = await streamStep(bundle, word, state);
        state = step.state;
        const norm = Math.sqrt(state.h.reduce((s, v) => s + v * v, 0));
        print(
          `${word}\t|h| ${norm.toFixed(3)}\tnext: ${
            step.next.map((n) => `${n.word} ${(100 * n.probability).toFixed(1)}%`).join(", ")
          }`,
        );
      }
    });
  return program;
}

if (import.meta.main) {
  await runCommand(async () => {
    await inferCommand().parseAsync(Deno.args, { from: "user" });
  });
}
