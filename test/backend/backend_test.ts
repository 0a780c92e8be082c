/**
 * Backend selection. This file switches tfjs's global backend (to webgpu
 * among others), so it stays separate from other tests and ends on wasm.
 */

import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { type BackendName, BACKENDS, useBackend } from "../../src/backend/backend.ts";
import { UserError } from "../../src/spec/errors.ts";
import { lmGradients, maxRelDiff } from "../helpers.ts";

async function installed(pkg: string): Promise<boolean> {
  try {
    await Deno.stat(new URL(`../../node_modules/${pkg}/package.json`, import.meta.url));
    return true;
  } catch {
    return false;
  }
}

Deno.test("an unknown backend is a UserError listing the valid ones", async () => {
  await assert.rejects(
    () => useBackend("bogus" as BackendName),
    (err: unknown) =>
      err instanceof UserError && err.message.includes('"bogus"') &&
      BACKENDS.every((b) => err.message.includes(b)),
  );
});

Deno.test("tensorflow without tfjs-node installed says how to install it", async () => {
  // The point of this test is the not-installed case; it is the case here
  // because tfjs-node is deliberately not a dependency (see deno.json).
  assert.equal(await installed("@tensorflow/tfjs-node"), false);
  assert.equal(await installed("@tensorflow/tfjs-node-gpu"), false);
  await assert.rejects(
    () => useBackend("tensorflow"),
    (err: unknown) =>
      err instanceof UserError && err.message.includes("--backend tensorflow") &&
      err.message.includes("deno add npm:@tensorflow/tfjs-node") &&
      err.message.includes("--backend wasm") && !err.message.includes("\n"),
  );
  // The failed switch leaves a working backend behind.
  await useBackend("wasm");
  assert.equal(tf.getBackend(), "wasm");
});

Deno.test("wasm and cpu start and report their names", async () => {
  for (const name of ["cpu", "wasm"] as const) {
    await useBackend(name);
    assert.equal(tf.getBackend(), name);
    assert.deepEqual(Array.from(await tf.add(tf.tensor1d([1, 2]), 1).data()), [2, 3]);
  }
});

Deno.test("an LM gradient on webgpu (lavapipe without a GPU) matches wasm to 2e-3 relative", async () => {
  await useBackend("wasm");
  const wasm = await lmGradients();
  await useBackend("webgpu");
  assert.equal(tf.getBackend(), "webgpu");
  try {
    const gpu = await lmGradients();
    assert.ok(Math.abs(gpu.loss - wasm.loss) <= 2e-3 * Math.abs(wasm.loss));
    for (const [name, g] of Object.entries(wasm.grads)) {
      const diff = maxRelDiff(gpu.grads[name], g);
      assert.ok(diff <= 2e-3, `${name}: webgpu differs from wasm by ${diff}`);
    }
  } finally {
    await useBackend("wasm");
  }
  assert.equal(tf.getBackend(), "wasm");
});
