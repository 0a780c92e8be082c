/**
 * `deno task train`: trains a sparse LSTM language model or classifier and
 * writes a checkpoint after every epoch, and the best epoch's (by validation)
 * beside it. Re-running the same command after an
 * interruption resumes from the last finished epoch; re-running a finished
 * run's command keeps it, unless `--epochs` asks for more (it is extended) or
 * `--restart` is given.
 *
 * @module
 */

import { Command, Option } from "commander";
import { BACKENDS } from "../src/backend/backend.ts";
import { type AdapterFacts, chooseBackend, findAdapter } from "../src/backend/auto.ts";
import { COMPUTE_MODES } from "../src/train/compute.ts";
import { densityMethods } from "../src/core/density.ts";
import { WEIGHT_INITS } from "../src/core/init.ts";
import { growersByName } from "../src/core/grow.ts";
import { methodNames, methodsByName } from "../src/core/methods.ts";
import { prunersByName } from "../src/core/prune.ts";
import { redistributorsByName } from "../src/core/redistribute.ts";
import { schedulesByName } from "../src/core/schedule.ts";
import {
  DEFAULT_CLASSIFIER_CONFIG,
  DEFAULT_LM_CONFIG,
  sparseConfigFor,
  type TrainConfig,
} from "../src/train/config.ts";
import { DEFAULT_OPTIMIZER } from "../src/spec/optimizer.ts";
import { CELL_TYPES, DEFAULT_RHN_DEPTH, type VariationalRates } from "../src/spec/config.ts";
import { formatMetrics, train } from "../src/train/train.ts";
import { check } from "../src/spec/errors.ts";
import { TOKEN_UNITS } from "../src/data/input.ts";
import { PRESET_NAMES } from "../src/train/presets.ts";
import { applyPreset } from "./presets.ts";
import { reportPath } from "../src/train/run_report.ts";
import { integer, number, runCommand } from "./common.ts";
import { addColumnOptions, parseSplit } from "./input_flags.ts";

const names = (record: object) => Object.keys(record);

/** "(default lm: X, classifier: Y)" for settings whose default depends on the task. */
function byTask(pick: (c: TrainConfig) => unknown): string {
  const lm = pick(DEFAULT_LM_CONFIG), classifier = pick(DEFAULT_CLASSIFIER_CONFIG);
  return lm === classifier ? `(default: ${lm})` : `(default lm: ${lm}, classifier: ${classifier})`;
}

