/**
 * The two compute paths train the same model: for one seed, `sparse` (the
 * CPU engine, on one thread and on three, which split the batch of 4
 * unevenly) and `masked` (tfjs, W ⊙ M) give the same losses, the same
 * topology and the same weights over a short run, for every method and both
 * model kinds, with dropout, clipping and per-step topology updates.
 */
import assert from "node:assert/strict";
import { methodNames } from "../../src/core/methods.ts";
import { train } from "../../src/train/train.ts";
import { tinyClassifierConfig, tinyLmConfig, withTempDir } from "../helpers.ts";
import { assertSameRun } from "./same_run.ts";

for (const kind of ["lm", "classifier"] as const) {
  Deno.test(`sparse and masked compute give the same ${kind} run for every method`, async () => {
    await withTempDir(async (dir) => {
      for (const method of methodNames) {
        const run = (compute: "sparse" | "masked", threads = 1) => {
          const overrides = {
            method,
            compute,
            threads,
            epochs: 2,
            maxSteps: 4,
            clipNorm: 0.5,
            model: {
              cell: "lstm" as const,
              embedSize: 8,
              hiddenSize: 8,
              layers: kind === "lm" ? 2 : 1,
              dropout: 0.2,
            },
            sparse: { updateEvery: 3 },
          };
          const out = `${dir}/${kind}-${method}-${compute}-${threads}.sparrow`;
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

Deno.test("a run interrupted on one compute path resumes on the other", async () => {
  await withTempDir(async (dir) => {
    const config = (compute: "sparse" | "masked", out: string) =>
      tinyLmConfig(`${dir}/${out}.sparrow`, {
        compute,
        epochs: 3,
        maxSteps: 3,
        model: { cell: "lstm" as const, embedSize: 8, hiddenSize: 8, layers: 2, dropout: 0.2 },
      });
    const straight = await train(config("masked", "straight"), () => {});
    // Each leg stops (as if killed) right after writing its first checkpoint.
    const oneEpoch = (compute: "sparse" | "masked") =>
      assert.rejects(
        () =>
          train(config(compute, "switched"), (line) => {
            if (line.startsWith("checkpoint written")) throw new Error("interrupted");
          }),
        /interrupted/,
      );
    await oneEpoch("sparse");
    await oneEpoch("masked");
    const switched = await train(config("sparse", "switched"), () => {});
    assertSameRun(switched, straight, "sparse → masked → sparse");
  });
});
