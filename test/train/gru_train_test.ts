/**
 * The GRU cell trains end to end with every sparse method on both tasks:
 * prune and regrow keep each matrix's exact nonzero count (the total, for
 * SNFS's redistribution), gmp ends at its target, masked weights stay zero,
 * and the two compute paths (engine and tfjs) give the same run.
 */
import assert from "node:assert/strict";
import { allocateNonzeros, sparseParams } from "../../src/core/density.ts";
import { countActive } from "../../src/core/mask.ts";
import type { MethodName } from "../../src/core/methods.ts";
import { paramSpecs, sizeOf } from "../../src/spec/config.ts";
import { type Checkpoint, decodeCheckpoint } from "../../src/spec/checkpoint.ts";
import type { TrainConfig } from "../../src/train/config.ts";
import { train } from "../../src/train/train.ts";
import { tinyClassifierConfig, tinyLmConfig, type TinyOverrides, withTempDir } from "../helpers.ts";
import { assertSameRun } from "./same_run.ts";

const METHODS: MethodName[] = ["strnn", "set", "rigl", "snfs", "gmp"];

function gruConfig(kind: "lm" | "classifier", out: string, overrides: TinyOverrides): TrainConfig {
  const model = {
    cell: "gru" as const,
    embedSize: 8,
    hiddenSize: 8,
    layers: kind === "lm" ? 2 : 1,
    dropout: 0.2,
  };
  return kind === "lm"
    ? tinyLmConfig(out, { model, ...overrides })
    : tinyClassifierConfig(out, { model, ...overrides });
}

/** Trains and decodes every checkpoint as it is written. */
async function trainRecorded(config: TrainConfig) {
  const checkpoints: Checkpoint[] = [];
  const result = await train(config, (line) => {
    const written = /^checkpoint written to (.+)$/.exec(line);
    if (written) checkpoints.push(decodeCheckpoint(Deno.readFileSync(written[1]), written[1]));
  });
  return { result, checkpoints };
}

for (const kind of ["lm", "classifier"] as const) {
  Deno.test(`gru ${kind}: every method keeps exact nonzero counts through prune and regrow`, async () => {
    await withTempDir(async (dir) => {
      for (const method of METHODS) {
        const config = gruConfig(kind, `${dir}/${kind}-${method}.sparrow`, { method, epochs: 3 });
        const { result, checkpoints } = await trainRecorded(config);
        const where = `${kind} ${method}`;
        const model = result.checkpoint.meta.model;
        assert.equal(model.cell, "gru", where);
        assert.ok(Number.isFinite(result.metrics.train_loss), where);
        const specs = sparseParams(paramSpecs(model), config.sparse);
        // The GRU's matrices are the sparse ones, with 3 gates each; the biases stay dense.
        assert.deepEqual(
          specs.map((s) => s.name).filter((n) => n.startsWith("gru.")),
          Array.from({ length: model.layers }, (_, l) => [`gru.${l}.W`, `gru.${l}.R`]).flat(),
        );
        assert.equal(checkpoints.length, 3, where);
        const counts = method === "gmp"
          ? Object.fromEntries(specs.map((s) => [s.name, Math.round(0.5 * sizeOf(s.shape))]))
          : Object.fromEntries(
            allocateNonzeros(specs, { sparsity: config.sparse.sparsity }, config.sparse.init)
              .map((a) => [a.name, a.nonzeros]),
          );
        const redistributed = config.sparse.redistribution !== "none";
        // gmp prunes gradually: only its last checkpoint must be at the target.
        for (const [e, ckpt] of checkpoints.entries()) {
          if (method === "gmp" && e < checkpoints.length - 1) continue;
          const at = `${where} epoch ${e + 1}`;
          assert.deepEqual(Object.keys(ckpt.masks).sort(), Object.keys(counts).sort(), at);
          let total = 0, want = 0;
          for (const [name, mask] of Object.entries(ckpt.masks)) {
            const active = countActive(mask);
            total += active;
            want += counts[name];
            if (!redistributed) assert.equal(active, counts[name], `${at}: ${name}`);
            const w = ckpt.params[name].data;
            mask.forEach((m, i) => m === 0 && assert.ok(w[i] === 0, `${at}: masked ${name}[${i}]`));
          }
          assert.equal(total, want, `${at}: total nonzeros`);
        }
        if (method !== "gmp") {
          // Connections moved: as many grown as pruned in each matrix (all of them, with SNFS).
          const [first, second] = checkpoints;
          let moved = 0;
          for (const [name, after] of Object.entries(second.masks)) {
            let grown = 0, pruned = 0;
            after.forEach((m, i) => {
              if (m === 1 && first.masks[name][i] === 0) grown++;
              if (m === 0 && first.masks[name][i] === 1) pruned++;
            });
            if (!redistributed) assert.equal(grown, pruned, `${where}: ${name}`);
            moved += grown;
          }
          assert.ok(moved > 0, `${where}: the topology did not change`);
        }
      }
    });
  });

  Deno.test(`gru ${kind}: sparse and masked compute give the same run for every method`, async () => {
    await withTempDir(async (dir) => {
      for (const method of METHODS) {
        const run = (compute: "sparse" | "masked") =>
          train(
            gruConfig(kind, `${dir}/${kind}-${method}-${compute}.sparrow`, {
              method,
              compute,
              epochs: 2,
              maxSteps: 3,
              clipNorm: 0.5,
              sparse: { updateEvery: 2 },
            }),
            () => {},
          );
        assertSameRun(await run("sparse"), await run("masked"), `${kind} ${method}`);
      }
    });
  });
}

Deno.test("gru lm with tied weights and variational dropout: both compute paths give the same run", async () => {
  await withTempDir(async (dir) => {
    const run = (compute: "sparse" | "masked", threads = 1) =>
      train(
        gruConfig("lm", `${dir}/${compute}-${threads}.sparrow`, {
          method: "rigl",
          compute,
          threads,
          epochs: 2,
          maxSteps: 3,
          clipNorm: 0.5,
          model: {
            cell: "gru",
            embedSize: 8,
            hiddenSize: 8,
            layers: 2,
            dropout: 0.2,
            tieWeights: true,
            // --dropout-hidden is the RHN's alone; the other three sites hold for every cell.
            variational: { embedding: 0.2, input: 0.3, hidden: 0, output: 0.3 },
          },
          sparse: { updateEvery: 2, sparseEmbedding: true },
        }),
        () => {},
      );
    const masked = await run("masked");
    assert.ok(!("decoder.W" in masked.checkpoint.params));
    assertSameRun(await run("sparse"), masked, "tied gru");
    assertSameRun(await run("sparse", 3), masked, "tied gru on 3 threads");
  });
});
