import assert from "node:assert/strict";
import { join } from "node:path";
import { exportBundle } from "../../export/bundle.ts";
import { openBundle } from "../../src/infer/bundle.ts";
import { evaluateBundle, type Evaluation } from "../../src/infer/evaluate.ts";
import { DEFAULT_INPUT } from "../../src/data/input.ts";
import { UserError } from "../../src/spec/errors.ts";
import type { ComputeMode } from "../../src/train/compute.ts";
import { assertUserFacingError, REPO_ROOT, runCli, trainTiny, withTempDir } from "../helpers.ts";

const SENTIMENT = join(REPO_ROOT, "fixtures/sentiment");

/** Trains a small model, exports it and opens the bundle. */
async function trained(kind: "lm" | "classifier", dir: string, compute: ComputeMode = "sparse") {
  // Enough steps that no test prediction is a near-tie between two classes.
  const { path, result } = await trainTiny(kind, dir, { compute, maxSteps: 30, epochs: 2 });
  const bundleDir = join(dir, "bundle");
  await exportBundle(path, bundleDir);
  return { result, bundleDir, bundle: await openBundle(bundleDir) };
}

function classifier(e: Evaluation) {
  assert.equal(e.kind, "classifier");
  return e as Extract<Evaluation, { kind: "classifier" }>;
}

for (const compute of ["sparse", "masked"] as const) {
  Deno.test(`infer evaluate agrees with the training run's test metrics (classifier, ${compute})`, async () => {
    await withTempDir(async (dir) => {
      const { result, bundle } = await trained("classifier", dir, compute);
      const training = result.classification!;
      assert.ok(training, "training reports the test split's classification metrics");
      const e = classifier(await evaluateBundle(bundle, SENTIMENT));
      assert.deepEqual(e.metrics.confusion, training.confusion);
      assert.deepEqual(e.metrics.labels, training.labels);
      assert.equal(e.metrics.accuracy, training.accuracy);
      assert.equal(e.metrics.macroF1, training.macroF1);
      assert.equal(e.metrics.accuracy, result.metrics.test_acc);
      assert.equal(e.metrics.macroF1, result.metrics.test_macro_f1);
      assert.ok(Math.abs(e.loss - result.metrics.test_loss) < 1e-4, `${e.loss} vs test_loss`);
      assert.equal(e.metrics.count, 400);
    });
  });
}

Deno.test("infer evaluate agrees with the training run's test perplexity (language model)", async () => {
  await withTempDir(async (dir) => {
    const { result, bundle } = await trained("lm", dir);
    const e = await evaluateBundle(bundle, join(REPO_ROOT, "fixtures/tinylm"));
    assert.equal(e.kind, "lm");
    if (e.kind !== "lm") return;
    const relative = Math.abs(e.metrics.perplexity / result.metrics.test_ppl - 1);
    assert.ok(relative < 1e-4, `${e.metrics.perplexity} vs test_ppl ${result.metrics.test_ppl}`);
    assert.equal(e.metrics.unknown, 0);
    assert.ok(e.metrics.bitsPerCharacter > 0 && e.metrics.characters > e.metrics.tokens);
  });
});

Deno.test("infer evaluate reads one labelled file, and counts words the model never saw", async () => {
  await withTempDir(async (dir) => {
    const { bundle } = await trained("classifier", dir);
    const file = join(dir, "mine.tsv");
    await Deno.writeTextFile(
      file,
      "pos\tthe characters were good zzzunseen\npos\ta really good qqqnever movie\n" +
        "neg\tthis is not a moving movie\nneg\ta really tedious picture\n",
    );
    const e = classifier(await evaluateBundle(bundle, file));
    assert.equal(e.metrics.count, 4);
    assert.equal(e.unknown, 2);
    assert.deepEqual(e.metrics.classes.map((c) => c.support), [2, 2]);
  });
});

