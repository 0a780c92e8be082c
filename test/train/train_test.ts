import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../src/backend/backend.ts";
import { allocateNonzeros, sparseParams } from "../../src/core/density.ts";
import { countActive } from "../../src/core/mask.ts";
import { type MethodName, methodsByName } from "../../src/core/methods.ts";
import { type ModelConfig, paramSpecs, sizeOf } from "../../src/spec/config.ts";
import { type Checkpoint, decodeCheckpoint } from "../../src/spec/checkpoint.ts";
import type { SparseConfig, TrainConfig } from "../../src/train/config.ts";
import { train } from "../../src/train/train.ts";
import { writeFileAtomic } from "../../src/spec/atomic.ts";
import {
  sameBits,
  tinyClassifierConfig,
  tinyLmConfig,
  type TinyOverrides,
  withTempDir,
} from "../helpers.ts";

/** A log that keeps every line and decodes each checkpoint as soon as it is written. */
function recorder(): { lines: string[]; checkpoints: Checkpoint[]; log: (line: string) => void } {
  const lines: string[] = [];
  const checkpoints: Checkpoint[] = [];
  return {
    lines,
    checkpoints,
    log(line) {
      lines.push(line);
      const written = /^checkpoint written to (.+)$/.exec(line);
      if (written) checkpoints.push(decodeCheckpoint(Deno.readFileSync(written[1]), written[1]));
    },
  };
}

/** The nonzero count the initial allocation gives every sparse matrix. */
function allocatedCounts(model: ModelConfig, sparse: SparseConfig): Record<string, number> {
  const layers = sparseParams(paramSpecs(model), sparse);
  const allocation = sparse.epsilon !== undefined
    ? allocateNonzeros(layers, { epsilon: sparse.epsilon }, "er")
    : allocateNonzeros(layers, { sparsity: sparse.sparsity }, sparse.init);
  return Object.fromEntries(allocation.map((a) => [a.name, a.nonzeros]));
}

/**
 * The sparse invariants of a checkpoint: every mask keeps its allocated
 * count (with cross-layer redistribution, the masks together keep the total),
 * masked weights are exactly zero and, unless the method keeps dense
 * momentum, so is the optimizer state at masked positions.
 */
function assertSparseInvariant(
  ckpt: Checkpoint,
  counts: Record<string, number>,
  options: { denseMomentum: boolean; redistributed: boolean },
  where: string,
): void {
  const { denseMomentum, redistributed } = options;
  assert.deepEqual(Object.keys(ckpt.masks).sort(), Object.keys(counts).sort(), where);
  const total = (values: number[]) => values.reduce((a, b) => a + b, 0);
  assert.equal(
    total(Object.values(ckpt.masks).map(countActive)),
    total(Object.values(counts)),
    `${where}: total nonzeros`,
  );
  for (const [name, mask] of Object.entries(ckpt.masks)) {
    if (!redistributed) {
      assert.equal(countActive(mask), counts[name], `${where}: nonzeros of ${name}`);
    }
    const weights = ckpt.params[name].data;
    let activeNonzero = 0;
    mask.forEach((m, i) => {
      // -0 counts as zero: masking multiplies by 0.
      if (m === 0) assert.ok(weights[i] === 0, `${where}: masked ${name}[${i}] = ${weights[i]}`);
      else if (weights[i] !== 0) activeNonzero++;
    });
    assert.ok(activeNonzero > 0, `${where}: ${name} has no live weights`);
    if (denseMomentum) continue;
    for (const slot of ["m", "s"]) {
      const state = ckpt.optimizer[`${slot}/${name}`].data;
      mask.forEach((m, i) => {
        if (m === 0) assert.ok(state[i] === 0, `${where}: ${slot}/${name}[${i}] after pruning`);
      });
    }
  }
}

function sameMasks(a: Checkpoint, b: Checkpoint): boolean {
  return Object.keys(a.masks).every((name) => sameBits(a.masks[name], b.masks[name]));
}

function assertSameState(actual: Checkpoint, expected: Checkpoint, what: string): void {
  for (const group of ["params", "optimizer"] as const) {
    assert.deepEqual(Object.keys(actual[group]).sort(), Object.keys(expected[group]).sort());
    for (const [name, t] of Object.entries(expected[group])) {
      assert.ok(sameBits(actual[group][name].data, t.data), `${what}: ${group} ${name}`);
    }
  }
  assert.ok(sameMasks(actual, expected), `${what}: masks`);
}

/** Per-epoch losses and validation metrics, without wall-clock times. */
function history(ckpt: Checkpoint): Record<string, number>[] {
  return ckpt.meta.progress.history.map(({ seconds: _, ...rest }) => rest);
}

