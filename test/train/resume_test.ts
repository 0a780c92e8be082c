import assert from "node:assert/strict";
import { type Checkpoint, decodeCheckpoint } from "../../src/spec/checkpoint.ts";
import type { TrainConfig } from "../../src/train/config.ts";
import { MAY_DIFFER_ON_RESUME, settingChanges } from "../../src/train/resume.ts";
import { train } from "../../src/train/train.ts";
import { collectLog, sameBits, tinyLmConfig, withTempDir } from "../helpers.ts";

function assertSameWeights(actual: Checkpoint, expected: Checkpoint, what: string): void {
  for (const group of ["params", "optimizer"] as const) {
    for (const [name, t] of Object.entries(expected[group])) {
      assert.ok(sameBits(actual[group][name].data, t.data), `${what}: ${group} ${name}`);
    }
  }
  for (const [name, mask] of Object.entries(expected.masks)) {
    assert.ok(sameBits(actual.masks[name], mask), `${what}: mask ${name}`);
  }
}

Deno.test("re-running a finished run keeps it: nothing is trained or written", async () => {
  await withTempDir(async (dir) => {
    const config = tinyLmConfig(`${dir}/run.sparrow`);
    const first = await train(config, () => {});
    const bytes = await Deno.readFile(config.out);

    const { lines, log } = collectLog();
    const again = await train(config, log);
    assert.equal(again.trained, false);
    assert.deepEqual(lines, [
      `${config.out} already holds a run trained for 2 epochs; nothing to train ` +
      "(pass --epochs above 2 to extend it, or --restart to start over)",
    ]);
    assert.ok(sameBits(await Deno.readFile(config.out), bytes), "the finished run was rewritten");
    assert.deepEqual(again.metrics, first.metrics);
    assert.deepEqual(again.report, first.report);
    // Asking for fewer epochs than the run has is no reason to touch it either.
    assert.equal((await train({ ...config, epochs: 1 }, () => {})).trained, false);
    assert.ok(sameBits(await Deno.readFile(config.out), bytes));
  });
});

Deno.test("more --epochs extend a finished run as if it had been planned longer", async () => {
  await withTempDir(async (dir) => {
    // SET's prune rate is constant, so the extended run can match a straight one exactly.
    const overrides = { method: "set" as const, epochs: 3 };
    const straight = await train(tinyLmConfig(`${dir}/straight.sparrow`, overrides), () => {});

    const config = tinyLmConfig(`${dir}/extended.sparrow`, { ...overrides, epochs: 2 });
    await train(config, () => {});
    const { lines, log } = collectLog();
    const extended = await train({ ...config, epochs: 3 }, log);
    assert.equal(extended.trained, true);
    assert.ok(lines.includes(`extending ${config.out} from 2 to 3 epochs`), lines.join("\n"));
    assert.equal(lines.filter((l) => l.startsWith("checkpoint written")).length, 1);
    // The update a finished run skips after its last epoch is made before epoch 3.
    assert.equal(lines.filter((l) => l.includes("topology update at step 4")).length, 1);
    assertSameWeights(extended.checkpoint, straight.checkpoint, "extended");
    const { progress } = extended.checkpoint.meta;
    assert.equal(progress.done, true);
    assert.equal(progress.topologyUpdates, straight.checkpoint.meta.progress.topologyUpdates);
    assert.equal(extended.metrics.train_loss, straight.metrics.train_loss);
    assert.equal(extended.metrics.test_ppl, straight.metrics.test_ppl);
    assert.equal(extended.checkpoint.meta.training.epochs, 3);
  });
});

Deno.test("--restart starts over, but the old run stays until the new one has an epoch", async () => {
  await withTempDir(async (dir) => {
    const config = tinyLmConfig(`${dir}/run.sparrow`);
    await train(config, () => {});
    const old = await Deno.readFile(config.out);
    const other: TrainConfig = { ...config, seed: 2 };

    // Interrupted before its first checkpoint: the old run is untouched.
    await assert.rejects(
      () =>
        train(other, (line) => {
          if (line.startsWith("epoch 1/")) throw new Error("killed");
        }, { restart: true }),
      /killed/,
    );
    assert.ok(sameBits(await Deno.readFile(config.out), old));

    const restarted = await train(other, () => {}, { restart: true });
    assert.equal(restarted.trained, true);
    const now = decodeCheckpoint(await Deno.readFile(config.out), config.out);
    assert.equal(now.meta.training.seed, 2);
    assert.equal(now.meta.progress.history.length, 2);
  });
});

Deno.test("resuming with a setting that changes the result is refused, naming each", async () => {
  await withTempDir(async (dir) => {
    const config = tinyLmConfig(`${dir}/run.sparrow`, { epochs: 3 });
    let written = 0;
    await assert.rejects(() =>
      train(config, (line) => {
        if (line.startsWith("checkpoint written") && ++written === 1) throw new Error("killed");
      }), /killed/);
    const interrupted = await Deno.readFile(config.out);

    const changed: TrainConfig = {
      ...config,
      learningRate: 0.01,
      batchSize: 5,
      seed: 9,
      model: { ...config.model, dropout: 0.2 },
    };
    const err = await train(changed, () => {}).then(() => undefined, (e) => e);
    assert.equal(err?.name, "UserError");
    for (
      const part of [
        `${config.out} holds an unfinished run with other settings`,
        "--lr was 0.005, now 0.01",
        "--batch-size was 4, now 5",
        "--seed was 1, now 9",
        "--dropout was 0, now 0.2",
        "pass the original values, another --out, or --restart",
      ]
    ) {
      assert.ok(err.message.includes(part), `"${err.message}" lacks "${part}"`);
    }
    assert.ok(!err.message.includes("\n"));
    assert.ok(sameBits(await Deno.readFile(config.out), interrupted));

    // How often it logs and how many epochs it runs do not change the result.
    const resumed = await train({ ...config, logEvery: 1, epochs: 4 }, () => {});
    assert.equal(resumed.checkpoint.meta.progress.epoch, 4);
  });
});

Deno.test("settings that may differ on resume include the backend, compute and threads", () => {
  const config = tinyLmConfig("x.sparrow");
  for (const key of ["epochs", "logEvery", "backend", "compute", "threads"]) {
    assert.ok(MAY_DIFFER_ON_RESUME.includes(key), key);
  }
  const saved = { ...config, epochs: 9, logEvery: 7, compute: "masked", threads: 4 };
  assert.deepEqual(settingChanges(saved, { ...config, backend: "webgpu" }), []);
  assert.deepEqual(settingChanges({ ...config, clipNorm: 1 }, { ...config, clipNorm: 0.5 }), [
    "--clip was 1, now 0.5",
  ]);
  assert.deepEqual(settingChanges(config, { ...config, maxLength: 30, maxVocab: 50, lrDecay: 1 }), [
    "--max-length was 0, now 30",
    "--max-vocab was 0, now 50",
    "--lr-decay was 0.8, now 1",
  ]);
});
