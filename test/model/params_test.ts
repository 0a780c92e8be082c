import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../src/backend/backend.ts";
import { Rng } from "../../src/core/rng.ts";
import { paramSpecs, sizeOf } from "../../src/spec/config.ts";
import { toHost, toVariables } from "../../src/model/params.ts";
import { initParams } from "../../src/core/init.ts";
import { sameBits, SMALL_LM } from "../helpers.ts";

await useBackend("wasm");

Deno.test("initParams is deterministic by seed and differs across seeds", () => {
  const a = initParams(SMALL_LM, new Rng(42));
  const b = initParams(SMALL_LM, new Rng(42));
  const c = initParams(SMALL_LM, new Rng(43));
  for (const spec of paramSpecs(SMALL_LM)) {
    assert.ok(sameBits(a[spec.name].data, b[spec.name].data), spec.name);
    if (spec.role !== "bias") {
      assert.ok(!sameBits(a[spec.name].data, c[spec.name].data), `${spec.name} ignores the seed`);
    }
  }
});

Deno.test("initParams has every spec's shape, zero biases and the documented ranges", () => {
  const params = initParams(SMALL_LM, new Rng(1));
  const specs = paramSpecs(SMALL_LM);
  assert.deepEqual(Object.keys(params), specs.map((s) => s.name));
  const lstmScale = 1 / Math.sqrt(SMALL_LM.hiddenSize);
  for (const spec of specs) {
    const p = params[spec.name];
    assert.deepEqual(p.shape, spec.shape);
    assert.equal(p.data.length, sizeOf(spec.shape));
    if (spec.role === "bias") {
      assert.ok(p.data.every((v) => v === 0), `${spec.name} is not zero`);
      continue;
    }
    const scale = spec.role === "embedding" ? 0.1 : lstmScale;
    const max = p.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assert.ok(max <= scale, `${spec.name}: ${max} > ${scale}`);
    // Uniform, not squeezed: the largest draw comes near the bound.
    assert.ok(max > 0.8 * scale, `${spec.name}: ${max} is far below ${scale}`);
  }
});

Deno.test("toVariables and toHost round-trip parameters exactly", async () => {
  const params = initParams(SMALL_LM, new Rng(9));
  const vars = toVariables(params);
  try {
    for (const [name, v] of Object.entries(vars)) {
      assert.ok(v.trainable, name);
      assert.deepEqual(v.shape, params[name].shape);
    }
    const back = await toHost(vars);
    for (const [name, p] of Object.entries(params)) {
      assert.deepEqual(back[name].shape, p.shape);
      assert.ok(sameBits(back[name].data, p.data), name);
    }
  } finally {
    tf.dispose(Object.values(vars));
  }
});
