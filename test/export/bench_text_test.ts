import assert from "node:assert/strict";
import { describeMachine, latencyVerdict, measureMachine } from "../../bench/export.ts";

Deno.test("the export bench's latency conclusion follows the numbers", () => {
  const text = latencyVerdict([1.5, 1.01], [1.05, 0.97]);
  assert.match(text, /B=1 1\.50x is outside the spread of dense measured twice \(1\.05x\)/);
  assert.match(text, /B=16 1\.01x is within the spread of dense measured twice \(0\.97x\)/);
  assert.doesNotMatch(text, /measurement noise/);
  assert.match(latencyVerdict([NaN, 1], [1, 1]), /B=1: not measured/);
});

Deno.test("the export bench describes the machine it measured, not a fixed one", async () => {
  const info = await measureMachine();
  assert.equal(info.logicalCpus, navigator.hardwareConcurrency);
  assert.equal(info.osRelease, Deno.osRelease());
  const text = describeMachine(info);
  assert.ok(text.includes(`${navigator.hardwareConcurrency} logical CPUs`), text);
  assert.ok(text.includes(Deno.osRelease()), text);
  assert.doesNotMatch(text, /2-core/);
  const bare = describeMachine({ ...info, cpu: undefined, memoryBytes: undefined });
  assert.match(bare, /^CPU model not readable, /);
  assert.doesNotMatch(bare, /GiB/);
});