/** Prune rates of the logged topology updates, by step. */
function loggedPruneRates(lines: string[]): Map<number, number> {
  const rates = new Map<number, number>();
  for (const line of lines) {
    const m = /topology update at step (\d+): prune rate ([\d.]+)/.exec(line);
    if (m) rates.set(Number(m[1]), Number(m[2]));
  }
  return rates;
}

/** Whether a value printed with 3 decimals is `exact` rounded. */
const printedAs = (printed: number, exact: number) => Math.abs(printed - exact) <= 5e-4 + 1e-12;

const PLAIN = { denseMomentum: false, redistributed: false };

const cosine = (initial: number, step: number, total: number) =>
  0.005 + (initial - 0.005) * (1 + Math.cos(Math.PI * step / total)) / 2;

async function run(
  kind: "lm" | "classifier",
  dir: string,
  name: string,
  overrides: TinyOverrides,
): Promise<
  {
    config: TrainConfig;
    rec: ReturnType<typeof recorder>;
    result: Awaited<ReturnType<typeof train>>;
  }
> {
  const out = `${dir}/${name}.sparrow`;
  const config = kind === "lm"
    ? tinyLmConfig(out, overrides)
    : tinyClassifierConfig(out, overrides);
  const rec = recorder();
  const result = await train(config, rec.log);
  return { config, rec, result };
}

Deno.test("prune and regrow keep every matrix's nonzero count fixed across epochs", async () => {
  await withTempDir(async (dir) => {
    for (const kind of ["lm", "classifier"] as const) {
      const { config, rec, result } = await run(kind, dir, kind, { epochs: 3 });
      const counts = allocatedCounts(result.checkpoint.meta.model, config.sparse);
      assert.equal(rec.checkpoints.length, 3);
      rec.checkpoints.forEach((ckpt, e) =>
        assertSparseInvariant(ckpt, counts, PLAIN, `${kind} epoch ${e + 1}`)
      );
      assertSparseInvariant(result.checkpoint, counts, PLAIN, `${kind} result`);

      // One update after each epoch but the last, at the cosine rate of its step.
      const rates = loggedPruneRates(rec.lines);
      assert.deepEqual([...rates.keys()], [2, 4]);
      for (const [step, rate] of rates) {
        assert.ok(printedAs(rate, cosine(0.5, step, 6)), `rate ${rate} at step ${step}`);
      }
      assert.equal(result.checkpoint.meta.progress.topologyUpdates, 2);

      // The update after epoch 2 moved connections: as many grown as pruned,
      // and the grown ones start at exactly zero with fresh optimizer state.
      const [first, second] = rec.checkpoints;
      for (const [name, after] of Object.entries(second.masks)) {
        const before = first.masks[name];
        let grown = 0, pruned = 0;
        after.forEach((m, i) => {
          if (m === 1 && before[i] === 0) {
            grown++;
            assert.ok(second.params[name].data[i] === 0, `grown ${name}[${i}]`);
            assert.ok(second.optimizer[`m/${name}`].data[i] === 0);
            assert.ok(second.optimizer[`s/${name}`].data[i] === 0);
          }
          if (m === 0 && before[i] === 1) pruned++;
        });
        assert.equal(grown, pruned, name);
        assert.ok(grown > 0, `${kind}: the update after epoch 2 moved nothing in ${name}`);
      }
    }
  });
});

Deno.test("the same seed gives identical losses, masks and weights; another seed does not", async () => {
  await withTempDir(async (dir) => {
    const overrides: TinyOverrides = {
      model: { cell: "lstm", embedSize: 8, hiddenSize: 8, layers: 2, dropout: 0.2 },
      sparse: { updateEvery: 2 },
    };
    const a = await run("lm", dir, "a", overrides);
    const b = await run("lm", dir, "b", overrides);
    assert.deepEqual(history(b.result.checkpoint), history(a.result.checkpoint));
    assertSameState(b.result.checkpoint, a.result.checkpoint, "same seed");

    const c = await run("lm", dir, "c", { ...overrides, seed: 2 });
    assert.ok(!sameMasks(c.result.checkpoint, a.result.checkpoint), "seed 2 gave seed 1's masks");
    assert.notDeepEqual(history(c.result.checkpoint), history(a.result.checkpoint));
  });
});