/** The `train` command's parser. */
export function trainCommand(): Command {
  const lm = DEFAULT_LM_CONFIG;
  const command = new Command("train")
    .description(
      "Train a sparse LSTM, GRU or RHN from scratch (ST-RNN: fixed nonzero count, prune and regrow every epoch).\n" +
        "Defaults train a language model on the bundled fixtures/tinylm in seconds.",
    )
    .addOption(
      new Option(
        "--preset <name>",
        "a paper's settings (small, medium, large: Zaremba's PTB LSTMs; rhn; imdb); flags given override them",
      ).choices(PRESET_NAMES),
    )
    .addOption(
      new Option("--task <task>", "what to train").choices(["lm", "classifier"]).default("lm"),
    )
    .option(
      "--data <path>",
      `data directory (lm: {ptb.,}train/valid/test.txt; classifier: train/valid/test.{tsv,csv}), or one file with --split ${
        byTask((c) => c.data)
      }`,
    )
    .option("--train <file>", "training file, instead of a --data directory")
    .option("--valid <file>", "validation file (with --train)")
    .option("--test <file>", "test file (with --train)")
    .option(
      "--split <fractions>",
      "cut one file (--data FILE or --train FILE) into train,valid,test, e.g. 0.8,0.1,0.1 " +
        "(classifier: per class; lm: in order; seeded by --seed)",
      parseSplit,
    );
  return addColumnOptions(command)
    .addOption(
      new Option(
        "--unit <unit>",
        "language-model tokens: words, or characters (spaces and newlines included)",
      )
        .choices(TOKEN_UNITS).default("word"),
    )
    .option("--out <file>", `checkpoint path ${byTask((c) => c.out)}`)
    .addOption(
      new Option(
        "--method <name>",
        methodNames.map((n) => `${n}: ${methodsByName[n].description}`).join("\n"),
      )
        .choices(methodNames).default("strnn"),
    )
    .option(
      "--sparsity <s>",
      "fraction of zero weights in the sparse matrices, in [0, 1)",
      number,
      0.8,
    )
    .option(
      "--epsilon <e>",
      "Erdős–Rényi ε instead of --sparsity (every matrix keeps ε·(n_in+n_out) per gate)",
      number,
    )
    .addOption(
      new Option("--init <method>", "initial nonzero allocation (default: the method's)").choices(
        densityMethods,
      ),
    )
    .addOption(
      new Option("--prune <rule>", "prune rule (default: the method's)").choices(
        names(prunersByName),
      ),
    )
    .addOption(
      new Option("--grow <rule>", "regrowth rule (default: the method's)").choices(
        names(growersByName),
      ),
    )
    .option(
      "--prune-rate <p>",
      "initial fraction pruned and regrown per update (default: the method's)",
      number,
    )
    .addOption(
      new Option("--schedule <name>", "prune-rate decay (default: the method's)").choices(
        names(schedulesByName),
      ),
    )
    .option(
      "--update-every <steps>",
      "topology update every this many steps (0 = once per epoch)",
      integer,
      0,
    )
    .addOption(
      new Option("--redistribution <name>", "regrowth across layers (default: the method's)")
        .choices(names(redistributorsByName)),
    )
    .option("--sparse-embedding", "make the embedding sparse too", false)
    .option("--sparse-decoder", "make the decoder (output layer) sparse too", false)
    .addOption(
      new Option("--cell <type>", "recurrent cell").choices(CELL_TYPES).default("lstm"),
    )
    .option("--embed-size <n>", `embedding size ${byTask((c) => c.model.embedSize)}`, integer)
    .option("--hidden-size <n>", `hidden size ${byTask((c) => c.model.hiddenSize)}`, integer)
    .option("--layers <n>", `recurrent layers ${byTask((c) => c.model.layers)}`, integer)
    .option(
      "--depth <n>",
      `micro-layers per step of --cell rhn (default ${DEFAULT_RHN_DEPTH})`,
      integer,
    )
    .option(
      "--tie-weights",
      "the LM decoder is the embedding's transpose (needs --embed-size = --hidden-size)",
    )
    .option("--dropout <p>", `dropout rate ${byTask((c) => c.model.dropout)}`, number)
    .option("--dropout-embedding <p>", "variational dropout of word types (LM; default 0)", number)
    .option("--dropout-input <p>", "variational dropout of each layer's input (LM)", number)
    .option("--dropout-hidden <p>", "variational dropout of the RHN state (LM, --cell rhn)", number)
    .option("--dropout-output <p>", "variational dropout of each layer's output (LM)", number)
    .option("--epochs <n>", `epochs ${byTask((c) => c.epochs)}`, integer)
    .option("--batch-size <n>", `batch size ${byTask((c) => c.batchSize)}`, integer)
    .option("--bptt <n>", "truncated-BPTT length (language model)", integer, lm.bptt)
    .option(
      "--max-length <n>",
      `longest text in tokens (classifier) ${byTask((c) => c.maxLength)}`,
      integer,
    )
    .option(
      "--keep <end>",
      "which tokens of a longer text are kept: first or last (Keras keeps the last) " +
        "(classifier, default: first)",
    )
    .option(
      "--max-vocab <n>",
      `largest vocabulary; rarer words become <unk>, 0 = all ${byTask((c) => c.maxVocab)}`,
      integer,
    )
    .addOption(
      new Option(
        "--weight-init <scale>",
        "initial weight scale: dense (the dense model's, whatever the density), " +
          "normal-embedding (embedding from N(0,1)), fan-in (sparse matrices scaled by 1/√density)",
      ).choices(WEIGHT_INITS).default("dense"),
    )
    .addOption(
      new Option("--optimizer <name>", "optimizer").choices(["sgd", "adam"]).default("adam"),
    )
    .option("--lr <rate>", `learning rate ${byTask((c) => c.learningRate)}`, number)
    .option(
      "--lr-decay <factor>",
      `learning-rate factor applied after every epoch ${byTask((c) => c.lrDecay)}`,
      number,
    )
    .option(
      "--lr-plateau <factor>",
      "divide the learning rate by this after every epoch whose validation does not improve " +
        "on the best (1 = off; the paper: 1.33)",
      number,
      lm.lrPlateau,
    )
    .option(
      "--eval-max-tokens <n>",
      "evaluate each epoch on at most this many valid tokens (0 = all); the test split stays whole",
      integer,
      lm.evalMaxTokens,
    )
    .option(
      "--valid-fraction <f>",
      "share of the training texts a classifier holds out for validation when its data has no " +
        "valid split",
      number,
      lm.validFraction,
    )
    .option("--momentum <m>", "SGD momentum", number, DEFAULT_OPTIMIZER.sgd.momentum)
    .option(
      "--clip <norm>",
      `clip the global gradient norm, 0 = off ${byTask((c) => c.clipNorm)}`,
      number,
    )
    .option(
      "--seed <n>",
      "random seed (same seed, same masks and losses on wasm)",
      integer,
      lm.seed,
    )
    .addOption(
      new Option("--compute <mode>", "sparse: CPU engine on the nonzeros; masked: tfjs W⊙M")
        .choices(COMPUTE_MODES),
    )
    .option("--threads <n>", "threads of --compute sparse (0 = one per core)", integer, 0)
    .addOption(
      new Option(
        "--backend <name>",
        "tfjs backend of --compute masked; auto: webgpu on a real GPU, else the CPU engine",
      ).choices(["auto", ...BACKENDS]).default("auto"),
    )
    .option("--max-steps <n>", "stop every epoch after this many steps (smoke runs)", integer, 0)
    .option(
      "--log-every <n>",
      "a progress line every this many steps (on a terminal: one line redrawn; 0 = per epoch only)",
      integer,
      lm.logEvery,
    )
    .option(
      "--restart",
      "start over even if --out holds a run (it is replaced once the first epoch is written)",
      false,
    )
    .option("--json", "print the final metrics as JSON", false);
}

