import assert from "node:assert/strict";
import { densityMethods } from "../../src/core/density.ts";
import { growersByName } from "../../src/core/grow.ts";
import {
  denseParamCount,
  methodNames,
  methodPreset,
  methodsByName,
  smallDenseHiddenSize,
} from "../../src/core/methods.ts";
import { prunersByName } from "../../src/core/prune.ts";
import { redistributorsByName } from "../../src/core/redistribute.ts";
import { Rng } from "../../src/core/rng.ts";
import { schedulesByName } from "../../src/core/schedule.ts";
import { UserError } from "../../src/spec/errors.ts";
import type { ModelConfig } from "../../src/spec/config.ts";

Deno.test("every preset names strategies that exist and fits its kind", () => {
  assert.deepEqual([...methodNames].sort(), [
    "dense",
    "gmp",
    "rigl",
    "set",
    "small-dense",
    "snfs",
    "strnn",
  ]);
  for (const name of methodNames) {
    const preset = methodsByName[name];
    assert.equal(preset.name, name);
    assert.ok(preset.description.length > 0);
    assert.ok(Object.hasOwn(redistributorsByName, preset.redistribute));
    if (preset.kind === "dynamic") {
      assert.ok(densityMethods.includes(preset.init!), name);
      assert.ok(Object.hasOwn(prunersByName, preset.prune!), name);
      assert.ok(Object.hasOwn(growersByName, preset.grow!), name);
      assert.ok(Object.hasOwn(schedulesByName, preset.schedule!), name);
      assert.ok(preset.initialPruneRate > 0 && preset.initialPruneRate <= 1);
    } else {
      assert.equal(preset.init, null, name);
      assert.equal(preset.grow, null, name);
    }
  }
});

Deno.test("presets follow their papers' recipes", () => {
  const { strnn, set, snfs, rigl, gmp } = methodsByName;
  assert.deepEqual(
    [strnn.init, strnn.prune, strnn.grow, strnn.schedule, strnn.redistribute],
    ["er", "magnitude", "random", "cosine", "none"],
  );
  assert.deepEqual([set.prune, set.grow, set.schedule], ["set", "random", "constant"]);
  assert.deepEqual([snfs.grow, snfs.redistribute], ["momentum", "momentum"]);
  assert.equal(snfs.needs.denseMomentumEveryStep, true);
  assert.equal(rigl.grow, "gradient");
  assert.equal(rigl.needs.denseGradientAtUpdate, true);
  assert.equal(strnn.needs.denseGradientAtUpdate || strnn.needs.denseMomentumEveryStep, false);
  assert.deepEqual([gmp.kind, gmp.prune, gmp.grow], ["gradual", "magnitude", null]);
});

Deno.test("methodPreset rejects unknown names as a user error", () => {
  assert.equal(methodPreset("rigl").name, "rigl");
  assert.throws(() => methodPreset("lottery"), UserError);
  assert.throws(() => methodPreset("toString"), UserError);
});

Deno.test("denseParamCount adds up every parameter", () => {
  const config: ModelConfig = {
    kind: "lm",
    cell: "lstm",
    vocabSize: 10,
    embedSize: 4,
    hiddenSize: 3,
    layers: 1,
    dropout: 0,
  };
  // 10·4 + 4·12 + 3·12 + 12 + 3·10 + 10.
  assert.equal(denseParamCount(config), 40 + 48 + 36 + 12 + 30 + 10);
});

Deno.test("smallDenseHiddenSize picks the hidden size closest to the target", () => {
  const rng = new Rng(91);
  for (let trial = 0; trial < 100; trial++) {
    const config: ModelConfig = {
      kind: rng.next() < 0.5 ? "lm" : "classifier",
      cell: "lstm",
      vocabSize: 10 + rng.int(500),
      embedSize: 1 + rng.int(64),
      hiddenSize: 1 + rng.int(300),
      layers: 1 + rng.int(3),
      numClasses: 2 + rng.int(5),
      dropout: 0,
    } as ModelConfig;
    const full = denseParamCount(config);
    const smallest = denseParamCount({ ...config, hiddenSize: 1 });
    const target = smallest + Math.floor(rng.next() * 2 * (full - smallest + 1));
    const hidden = smallDenseHiddenSize(config, target);
    const gap = (h: number) => Math.abs(denseParamCount({ ...config, hiddenSize: h }) - target);
    assert.ok(hidden >= 1);
    // Closest, and on a tie the smaller size.
    if (hidden > 1) assert.ok(gap(hidden) < gap(hidden - 1));
    assert.ok(gap(hidden) <= gap(hidden + 1));
    const exact = 1 + rng.int(200);
    assert.equal(
      smallDenseHiddenSize(config, denseParamCount({ ...config, hiddenSize: exact })),
      exact,
    );
  }
});

Deno.test("smallDenseHiddenSize rejects targets no model can meet", () => {
  const config: ModelConfig = {
    kind: "lm",
    cell: "lstm",
    vocabSize: 100,
    embedSize: 8,
    hiddenSize: 16,
    layers: 1,
    dropout: 0,
  };
  assert.throws(() => smallDenseHiddenSize(config, 10), UserError);
  assert.throws(() => smallDenseHiddenSize(config, 0), UserError);
});
