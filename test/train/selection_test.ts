import assert from "node:assert/strict";
import { join } from "node:path";
import { chooseCheckpoint } from "../../export/select.ts";
import { type Checkpoint, decodeCheckpoint, loadCheckpoint } from "../../src/spec/checkpoint.ts";
import { bestCheckpointPath, improves } from "../../src/spec/selection.ts";
import { writeFileAtomic } from "../../src/spec/atomic.ts";
import { DEFAULT_LM_CONFIG, type TrainConfig, validateConfig } from "../../src/train/config.ts";
import { settingChanges } from "../../src/train/resume.ts";
import { evaluationCompute, learningRateAt } from "../../src/train/selection.ts";
import { type Batch, loadTask, sampleTexts } from "../../src/train/tasks.ts";
import { train } from "../../src/train/train.ts";
import { configFromFlags, trainCommand } from "../../cli/train.ts";
import {
  collectLog,
  sameBits,
  tinyClassifierConfig,
  tinyLmConfig,
  type TinyOverrides,
  withTempDir,
} from "../helpers.ts";

/** Every checkpoint a run writes, in order, decoded, with the file it went to. */
function recordWrites(): {
  writes: { path: string; checkpoint: Checkpoint }[];
  write: (path: string, data: Uint8Array) => Promise<void>;
} {
  const writes: { path: string; checkpoint: Checkpoint }[] = [];
  return {
    writes,
    async write(path, data) {
      await writeFileAtomic(path, data);
      writes.push({ path, checkpoint: decodeCheckpoint(data, path) });
    },
  };
}

/** The metrics `checkpoint`'s weights get on `split`, computed afresh. */
async function evaluate(
  config: TrainConfig,
  checkpoint: Checkpoint,
  split: "valid" | "test",
): Promise<Record<string, number>> {
  const compute = await evaluationCompute(config, await loadTask(config), checkpoint);
  try {
    return await compute.evaluate(split);
  } finally {
    compute.dispose();
  }
}

function sameWeights(a: Checkpoint, b: Checkpoint): boolean {
  return Object.keys(b.params).every((name) => sameBits(a.params[name].data, b.params[name].data));
}

/** A run whose validation perplexity improves for two epochs, then gets worse (lr 0.1). */
const WORSENS: TinyOverrides = { epochs: 4, learningRate: 0.1, lrDecay: 1 };

Deno.test("each epoch is evaluated, and its best kept, before its topology update", async () => {
  await withTempDir(async (dir) => {
    const config = tinyLmConfig(`${dir}/run.sparrow`);
    const { writes, write } = recordWrites();
    const { lines, log } = collectLog();
    const result = await train(config, log, { write });
    // Epoch 1: the best checkpoint, then the update, then the last checkpoint.
    assert.deepEqual(
      writes.map((w) => w.path),
      [
        bestCheckpointPath(config.out),
        config.out,
        bestCheckpointPath(config.out),
        config.out,
      ],
    );
    const [best1, last1] = writes;
    assert.equal(best1.checkpoint.meta.progress.epoch, 1);
    const evaluated = lines.findIndex((l) => l.startsWith("epoch 1/2 "));
    const updated = lines.findIndex((l) => l.includes("topology update at step 2"));
    assert.ok(evaluated >= 0 && evaluated < updated, lines.join("\n"));

    // The logged metric is the pre-update model's: the best file's, not the last file's.
    const logged = result.checkpoint.meta.progress.history[0].valid_ppl;
    assert.equal((await evaluate(config, best1.checkpoint, "valid")).valid_ppl, logged);
    assert.notEqual((await evaluate(config, last1.checkpoint, "valid")).valid_ppl, logged);
    assert.ok(
      Object.keys(best1.checkpoint.masks).some((name) =>
        !sameBits(best1.checkpoint.masks[name], last1.checkpoint.masks[name])
      ),
      "the update after epoch 1 moved no connection",
    );
  });
});