/**
 * Refuses flags given together that contradict each other (one line naming
 * both); `given` says whether a flag was on the command line.
 */
export function checkFlagConflicts(flags: Flags, given: (name: string) => boolean): void {
  check(
    !(flags.data !== undefined && flags.train !== undefined),
    "--data and --train both say where the training data is; pass --data DIR (or FILE with --split), or --train FILE",
  );
  check(
    !(given("sparsity") && flags.epsilon !== undefined),
    "--sparsity and --epsilon both set how sparse the model is; pass only one of them",
  );
  check(
    !(given("sparsity") && flags.method === "dense"),
    "--method dense has no sparse weights, so --sparsity means nothing there; drop it, " +
      "or use --method small-dense for a dense model as small as the sparse one",
  );
}

// deno-lint-ignore no-explicit-any
type Flags = Record<string, any>;

/** Variational dropout rates, when any `--dropout-<site>` flag is given (the others 0). */
function variationalFromFlags(flags: Flags): { variational?: VariationalRates } {
  const rates = {
    embedding: flags.dropoutEmbedding,
    input: flags.dropoutInput,
    hidden: flags.dropoutHidden,
    output: flags.dropoutOutput,
  };
  if (Object.values(rates).every((r) => r === undefined)) return {};
  return {
    variational: {
      embedding: rates.embedding ?? 0,
      input: rates.input ?? 0,
      hidden: rates.hidden ?? 0,
      output: rates.output ?? 0,
    },
  };
}

/**
 * The training configuration that the `parsed` flags describe. With
 * `--preset`, the preset's settings replace every flag that `wasGiven` says
 * was not on the command line. `--backend auto` picks by `adapter`, the
 * WebGPU adapter found (null: none).
 */