Deno.test("a run interrupted after an epoch resumes to the same result as a straight run", async () => {
  await withTempDir(async (dir) => {
    const overrides: TinyOverrides = {
      epochs: 3,
      model: { cell: "lstm", embedSize: 8, hiddenSize: 8, layers: 2, dropout: 0.1 },
    };
    const straight = await run("lm", dir, "straight", overrides);

    const config = tinyLmConfig(`${dir}/resumed.sparrow`, overrides);
    let written = 0;
    await assert.rejects(
      () =>
        train(config, (line) => {
          if (line.startsWith("checkpoint written") && ++written === 1) {
            throw new Error("interrupted");
          }
        }),
      /interrupted/,
    );
    const interrupted = decodeCheckpoint(await Deno.readFile(config.out), config.out);
    assert.equal(interrupted.meta.progress.epoch, 1);
    assert.equal(interrupted.meta.progress.done, false);

    // Resuming with other settings would silently mix two runs: refused.
    const sgd = { ...config, optimizer: { ...config.optimizer, name: "sgd" as const } };
    await assert.rejects(
      () => train(sgd, () => {}),
      /unfinished run with other settings: --optimizer was adam, now sgd/,
    );

    const rec = recorder();
    const resumed = await train(config, rec.log);
    assert.ok(rec.lines.some((l) => l.startsWith(`resuming ${config.out} after epoch 1`)));
    assert.equal(rec.checkpoints.length, 2, "only epochs 2 and 3 ran again");
    assertSameState(resumed.checkpoint, straight.result.checkpoint, "resumed");
    assert.deepEqual(history(resumed.checkpoint), history(straight.result.checkpoint));
    const { progress } = resumed.checkpoint.meta;
    const expected = straight.result.checkpoint.meta.progress;
    assert.deepEqual(
      [progress.step, progress.optimizerSteps, progress.tokens, progress.topologyUpdates],
      [expected.step, expected.optimizerSteps, expected.tokens, expected.topologyUpdates],
    );
    assert.deepEqual(resumed.report, straight.result.report);
  });
});

Deno.test("prune rates follow the cosine, linear and constant schedules step by step", async () => {
  await withTempDir(async (dir) => {
    const total = 6;
    const cases: [string, TinyOverrides, (step: number) => number][] = [
      ["cosine", {}, (s) => cosine(0.5, s, total)],
      ["linear", { sparse: { schedule: "linear", pruneRate: 0.4 } }, (s) => 0.4 * (1 - s / total)],
      ["constant", { method: "set" }, () => 0.3],
    ];
    for (const [name, overrides, expected] of cases) {
      const { rec } = await run("lm", dir, name, {
        ...overrides,
        epochs: 1,
        maxSteps: total,
        sparse: { updateEvery: 1, ...overrides.sparse },
      });
      const rates = loggedPruneRates(rec.lines);
      // Every step but the last updates the topology.
      assert.deepEqual([...rates.keys()], [1, 2, 3, 4, 5], name);
      for (const [step, rate] of rates) {
        assert.ok(
          printedAs(rate, expected(step)),
          `${name}: ${rate} at step ${step}, expected ${expected(step)}`,
        );
      }
    }
  });
});