Deno.test("infer evaluate refuses a label the model does not know, in one line", async () => {
  await withTempDir(async (dir) => {
    const { bundleDir } = await trained("classifier", dir);
    const file = join(dir, "odd.tsv");
    await Deno.writeTextFile(file, "pos\tgreat\npos\tfine\nmeh\tso so\nmeh\tokay\n");
    await assert.rejects(
      async () => await evaluateBundle(await openBundle(bundleDir), file),
      (err: unknown) => err instanceof UserError && /label "meh" is not one/.test(err.message),
    );
    const cli = await runCli("infer", ["evaluate", bundleDir, join(dir, "missing.tsv")]);
    assertUserFacingError(cli, "missing.tsv");
    const json = await runCli("infer", ["evaluate", bundleDir, SENTIMENT, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout);
    assert.equal(parsed.kind, "classifier");
    assert.equal(parsed.metrics.confusion.length, 2);
  });
});

Deno.test("infer evaluate reads IMDB as training does, and agrees with its test metrics", async () => {
  await withTempDir(async (dir) => {
    // A miniature aclImdb/ with the official layout: {train,test}/{pos,neg}/<id>_<rating>.txt.
    const reviews = {
      pos: ["a really good movie", "the characters were good", "good fun and a good story"],
      neg: ["a really tedious picture", "this is not a moving movie", "dull and tedious"],
    };
    for (const split of ["train", "test"]) {
      for (const [label, texts] of Object.entries(reviews)) {
        const folder = join(dir, "aclImdb", split, label);
        await Deno.mkdir(folder, { recursive: true });
        for (const [i, text] of texts.entries()) {
          await Deno.writeTextFile(join(folder, `${i}_${label === "pos" ? 8 : 2}.txt`), text);
        }
      }
    }
    const { path, result } = await trainTiny("classifier", dir, { data: dir, maxSteps: 3 });
    await exportBundle(path, join(dir, "bundle"));
    const e = classifier(await evaluateBundle(await openBundle(join(dir, "bundle")), dir));
    assert.equal(e.metrics.count, 6);
    assert.deepEqual(e.metrics.confusion, result.classification!.confusion);
    assert.ok(Math.abs(e.loss - result.metrics.test_loss) < 1e-4);
  });
});

const AGNEWS = join(REPO_ROOT, "fixtures/formats/agnews");
const AGNEWS_FLAGS = ["--text-column", "title,description", "--label-column", "class"];

Deno.test("infer evaluate takes training's input flags, and agrees with its test metrics (CSV)", async () => {
  await withTempDir(async (dir) => {
    const { path, result } = await trainTiny("classifier", dir, {
      data: AGNEWS,
      input: { ...DEFAULT_INPUT, textColumn: "title,description", labelColumn: "class" },
      maxSteps: 10,
    });
    const bundleDir = join(dir, "bundle");
    await exportBundle(path, bundleDir);
    const training = result.classification!;
    const agrees = (e: ReturnType<typeof classifier>) => {
      assert.equal(e.metrics.count, 20);
      assert.deepEqual(e.metrics.labels, training.labels);
      assert.deepEqual(e.metrics.confusion, training.confusion);
      assert.equal(e.metrics.accuracy, result.metrics.test_acc);
      assert.ok(Math.abs(e.loss - result.metrics.test_loss) < 1e-4, `${e.loss} vs test_loss`);
    };
    const cli = await runCli("infer", ["evaluate", bundleDir, AGNEWS, ...AGNEWS_FLAGS, "--json"]);
    assert.equal(cli.code, 0, cli.stderr);
    agrees(classifier(JSON.parse(cli.stdout)));
    // The test file alone, named with --test, is the same test split.
    const bundle = await openBundle(bundleDir);
    try {
      const test = join(AGNEWS, "test.csv");
      agrees(classifier(
        await evaluateBundle(bundle, "", {
          input: { test, format: "csv", textColumn: "title,description", labelColumn: "class" },
        }),
      ));
    } finally {
      await bundle.session.release();
    }
    const bad = await runCli("infer", [
      "evaluate",
      bundleDir,
      AGNEWS,
      "--text-column",
      "title,summary",
    ]);
    assertUserFacingError(bad, "summary");
    const both = await runCli("infer", [
      "evaluate",
      bundleDir,
      AGNEWS,
      "--test",
      join(AGNEWS, "test.csv"),
    ]);
    assertUserFacingError(both, "--test");
    const unit = await runCli("infer", ["evaluate", bundleDir, AGNEWS, "--unit", "char"]);
    assertUserFacingError(unit, "--unit");
  });
});

Deno.test("infer evaluate reads a character model's text by characters, cut by --split as in training", async () => {
  await withTempDir(async (dir) => {
    const raw = join(REPO_ROOT, "fixtures/formats/raw.txt");
    const { path, result } = await trainTiny("lm", dir, {
      data: raw,
      input: { ...DEFAULT_INPUT, unit: "char", split: [0.8, 0.1, 0.1] },
    });
    await exportBundle(path, join(dir, "bundle"));
    const cli = await runCli("infer", [
      "evaluate",
      join(dir, "bundle"),
      raw,
      "--split",
      "0.8,0.1,0.1",
      "--json",
    ]);
    assert.equal(cli.code, 0, cli.stderr);
    const e: Evaluation = JSON.parse(cli.stdout);
    assert.equal(e.kind, "lm");
    if (e.kind !== "lm") return;
    const relative = Math.abs(e.metrics.perplexity / result.metrics.test_ppl - 1);
    assert.ok(relative < 1e-4, `${e.metrics.perplexity} vs test_ppl ${result.metrics.test_ppl}`);
    assert.equal(e.metrics.characters, e.metrics.tokens);
    assert.ok(Math.abs(e.metrics.bitsPerCharacter - Math.log2(e.metrics.perplexity)) < 1e-9);
  });
});

Deno.test("infer evaluate cuts one labelled file by --split and --seed as training did", async () => {
  await withTempDir(async (dir) => {
    const reviews = join(REPO_ROOT, "fixtures/formats/reviews.csv");
    const { path, result } = await trainTiny("classifier", dir, {
      data: reviews,
      input: { ...DEFAULT_INPUT, split: [0.8, 0.1, 0.1] },
      seed: 3,
      maxSteps: 10,
    });
    const bundleDir = join(dir, "bundle");
    await exportBundle(path, bundleDir);
    const cli = await runCli("infer", [
      "evaluate",
      bundleDir,
      reviews,
      "--split",
      "0.8,0.1,0.1",
      "--seed",
      "3",
      "--json",
    ]);
    assert.equal(cli.code, 0, cli.stderr);
    const e = classifier(JSON.parse(cli.stdout));
    assert.equal(e.metrics.count, 10);
    assert.deepEqual(e.metrics.confusion, result.classification!.confusion);
    assert.ok(Math.abs(e.loss - result.metrics.test_loss) < 1e-4, `${e.loss} vs test_loss`);
  });
});