Deno.test("the best checkpoint keeps the best epoch when later ones are worse, and is tested", async () => {
  await withTempDir(async (dir) => {
    const config = tinyLmConfig(`${dir}/run.sparrow`, WORSENS);
    const { writes, write } = recordWrites();
    const { lines, log } = collectLog();
    const result = await train(config, log, { write });
    const { history, best } = result.checkpoint.meta.progress;
    const ppl = history.map((h) => h.valid_ppl);
    assert.ok(ppl[2] > ppl[1] && ppl[3] > ppl[1], `not the run this test needs: ${ppl}`);

    const bestFile = await loadCheckpoint(bestCheckpointPath(config.out));
    assert.equal(bestFile.meta.progress.epoch, 2);
    assert.equal(result.checkpoint.meta.progress.epoch, 4);
    const written = writes.filter((w) => w.path === bestCheckpointPath(config.out));
    assert.deepEqual(written.map((w) => w.checkpoint.meta.progress.epoch), [1, 2, 2]);
    assert.ok(sameWeights(bestFile, written[1].checkpoint), "the best file moved on");

    // The test split is evaluated, whole, on the best epoch's weights only.
    const test = await evaluate(config, bestFile, "test");
    assert.equal(best?.epoch, 2);
    assert.equal(best?.metrics.test_ppl, test.test_ppl);
    assert.equal(best?.metrics.valid_ppl, ppl[1]);
    assert.deepEqual(bestFile.meta.progress.best, best);
    assert.ok(history.every((h) => !("test_ppl" in h)));
    assert.deepEqual(result.metrics, best?.metrics);
    assert.ok(
      lines.includes(
        `best epoch 2 of 4: valid_ppl ${ppl[1].toFixed(3)}  test_ppl ${test.test_ppl.toFixed(3)} ` +
          `(written to ${bestCheckpointPath(config.out)})`,
      ),
      lines.join("\n"),
    );

    // Export takes the best epoch and says so; --last the last one.
    assert.deepEqual(await chooseCheckpoint(config.out), {
      path: bestCheckpointPath(config.out),
      line: `exporting the best epoch 2 of 4 (valid_ppl ${ppl[1].toFixed(2)})`,
    });
    assert.deepEqual(await chooseCheckpoint(config.out, true), {
      path: config.out,
      line: `exporting the last epoch 4 of 4 (valid_ppl ${ppl[3].toFixed(2)})`,
    });
  });
});

Deno.test("--lr-plateau divides the learning rate from each epoch after one that did not improve", async () => {
  const config = { ...DEFAULT_LM_CONFIG, learningRate: 1, lrDecay: 0.5, lrPlateau: 2 };
  const history = [10, 8, 9, 7, 7.5].map((valid_ppl, e) => ({ epoch: e + 1, valid_ppl }));
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5].map((e) => learningRateAt(config, e, history)),
    [1, 0.5, 0.25, 0.125 / 2, 0.0625 / 2, 0.03125 / 4],
  );
  assert.equal(learningRateAt({ ...config, lrPlateau: 1 }, 5, history), 0.03125);

  // A classifier's accuracy ties often: an equal one improves only with a lower loss.
  assert.ok(improves({ valid_acc: 0.8, valid_loss: 0.4 }, { valid_acc: 0.8, valid_loss: 0.5 }));
  assert.ok(!improves({ valid_acc: 0.8, valid_loss: 0.5 }, { valid_acc: 0.8, valid_loss: 0.5 }));
  assert.ok(improves({ valid_acc: 0.9, valid_loss: 0.9 }, { valid_acc: 0.8, valid_loss: 0.5 }));
  assert.ok(!improves({ valid_ppl: NaN }, undefined));

  await withTempDir(async (dir) => {
    const plain = await train(tinyLmConfig(`${dir}/plain.sparrow`, WORSENS), () => {});
    const { lines, log } = collectLog();
    const halved = await train(
      tinyLmConfig(`${dir}/halved.sparrow`, { ...WORSENS, lrPlateau: 2 }),
      log,
    );
    const a = plain.checkpoint.meta.progress.history;
    const b = halved.checkpoint.meta.progress.history;
    // Epoch 3 is the first not to improve: epochs 1 to 3 are the same, epoch 4 is not.
    for (let e = 0; e < 3; e++) assert.equal(b[e].train_loss, a[e].train_loss, `epoch ${e + 1}`);
    assert.notEqual(b[3].train_loss, a[3].train_loss);
    const decays = lines.filter((l) => l.includes("learning rate divided by 2"));
    assert.equal(decays.length, 2, lines.join("\n"));
    assert.match(decays[0], /is no better than epoch 2 .*now 0\.05$/);
    assert.match(decays[1], /now 0\.025$/);
  });
});

