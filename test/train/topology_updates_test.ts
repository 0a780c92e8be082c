import assert from "node:assert/strict";
import { methodPreset } from "../../src/core/methods.ts";
import { sparseConfigFor } from "../../src/train/config.ts";
import { TopologyUpdates } from "../../src/train/topology_updates.ts";

Deno.test("per-epoch cadence: an update after every epoch but the last; none per step", () => {
  const plan = new TopologyUpdates(sparseConfigFor("strnn"), methodPreset("strnn"), 3, 10);
  assert.equal(plan.dueAfterEpoch(false), true);
  assert.equal(plan.dueAfterEpoch(true), false);
  assert.equal([...Array(30).keys()].some((s) => plan.dueAfterStep(s + 1)), false);
});

Deno.test("per-step cadence: every k steps before the end, and no per-epoch update", () => {
  const sparse = sparseConfigFor("rigl", { updateEvery: 4 });
  const plan = new TopologyUpdates(sparse, methodPreset("rigl"), 2, 10);
  const due = [...Array(20).keys()].map((s) => s + 1).filter((s) => plan.dueAfterStep(s));
  assert.deepEqual(due, [4, 8, 12, 16]);
  assert.equal(plan.dueAfterEpoch(false), false);
});

Deno.test("dense methods never update", () => {
  for (const name of ["dense", "small-dense"]) {
    const plan = new TopologyUpdates(
      sparseConfigFor(name, { updateEvery: 1 }),
      methodPreset(name),
      3,
      5,
    );
    assert.equal(plan.dueAfterEpoch(false), false);
    assert.equal(plan.dueAfterStep(1), false);
  }
});

Deno.test("gmp reaches its final sparsity when the last epoch starts", () => {
  const plan = new TopologyUpdates(
    sparseConfigFor("gmp", { sparsity: 0.9 }),
    methodPreset("gmp"),
    4,
    25,
  );
  assert.deepEqual(plan.gmpSchedule, {
    initialSparsity: 0,
    finalSparsity: 0.9,
    startStep: 0,
    endStep: 75,
  });
  const single = new TopologyUpdates(sparseConfigFor("gmp"), methodPreset("gmp"), 1, 100);
  assert.equal(single.gmpSchedule.endStep, 75);
});
