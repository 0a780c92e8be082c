/**
 * `--backend auto` with faked adapters: the real one here is lavapipe or
 * none, and a test must not depend on which machine runs it.
 */

import assert from "node:assert/strict";
import { type AdapterFacts, chooseBackend, isSoftwareAdapter } from "../../src/backend/auto.ts";
import { configFromFlags, trainCommand } from "../../cli/train.ts";

/** What Deno reports for Mesa's lavapipe (read on this project's machines). */
const LAVAPIPE: AdapterFacts = {
  vendor: "65541",
  architecture: "",
  device: "0",
  description: "llvmpipe (LLVM 15.0.6, 256 bits)",
  isFallbackAdapter: true,
};

const NVIDIA: AdapterFacts = {
  vendor: "4318",
  architecture: "",
  device: "8998",
  description: "NVIDIA H200",
  isFallbackAdapter: false,
};

Deno.test("a software adapter is told apart from a GPU", () => {
  assert.equal(isSoftwareAdapter(LAVAPIPE), true);
  assert.equal(isSoftwareAdapter(NVIDIA), false);
  // By name too, for a driver that does not set isFallbackAdapter.
  assert.equal(isSoftwareAdapter({ ...LAVAPIPE, isFallbackAdapter: false }), true);
  assert.equal(
    isSoftwareAdapter({ ...NVIDIA, description: "SwiftShader Device (Subzero)" }),
    true,
  );
});

Deno.test("auto trains on webgpu with a GPU and on the CPU engine otherwise, and says why", () => {
  const gpu = chooseBackend(NVIDIA);
  assert.equal(gpu.backend, "webgpu");
  assert.equal(gpu.compute, "masked");
  assert.match(gpu.reason, /GPU adapter "NVIDIA H200"/);

  const software = chooseBackend(LAVAPIPE);
  assert.deepEqual([software.backend, software.compute], ["wasm", "sparse"]);
  assert.match(software.reason, /software adapter "llvmpipe/);
  assert.match(software.reason, /slower than the CPU/);

  const none = chooseBackend(null);
  assert.deepEqual([none.backend, none.compute], ["wasm", "sparse"]);
  assert.match(none.reason, /no WebGPU adapter/);
  for (const choice of [gpu, software, none]) assert.ok(!choice.reason.includes("\n"));
});

Deno.test("auto keeps an explicit --compute", () => {
  // The CPU engine is the CPU engine, GPU or not.
  const sparse = chooseBackend(NVIDIA, "sparse");
  assert.deepEqual([sparse.backend, sparse.compute], ["wasm", "sparse"]);
  assert.match(sparse.reason, /--compute sparse runs on the CPU/);
  // Masked without a GPU is tfjs on wasm.
  const masked = chooseBackend(LAVAPIPE, "masked");
  assert.deepEqual([masked.backend, masked.compute], ["wasm", "masked"]);
  assert.deepEqual(
    [chooseBackend(NVIDIA, "masked").backend, chooseBackend(NVIDIA, "masked").compute],
    ["webgpu", "masked"],
  );
});

Deno.test("train's flags: auto is the default and follows the adapter; a named backend does not", () => {
  const parse = (args: string[]) => trainCommand().parse(args, { from: "user" }).opts();
  const flags = parse([]);
  assert.equal(flags.backend, "auto");
  const onGpu = configFromFlags(flags, undefined, NVIDIA);
  assert.deepEqual([onGpu.backend, onGpu.compute], ["webgpu", "masked"]);
  const onLavapipe = configFromFlags(flags, undefined, LAVAPIPE);
  assert.deepEqual([onLavapipe.backend, onLavapipe.compute], ["wasm", "sparse"]);
  const named = configFromFlags(parse(["--backend", "webgpu"]), undefined, LAVAPIPE);
  assert.deepEqual([named.backend, named.compute], ["webgpu", "masked"]);
  const wasm = configFromFlags(parse(["--backend", "wasm"]), undefined, NVIDIA);
  assert.deepEqual([wasm.backend, wasm.compute], ["wasm", "sparse"]);
});