Deno.test("a run interrupted after an epoch resumes with the same best and learning rate", async () => {
  await withTempDir(async (dir) => {
    const overrides = { ...WORSENS, lrPlateau: 2 };
    const straight = await train(tinyLmConfig(`${dir}/straight.sparrow`, overrides), () => {});
    const config = tinyLmConfig(`${dir}/resumed.sparrow`, overrides);
    let written = 0;
    await assert.rejects(
      () =>
        train(config, (line) => {
          if (line.startsWith("checkpoint written") && ++written === 3) throw new Error("killed");
        }),
      /killed/,
    );
    const { lines, log } = collectLog();
    const resumed = await train(config, log);
    assert.ok(lines.some((l) => l.startsWith(`resuming ${config.out} after epoch 3`)));
    assert.ok(lines.some((l) => l.endsWith("now 0.025")), lines.join("\n"));
    const { seconds: _a, ...a } = resumed.metrics;
    const { seconds: _b, ...b } = straight.metrics;
    assert.deepEqual(a, b);
    const strip = (c: Checkpoint) => c.meta.progress.history.map(({ seconds: _, ...h }) => h);
    assert.deepEqual(strip(resumed.checkpoint), strip(straight.checkpoint));
    const bestOf = (out: string) => loadCheckpoint(bestCheckpointPath(out));
    assert.ok(
      sameWeights(
        await bestOf(config.out),
        await bestOf(straight.checkpoint.meta.training.out as string),
      ),
    );
  });
});

Deno.test("a restarted run never passes another run's best checkpoint off as its own", async () => {
  await withTempDir(async (dir) => {
    const config = tinyLmConfig(`${dir}/run.sparrow`);
    await train(config, () => {});
    const old = await chooseCheckpoint(config.out);
    assert.equal(old.path, bestCheckpointPath(config.out));

    // Killed between the new run's first best checkpoint and its first checkpoint.
    const failOut = async (path: string, data: Uint8Array) => {
      if (path === config.out) throw new Error("killed");
      await writeFileAtomic(path, data);
    };
    const other = { ...config, seed: 2 };
    await assert.rejects(() => train(other, () => {}, { restart: true, write: failOut }), /killed/);
    await assert.rejects(
      () => chooseCheckpoint(config.out),
      (err: Error) =>
        err.name === "UserError" && err.message.includes("is not the best epoch 2") &&
        err.message.includes("pass --last"),
    );
    assert.equal((await chooseCheckpoint(config.out, true)).path, config.out);

    await train(other, () => {}, { restart: true });
    assert.equal((await chooseCheckpoint(config.out)).path, bestCheckpointPath(config.out));
    await Deno.remove(bestCheckpointPath(config.out));
    await assert.rejects(() => chooseCheckpoint(config.out), /which is missing; pass --last/);
  });
});

/** Tokens predicted over `batches` (LM) or the real tokens of its texts (classifier). */
function tokensOf(batches: Iterable<Batch>): { tokens: number; sequences: number } {
  let tokens = 0, sequences = 0;
  for (const b of batches) {
    tokens += b.lengths ? b.lengths.reduce((n, l) => n + l, 0) : b.T * b.B;
    sequences += b.B;
  }
  return { tokens, sequences };
}

Deno.test("--eval-max-tokens caps each epoch's validation, never the test split", async () => {
  for (const make of [tinyLmConfig, tinyClassifierConfig]) {
    const full = await loadTask(make("x.sparrow"));
    const capped = await loadTask(make("x.sparrow", { evalMaxTokens: 60 }));
    const all = tokensOf(full.evalBatches("valid"));
    const some = tokensOf(capped.evalBatches("valid"));
    assert.ok(all.tokens > 60);
    assert.ok(some.tokens <= 60 && some.tokens > 30, `${some.tokens} tokens`);
    assert.deepEqual(tokensOf(capped.evalBatches("test")), tokensOf(full.evalBatches("test")));
    assert.ok(capped.summary.some((l) => l.includes("(--eval-max-tokens)")), capped.summary.join());
    assert.ok(!full.summary.some((l) => l.includes("(--eval-max-tokens)")));
  }
  // The classifier keeps whole texts: at least one, however long.
  const one = await loadTask(tinyClassifierConfig("x.sparrow", { evalMaxTokens: 1 }));
  assert.equal(tokensOf(one.evalBatches("valid")).sequences, 1);
});