Deno.test("one short run per method completes with a consistent FLOPs report", async () => {
  await withTempDir(async (dir) => {
    const methods: MethodName[] = ["strnn", "set", "snfs", "rigl", "dense", "small-dense", "gmp"];
    const full = tinyLmConfig("unused").model;
    for (const method of methods) {
      const { config, rec, result } = await run("lm", dir, method, {
        method,
        maxSteps: 3,
        sparse: { updateEvery: 1 },
      });
      const { checkpoint, report, metrics } = result;
      const where = method;
      assert.equal(checkpoint.meta.progress.done, true, where);
      assert.equal(checkpoint.meta.progress.history.length, 2, where);
      assert.ok(Number.isFinite(metrics.train_loss) && Number.isFinite(metrics.test_ppl), where);
      const { inference, training, parameters } = report;
      const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, b);
      const preset = methodsByName[method];

      if (preset.kind === "dynamic") {
        const counts = allocatedCounts(checkpoint.meta.model, config.sparse);
        const redistributed = config.sparse.redistribution !== "none";
        assertSparseInvariant(checkpoint, counts, {
          denseMomentum: preset.needs.denseMomentumEveryStep,
          redistributed,
        }, where);
        assert.equal(checkpoint.meta.progress.topologyUpdates, 5, where);
        for (const p of parameters.params) {
          const expected = checkpoint.masks[p.name]
            ? countActive(checkpoint.masks[p.name])
            : p.size;
          assert.equal(p.nonzeros, expected, `${where}: report of ${p.name}`);
        }
        assert.ok(inference.normalized < 1 && inference.normalized > 0.3, where);
        if (method === "rigl" || method === "snfs") {
          // A dense gradient (at updates, or every step for momentum) costs extra.
          assert.ok(training.normalized > inference.normalized, where);
          assert.ok(training.normalized < 1, where);
        } else {
          assert.ok(close(training.normalized, inference.normalized), where);
        }
        assert.ok(close(training.maskedDenseNormalized, 1), where);
      } else if (method === "dense") {
        assert.deepEqual(checkpoint.masks, {});
        assert.equal(parameters.nonzeros, parameters.total);
        assert.equal(inference.normalized, 1);
        assert.equal(training.normalized, 1);
        assert.equal(checkpoint.meta.model.hiddenSize, full.hiddenSize);
      } else if (method === "small-dense") {
        assert.deepEqual(checkpoint.masks, {});
        const hidden = checkpoint.meta.model.hiddenSize;
        assert.ok(hidden < full.hiddenSize, `${where}: hidden ${hidden}`);
        // Its parameter count is the closest a whole hidden size gets to the sparse model's.
        const model = checkpoint.meta.model;
        const sizeWith = (h: number) =>
          paramSpecs({ ...model, hiddenSize: h }).reduce((n, s) => n + sizeOf(s.shape), 0);
        const sparseModel = { ...model, hiddenSize: full.hiddenSize };
        const strnnCounts = allocatedCounts(sparseModel, { ...config.sparse, init: "er" });
        const target = paramSpecs(sparseModel).reduce(
          (n, s) => n + (strnnCounts[s.name] ?? sizeOf(s.shape)),
          0,
        );
        assert.equal(parameters.total, sizeWith(hidden));
        assert.ok(
          Math.abs(sizeWith(hidden) - target) <= Math.abs(sizeWith(hidden + 1) - target) &&
            Math.abs(sizeWith(hidden) - target) <= Math.abs(sizeWith(hidden - 1) - target),
          `${where}: ${sizeWith(hidden)} parameters for a target of ${target}`,
        );
        assert.ok(inference.normalized < 1, where);
        assert.ok(close(training.normalized, inference.normalized), where);
      } else {
        // gmp: dense at first, then pruned to the target by the end of the first epoch.
        for (const [name, mask] of Object.entries(checkpoint.masks)) {
          assert.equal(countActive(mask), Math.round(0.5 * mask.length), `${where}: ${name}`);
          mask.forEach((m, i) => m === 0 && assert.ok(checkpoint.params[name].data[i] === 0));
        }
        assert.deepEqual(
          Object.keys(checkpoint.masks).sort(),
          sparseParams(paramSpecs(checkpoint.meta.model)).map((s) => s.name).sort(),
        );
        const sparsities = rec.lines.flatMap((l) => {
          const m = /gmp prune at step (\d+): sparsity ([\d.]+)%/.exec(l);
          return m ? [[Number(m[1]), Number(m[2]) / 100]] : [];
        });
        // Zhu & Gupta's cubic from 0 at step 0 to 0.5 at the end of epoch 1 (step 3).
        const cubic = (t: number) => 0.5 - 0.5 * Math.max(0, 1 - t / 3) ** 3;
        assert.deepEqual(sparsities.map(([s]) => s), [1, 2, 3, 4, 5]);
        for (const [step, s] of sparsities) {
          assert.ok(printedAs(s, cubic(step)), `${where} ${step}`);
        }
        assert.ok(inference.normalized < 1, where);
        assert.ok(training.normalized > inference.normalized && training.normalized < 1, where);
      }
    }
  });
});

Deno.test("a masked run frees every tensor it creates, whatever the method and cadence", async () => {
  await useBackend("wasm");
  await withTempDir(async (dir) => {
    for (const method of ["strnn", "rigl", "snfs", "gmp"] as const) {
      for (const kind of ["lm", "classifier"] as const) {
        const before = tf.memory().numTensors;
        const overrides = {
          method,
          epochs: 2,
          maxSteps: 4,
          compute: "masked" as const,
          sparse: { updateEvery: 2 },
        };
        const out = `${dir}/${method}-${kind}.sparrow`;
        await train(
          kind === "lm" ? tinyLmConfig(out, overrides) : tinyClassifierConfig(out, overrides),
          () => {},
        );
        assert.equal(tf.memory().numTensors, before, `${method} ${kind} leaked tensors`);
      }
    }
  });
});

Deno.test("a growth rule outside the method's preset gets the dense quantities it needs", async () => {
  await withTempDir(async (dir) => {
    for (const sparse of [{ grow: "gradient" as const }, { grow: "momentum" as const }]) {
      const result = await train(
        tinyLmConfig(`${dir}/${sparse.grow}.sparrow`, { epochs: 3, sparse }),
        () => {},
      );
      const plain = await train(
        tinyLmConfig(`${dir}/plain-${sparse.grow}.sparrow`, { epochs: 3 }),
        () => {},
      );
      // Paying for dense gradients or momentum shows in the training FLOPs.
      assert.ok(result.report.training.total > plain.report.training.total, sparse.grow);
    }
  });
});

