/**
 * RHN training end to end on the fixtures: every sparse method keeps exact
 * nonzero counts through prune and regrow, with every micro-layer's `R` and
 * the input `W` as sparse layers, and the two compute paths (the engine on
 * one and on three threads, tfjs masked) give the same run.
 */
import assert from "node:assert/strict";
import { allocateNonzeros, sparseParams } from "../../src/core/density.ts";
import { countActive } from "../../src/core/mask.ts";
import type { MethodName } from "../../src/core/methods.ts";
import { paramSpecs } from "../../src/spec/config.ts";
import { DEFAULT_OPTIMIZER } from "../../src/spec/optimizer.ts";
import { train } from "../../src/train/train.ts";
import { tinyClassifierConfig, tinyLmConfig, withTempDir } from "../helpers.ts";
import { assertSameRun } from "./same_run.ts";

const RHN_LM = { cell: "rhn" as const, depth: 3, embedSize: 8, hiddenSize: 8, layers: 2 };

Deno.test("RHN LM: every sparse method keeps exact nonzero counts through prune and regrow", async () => {
  await withTempDir(async (dir) => {
    for (const method of ["strnn", "set", "rigl", "snfs", "gmp"] as MethodName[]) {
      const config = tinyLmConfig(`${dir}/${method}.sparrow`, {
        method,
        maxSteps: 3,
        model: { ...RHN_LM, dropout: 0.2 },
        sparse: { updateEvery: 1 },
      });
      const { checkpoint, metrics } = await train(config, () => {});
      const model = checkpoint.meta.model;
      assert.ok(Number.isFinite(metrics.test_ppl), method);
      const gates = paramSpecs(model).filter((s) => s.role === "gate").map((s) => s.name);
      assert.deepEqual(Object.keys(checkpoint.masks).sort(), gates.sort(), method);
      assert.equal(gates.length, 2 * (1 + 3));
      const allocation = allocateNonzeros(
        sparseParams(paramSpecs(model), config.sparse),
        { sparsity: config.sparse.sparsity },
        config.sparse.init,
      );
      const total = (counts: number[]) => counts.reduce((a, b) => a + b, 0);
      if (method === "snfs") {
        // Momentum redistribution moves nonzeros across layers; the total stays.
        assert.equal(
          total(Object.values(checkpoint.masks).map(countActive)),
          total(allocation.map((a) => a.nonzeros)),
        );
      }
      for (const { name, nonzeros, size } of allocation) {
        const mask = checkpoint.masks[name];
        const want = method === "gmp" ? Math.round(0.5 * size) : nonzeros;
        if (method !== "snfs") assert.equal(countActive(mask), want, `${method} ${name}`);
        mask.forEach((m, i) => {
          if (m === 0) assert.ok(checkpoint.params[name].data[i] === 0, `${method} ${name}[${i}]`);
        });
      }
      assert.equal(checkpoint.meta.progress.topologyUpdates, 5, method);
    }
  });
});

for (const kind of ["lm", "classifier"] as const) {
  Deno.test(`RHN ${kind}: sparse and masked compute give the same run`, async () => {
    await withTempDir(async (dir) => {
      for (const method of ["strnn", "rigl"] as MethodName[]) {
        const run = (compute: "sparse" | "masked", threads = 1) => {
          const out = `${dir}/${kind}-${method}-${compute}-${threads}.sparrow`;
          const overrides = {
            method,
            compute,
            threads,
            maxSteps: 3,
            clipNorm: 0.5,
            // SGD (the paper's optimizer for the RHN): Adam's step on a gradient near zero
            // is ±lr whatever its float32 noise, which would hide the comparison.
            optimizer: DEFAULT_OPTIMIZER.sgd,
            learningRate: 0.5,
            model: {
              ...RHN_LM,
              layers: kind === "lm" ? 2 : 1,
              depth: 2,
              dropout: 0.2,
              // The LM also drops variationally at all four sites.
              ...(kind === "lm"
                ? { variational: { embedding: 0.2, input: 0.3, hidden: 0.25, output: 0.3 } }
                : {}),
            },
            sparse: { updateEvery: 2 },
          };
          return train(
            kind === "lm" ? tinyLmConfig(out, overrides) : tinyClassifierConfig(out, overrides),
            () => {},
          );
        };
        const masked = await run("masked");
        assertSameRun(await run("sparse"), masked, `${kind} ${method}`);
        assertSameRun(await run("sparse", 3), masked, `${kind} ${method} on 3 threads`);
      }
    });
  });
}
