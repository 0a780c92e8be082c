import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../src/backend/backend.ts";
import { initMasks } from "../../src/core/init.ts";
import { Rng } from "../../src/core/rng.ts";
import { paramSpecs } from "../../src/spec/config.ts";
import { toVariables } from "../../src/model/params.ts";
import { initParams } from "../../src/core/init.ts";
import { Optimizer } from "../../src/train/optimizer.ts";
import { DEFAULT_OPTIMIZER } from "../../src/spec/optimizer.ts";
import { SparseWeights } from "../../src/train/sparse_weights.ts";
import { trainStep } from "../../src/train/step.ts";
import { loadTask } from "../../src/train/tasks.ts";
import { TfjsModel } from "../../src/train/compute_masked.ts";
import { tinyLmConfig } from "../helpers.ts";

async function setUp(denseMomentum: boolean) {
  await useBackend("wasm");
  const task = await loadTask(tinyLmConfig("/nonexistent"));
  const rng = new Rng(3);
  const params = toVariables(initParams(task.model, rng));
  const specs = paramSpecs(task.model);
  const masks = initMasks(specs, { method: "uniform", target: { sparsity: 0.7 } }, rng);
  const sparse = new SparseWeights(masks, Object.fromEntries(specs.map((s) => [s.name, s.shape])));
  sparse.applyMasks(params);
  const optimizer = new Optimizer(DEFAULT_OPTIMIZER.sgd, params);
  const model = new TfjsModel(task);
  const ctx = {
    loss: model.loss.bind(model),
    params,
    optimizer,
    sparse,
    clipNorm: 1,
    denseMomentum,
  };
  const dispose = () => {
    tf.dispose(Object.values(params));
    optimizer.dispose();
    sparse.dispose();
    model.dispose();
  };
  return { ctx, masks, task, dispose };
}

Deno.test("a step lowers the loss, keeps masked weights at zero and masked momentum at zero", async () => {
  const { ctx, masks, task, dispose } = await setUp(false);
  try {
    const batch = task.batches(new Rng(1))[Symbol.iterator]().next().value!;
    const drop = { rate: 0, seed: 1 };
    const first = await trainStep(ctx, batch, drop, 0.5, false);
    let last = first.loss;
    for (let i = 0; i < 5; i++) last = (await trainStep(ctx, batch, drop, 0.5, false)).loss;
    assert.ok(Number.isFinite(first.loss) && last < first.loss, `${first.loss} -> ${last}`);
    assert.equal(first.gradients, undefined);
    for (const [name, mask] of masks) {
      const w = await ctx.params[name].data();
      const v = await ctx.optimizer.momentumSlot(name)!.data();
      for (let i = 0; i < mask.length; i++) {
        if (mask[i] === 0) {
          assert.ok(w[i] === 0, `${name}[${i}] weight ${w[i]}`); // W ⊙ M may leave -0
          assert.ok(v[i] === 0, `${name}[${i}] momentum ${v[i]}`);
        }
      }
    }
  } finally {
    dispose();
  }
});

Deno.test("dense momentum (SNFS) fills momentum at masked positions and returns kept gradients", async () => {
  const { ctx, masks, task, dispose } = await setUp(true);
  try {
    const batch = task.batches(new Rng(1))[Symbol.iterator]().next().value!;
    const { gradients } = await trainStep(ctx, batch, { rate: 0, seed: 1 }, 0.1, true);
    assert.ok(gradients);
    const [name, mask] = [...masks][0];
    const v = await ctx.optimizer.momentumSlot(name)!.data();
    const w = await ctx.params[name].data();
    let maskedMomentum = 0;
    for (let i = 0; i < mask.length; i++) {
      if (mask[i] === 0) {
        assert.ok(w[i] === 0);
        if (v[i] !== 0) maskedMomentum++;
      }
    }
    assert.ok(maskedMomentum > 0, "momentum is dense");
    assert.ok((await gradients[name].data()).some((g, i) => mask[i] === 0 && g !== 0));
    tf.dispose(Object.values(gradients));
  } finally {
    dispose();
  }
});