Deno.test("--eval-max-tokens samples a classifier's validation across a split stored by class", () => {
  // 100 negative texts, then 100 positive ones, as IMDB's held-out reviews come.
  const texts = Array.from({ length: 200 }, () => new Int32Array(10));
  const labels = Int32Array.from({ length: 200 }, (_, i) => (i < 100 ? 0 : 1));
  const sample = sampleTexts({ texts, labels }, 400);
  assert.equal(sample.texts.length, 40);
  const positives = sample.labels.reduce((n, l) => n + l, 0);
  assert.ok(positives >= 10 && positives <= 30, `${positives} of 40 positive`);
  // The same texts every time, in the split's order.
  assert.deepEqual(sampleTexts({ texts, labels }, 400).labels, sample.labels);
  assert.deepEqual([...sample.labels], [...sample.labels].sort());
});

Deno.test("--valid-fraction holds that share of the training texts out", async () => {
  await withTempDir(async (dir) => {
    const line = (i: number) => `${i % 2 ? "pos" : "neg"}\tword${i % 7} and word${i % 5}`;
    await Deno.writeTextFile(join(dir, "train.tsv"), [...Array(40).keys()].map(line).join("\n"));
    await Deno.writeTextFile(join(dir, "test.tsv"), [1, 2, 3, 4].map(line).join("\n"));
    for (const [fraction, heldOut] of [[0.05, 2], [0.1, 4], [0.25, 10]]) {
      const config = tinyClassifierConfig("x.sparrow", { data: dir, validFraction: fraction });
      const task = await loadTask(config);
      assert.equal(tokensOf(task.evalBatches("valid")).sequences, heldOut, `${fraction}`);
      assert.equal(task.stepsPerEpoch, Math.ceil((40 - heldOut) / config.batchSize));
      // The run's data record says how valid was made, and how many texts it holds.
      assert.equal(task.data?.valid?.examples, heldOut);
      assert.deepEqual(task.data?.split, {
        kind: "held-out",
        fractions: [fraction],
        seed: config.seed,
        stratified: false,
      });
    }
  });
});

Deno.test("the new settings are checked, and must match on resume", () => {
  const config = tinyLmConfig("x.sparrow");
  for (
    const [change, message] of [
      [{ lrPlateau: 0.5 }, /--lr-plateau must be 1 \(off\) or a factor above 1/],
      [{ evalMaxTokens: -1 }, /--eval-max-tokens must be 0/],
      [{ evalMaxTokens: 2.5 }, /--eval-max-tokens/],
      [{ validFraction: 1 }, /--valid-fraction must be in \(0, 1\)/],
      [{ validFraction: 0 }, /--valid-fraction/],
    ] as const
  ) {
    assert.throws(() => validateConfig({ ...config, ...change }), message);
  }
  // Runs from before these settings had them off, at 0 and at 5%.
  const { lrPlateau: _p, evalMaxTokens: _e, validFraction: _v, ...before } = config;
  assert.deepEqual(settingChanges(before, config), []);
  assert.deepEqual(
    settingChanges(config, { ...config, lrPlateau: 1.33, evalMaxTokens: 100, validFraction: 0.1 }),
    [
      "--lr-plateau was 1, now 1.33",
      "--eval-max-tokens was 0, now 100",
      "--valid-fraction was 0.05, now 0.1",
    ],
  );
});

Deno.test("train flags --lr-plateau, --eval-max-tokens and --valid-fraction reach the configuration", () => {
  const parse = (args: string[]) =>
    configFromFlags(trainCommand().parse(args, { from: "user" }).opts());
  const given = parse([
    "--task",
    "classifier",
    "--lr-plateau",
    "1.33",
    "--eval-max-tokens",
    "5000",
    "--valid-fraction",
    "0.1",
  ]);
  assert.deepEqual(
    [given.lrPlateau, given.evalMaxTokens, given.validFraction],
    [1.33, 5000, 0.1],
  );
  const defaults = parse([]);
  assert.deepEqual(
    [defaults.lrPlateau, defaults.evalMaxTokens, defaults.validFraction],
    [1, 0, 0.05],
  );
});
