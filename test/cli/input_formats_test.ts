/**
 * Each input format of docs/data.md trains with one command on its fixture
 * under fixtures/formats/, with no conversion, and the run prints and keeps
 * its data summary.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadCheckpoint } from "../../src/spec/checkpoint.ts";
import type { DataSummary } from "../../src/data/summary.ts";
import { assertUserFacingError, runCli, withTempDir } from "../helpers.ts";
import { checkFlagConflicts, configFromFlags, trainCommand } from "../../cli/train.ts";
import { UserError } from "../../src/spec/errors.ts";

const TINY = [
  "--epochs",
  "1",
  "--max-steps",
  "2",
  "--batch-size",
  "4",
  "--embed-size",
  "8",
  "--hidden-size",
  "8",
  "--threads",
  "1",
  "--log-every",
  "0",
];

/** Trains with `args` into a temporary checkpoint; returns stdout and the recorded summary. */
async function trainWith(args: string[]): Promise<{ stdout: string; data: DataSummary }> {
  return await withTempDir(async (dir) => {
    const out = join(dir, "run.sparrow");
    const result = await runCli("train", [...args, ...TINY, "--out", out]);
    assert.equal(result.code, 0, result.stderr);
    const ckpt = await loadCheckpoint(out);
    return { stdout: result.stdout, data: ckpt.meta.data as unknown as DataSummary };
  });
}

Deno.test("input: a headerless two-column TSV, text then label, with explicit files", async () => {
  const { stdout, data } = await trainWith([
    "--task=classifier",
    "--train=fixtures/formats/questions.train.tsv",
    "--valid=fixtures/formats/questions.valid.tsv",
    "--test=fixtures/formats/questions.test.tsv",
    "--text-column=0",
    "--label-column=1",
  ]);
  assert.deepEqual(data.classes, ["food", "sport", "travel"]);
  assert.equal(data.train.examples, 90);
  assert.equal(data.valid?.examples, 15);
  assert.equal(data.test?.examples, 15);
  assert.match(stdout, /^data: fixtures\/formats\/questions\.train\.tsv \(tsv, words\)/m);
});

Deno.test("input: AG News's quoted CSV with a header and two text columns", async () => {
  const { stdout, data } = await trainWith([
    "--task=classifier",
    "--data=fixtures/formats/agnews",
    "--text-column=title,description",
    "--label-column=class",
  ]);
  assert.deepEqual(data.classes, ["1", "2", "3", "4"]);
  assert.equal(data.test?.examples, 20);
  // 80 training rows, 5% held out as valid.
  assert.equal(data.train.examples! + data.valid!.examples!, 80);
  assert.equal(data.split?.kind, "held-out");
  assert.match(stdout, /read the header row \(class, title, description\)/);
});

Deno.test("input: a CSV whose labels are words, header text,label", async () => {
  const { data } = await trainWith(["--task=classifier", "--data=fixtures/formats/emotions"]);
  assert.deepEqual(data.classes, ["anger", "fear", "joy"]);
  assert.deepEqual(data.train.classCounts, { anger: 20, fear: 20, joy: 20 });
  assert.equal(data.format, "csv");
});

Deno.test("input: one labelled file cut by --split, stratified and recorded", async () => {
  const { stdout, data } = await trainWith([
    "--task=classifier",
    "--data=fixtures/formats/reviews.csv",
    "--split=0.8,0.1,0.1",
  ]);
  assert.deepEqual(data.split, {
    kind: "split",
    fractions: [0.8, 0.1, 0.1],
    seed: 1,
    stratified: true,
  });
  assert.deepEqual(data.train.classCounts, { neg: 40, pos: 40 });
  assert.deepEqual(data.valid?.classCounts, { neg: 5, pos: 5 });
  assert.deepEqual(data.test?.classCounts, { neg: 5, pos: 5 });
  assert.match(stdout, /majority-class baseline \("neg"\): 50\.0% train/);
});

Deno.test("input: a raw text file as a character model, with bits per character", async () => {
  const { stdout, data } = await trainWith([
    "--task=lm",
    "--unit=char",
    "--data=fixtures/formats/raw.txt",
    "--split=0.8,0.1,0.1",
    "--bptt=8",
  ]);
  assert.equal(data.unit, "char");
  const size = Array.from(await Deno.readTextFile("fixtures/formats/raw.txt")).length;
  assert.equal(data.train.tokens + data.valid!.tokens + data.test!.tokens, size);
  const m = /valid_ppl ([\d.]+)\s+valid_bpc ([\d.]+)/.exec(stdout);
  assert.ok(m, stdout);
  // bpc = ln(ppl) / ln 2, to the printed precision.
  assert.ok(Math.abs(Math.log2(Number(m[1])) - Number(m[2])) < 2e-3, m[0]);
});

Deno.test("input: a column name the file lacks is one line naming the columns it has", async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "run.sparrow");
    const result = await runCli("train", [
      "--task=classifier",
      "--data=fixtures/formats/agnews",
      "--text-column=titel",
      ...TINY,
      `--out=${out}`,
    ]);
    assertUserFacingError(result, "titel", "0 class, 1 title, 2 description");
    assert.equal(await Deno.stat(out).then(() => true, () => false), false);
  });
});

Deno.test("input: --data and --train together are one line naming both", () => {
  const command = trainCommand().parse(["--data=fixtures/tinylm", "--train=x.txt"], {
    from: "user",
  });
  assert.throws(
    () => checkFlagConflicts(command.opts(), () => true),
    (err: unknown) => err instanceof UserError && /--data and --train/.test(err.message),
  );
  // --train alone: the directory default is not read.
  const alone = trainCommand().parse(["--train=x.txt", "--valid=y.txt"], { from: "user" });
  const config = configFromFlags(alone.opts());
  assert.equal(config.data, "");
  assert.equal(config.input.train, "x.txt");
});