Deno.test("gmp with a single epoch still prunes to its target", async () => {
  await withTempDir(async (dir) => {
    const { report } = await train(
      tinyLmConfig(`${dir}/gmp.sparrow`, {
        method: "gmp",
        epochs: 1,
        maxSteps: 20,
        sparse: { sparsity: 0.9 },
      }),
      () => {},
    );
    const lstm = report.parameters.params.filter((p) =>
      p.name.startsWith("lstm.") && p.role === "gate"
    );
    for (const p of lstm) {
      assert.ok(p.nonzeros <= Math.round(0.1 * p.size) + 1, `${p.name} ${p.nonzeros}/${p.size}`);
    }
  });
});

Deno.test("gmp's training FLOPs count the epochs it really ran dense", async () => {
  await withTempDir(async (dir) => {
    const { report } = await train(
      tinyLmConfig(`${dir}/gmp.sparrow`, {
        method: "gmp",
        epochs: 2,
        maxSteps: 4,
        sparse: { sparsity: 0.9 },
      }),
      () => {},
    );
    // Epoch 1 runs dense, epoch 2 at the final sparsity: the mean of the two costs.
    const finalRatio = report.inference.perToken / report.inference.maskedDensePerToken;
    // (Rounding each layer's nonzero count leaves the final sparsity a hair off 0.9.)
    assert.ok(Math.abs(report.training.normalized - (1 + finalRatio) / 2) < 1e-3);
  });
});

Deno.test("--out naming a directory is a one-line UserError", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(
      () => train(tinyLmConfig(dir), () => {}),
      /is a directory; pass a file path/,
    );
  });
});

Deno.test("a diverging run stops at the step, keeps the last good checkpoint and says what to do", async () => {
  await withTempDir(async (dir) => {
    const config = tinyLmConfig(`${dir}/run.sparrow`, { maxSteps: 4 });
    await train(config, () => {});
    const good = await Deno.readFile(config.out);
    const rec = recorder();
    const err = await train({ ...config, learningRate: 1e9 }, rec.log, { restart: true }).then(
      () => undefined,
      (e) => e,
    );
    assert.equal(err?.name, "UserError", String(err));
    assert.match(
      err.message,
      /^training diverged at epoch 1 step \d \(loss [^)]+\); .*run\.sparrow is unchanged: pass a lower --lr than 1000000000, or --clip below 0\.25$/,
    );
    assert.equal(rec.checkpoints.length, 0);
    assert.ok(sameBits(await Deno.readFile(config.out), good));

    // From scratch, nothing is written at all.
    const fresh = { ...config, out: `${dir}/fresh.sparrow`, learningRate: 1e9, clipNorm: 0 };
    await assert.rejects(() => train(fresh, () => {}), /was not written: .* or set --clip/);
    assert.equal(await Deno.stat(fresh.out).then(() => true, () => false), false);
  });
});

Deno.test("a full disk during a checkpoint write is one line; the previous epoch survives", async () => {
  await withTempDir(async (dir) => {
    const config = tinyLmConfig(`${dir}/run.sparrow`, { epochs: 3 });
    let writes = 0;
    const fullAfterOne = async (path: string, data: Uint8Array) => {
      // Epoch 1 also writes the best checkpoint beside --out.
      if (path !== config.out || ++writes === 1) return await writeFileAtomic(path, data);
      // What Deno throws when a write hits ENOSPC.
      throw Object.assign(new Error("No space left on device (os error 28)"), { code: "ENOSPC" });
    };
    await assert.rejects(
      () => train(config, () => {}, { write: fullAfterOne }),
      (err: Error) =>
        err.name === "UserError" &&
        err.message ===
          `cannot write checkpoint ${config.out}: no space left on the device; ${config.out} ` +
            "still holds epoch 1: free some space or pass another --out, then run again to resume",
    );
    const kept = decodeCheckpoint(await Deno.readFile(config.out), config.out);
    assert.equal(kept.meta.progress.epoch, 1);
    assert.equal(await Deno.stat(`${config.out}.lock`).then(() => true, () => false), false);
    // Space freed, the same command resumes.
    const rec = recorder();
    await train(config, rec.log);
    assert.ok(rec.lines.some((l) => l.startsWith(`resuming ${config.out} after epoch 1`)));
  });
});