export function configFromFlags(
  parsed: Flags,
  wasGiven: (name: string) => boolean = () => false,
  adapter: AdapterFacts | null = null,
): TrainConfig {
  const flags = applyPreset(trainCommand(), parsed, wasGiven);
  const auto = flags.backend === "auto" ? chooseBackend(adapter, flags.compute) : undefined;
  const base = flags.task === "classifier" ? DEFAULT_CLASSIFIER_CONFIG : DEFAULT_LM_CONFIG;
  const pick = <T>(value: T | undefined, fallback: T) => value ?? fallback;
  return {
    ...base,
    data: pick(flags.data, flags.train !== undefined ? "" : base.data),
    input: {
      unit: flags.unit ?? "word",
      format: flags.format ?? "auto",
      textColumn: flags.textColumn ?? "",
      labelColumn: flags.labelColumn ?? "",
      header: flags.header ?? "auto",
      train: flags.train ?? "",
      valid: flags.valid ?? "",
      test: flags.test ?? "",
      split: flags.split ? [...flags.split] : [],
    },
    out: pick(flags.out, base.out),
    model: {
      cell: flags.cell,
      embedSize: pick(flags.embedSize, base.model.embedSize),
      hiddenSize: pick(flags.hiddenSize, base.model.hiddenSize),
      layers: pick(flags.layers, base.model.layers),
      // Only an RHN has a depth; other cells' records stay as they were.
      ...(flags.cell === "rhn" || flags.depth !== undefined
        ? { depth: pick(flags.depth, DEFAULT_RHN_DEPTH) }
        : {}),
      dropout: pick(flags.dropout, base.model.dropout),
      ...(flags.tieWeights ? { tieWeights: true } : {}),
      ...variationalFromFlags(flags),
    },
    sparse: sparseConfigFor(flags.method, {
      sparsity: flags.sparsity,
      epsilon: flags.epsilon,
      init: flags.init,
      prune: flags.prune,
      grow: flags.grow,
      pruneRate: flags.pruneRate,
      schedule: flags.schedule,
      updateEvery: flags.updateEvery,
      redistribution: flags.redistribution,
      sparseEmbedding: flags.sparseEmbedding,
      sparseDecoder: flags.sparseDecoder,
    }),
    epochs: pick(flags.epochs, base.epochs),
    batchSize: pick(flags.batchSize, base.batchSize),
    bptt: flags.bptt,
    maxLength: pick(flags.maxLength, base.maxLength),
    keep: pick(flags.keep, base.keep),
    maxVocab: pick(flags.maxVocab, base.maxVocab),
    weightInit: flags.weightInit,
    optimizer: {
      ...DEFAULT_OPTIMIZER[flags.optimizer as "sgd" | "adam"],
      momentum: flags.momentum,
    },
    learningRate: pick(flags.lr, base.learningRate),
    lrDecay: pick(flags.lrDecay, base.lrDecay),
    lrPlateau: flags.lrPlateau,
    evalMaxTokens: flags.evalMaxTokens,
    validFraction: flags.validFraction,
    clipNorm: pick(flags.clip, base.clipNorm),
    seed: flags.seed,
    backend: auto?.backend ?? flags.backend,
    // webgpu is a tfjs backend: it implies the masked path unless told otherwise.
    compute: auto?.compute ?? flags.compute ?? (flags.backend === "webgpu" ? "masked" : "sparse"),
    threads: flags.threads,
    maxSteps: flags.maxSteps,
    logEvery: flags.logEvery,
    ...(flags.preset === undefined ? {} : { preset: flags.preset }),
  };
}

if (import.meta.main) {
  await runCommand(async () => {
    const command = trainCommand().parse(Deno.args, { from: "user" });
    const flags = command.opts();
    const given = (name: string) => command.getOptionValueSource(name) === "cli";
    checkFlagConflicts(flags, given);
    const adapter = flags.backend === "auto" ? await findAdapter() : null;
    if (flags.backend === "auto") console.log(chooseBackend(adapter, flags.compute).reason);
    const config = configFromFlags(flags, given, adapter);
    const { metrics, trained } = await train(config, console.log, {
      restart: flags.restart,
      progress: Deno.stdout.isTerminal() ? "live" : "plain",
      htmlReport: true,
    });
    // A finished run that was kept has said so in one line already.
    if (flags.json) console.log(JSON.stringify(metrics));
    else if (trained) {
      console.log(`done: ${formatMetrics(metrics)}`);
      console.log(`run report: ${reportPath(config.out)}`);
    }
  });
}
