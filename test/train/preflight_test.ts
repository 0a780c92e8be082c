import assert from "node:assert/strict";
import { UserError } from "../../src/spec/errors.ts";
import {
  allocationFailure,
  checkEpsilon,
  checkMemory,
  trainingMemory,
} from "../../src/train/preflight.ts";
import { train } from "../../src/train/train.ts";
import { SMALL_LM, tinyLmConfig, withTempDir } from "../helpers.ts";

const GIB = 2 ** 30;

Deno.test("an --epsilon that makes every sparse matrix dense is refused, naming the bound", async () => {
  // SMALL_LM's gate matrices are [6 or 5, 5] per gate: [6, 5] keeps round(11ε) of 30 entries,
  // so it is dense from ε = 29.5/11 = 2.68 on, and the [5, 5] ones from 2.45.
  const config = tinyLmConfig("x.sparrow", { sparse: { epsilon: 2.8, init: "er" } });
  assert.throws(
    () => checkEpsilon(config, SMALL_LM),
    (err: Error) =>
      err instanceof UserError &&
      err.message.startsWith("--epsilon 2.8 makes every sparse matrix dense") &&
      err.message.includes("pass an --epsilon below 2.68,"),
  );
  // Below the largest bound one matrix at least stays sparse.
  checkEpsilon({ ...config, sparse: { ...config.sparse, epsilon: 2.67 } }, SMALL_LM);
  checkEpsilon({ ...config, sparse: { ...config.sparse, epsilon: undefined } }, SMALL_LM);

  // And train() refuses it before the first epoch.
  await withTempDir(async (dir) => {
    const lines: string[] = [];
    const dense = tinyLmConfig(`${dir}/c.sparrow`, { sparse: { epsilon: 100, init: "er" } });
    await assert.rejects(() => train(dense, (l) => lines.push(l)), /--epsilon 100 makes every/);
    assert.deepEqual(lines, []);
  });
});

Deno.test("a model too large for the wasm heap or the machine is refused up front", async () => {
  const config = tinyLmConfig("x.sparrow", { model: { ...SMALL_LM, hiddenSize: 100_000 } });
  const model = { ...SMALL_LM, hiddenSize: 100_000 };
  assert.throws(
    () => checkMemory(config, model, 1024 * GIB),
    /--hidden-size 100000 and --embed-size 6 give a model of .* more than the WebAssembly heap's 4\.0 GiB/,
  );
  assert.throws(
    () => checkMemory({ ...config, compute: "masked", backend: "webgpu" }, model, 64 * GIB),
    /more than this machine's 64\.0 GiB of memory; pass a smaller --hidden-size/,
  );
  // Adam keeps two slots per weight, plain SGD none.
  const adam = trainingMemory(config, SMALL_LM);
  const sgd = trainingMemory(
    { ...config, optimizer: { ...config.optimizer, name: "sgd", momentum: 0 } },
    SMALL_LM,
  );
  assert.equal(adam.backendBytes - sgd.backendBytes, 2 * 4 * adam.parameters);
  checkMemory(config, SMALL_LM, 1 * GIB);

  await withTempDir(async (dir) => {
    const huge = tinyLmConfig(`${dir}/c.sparrow`, {
      model: { cell: "lstm", embedSize: 8, hiddenSize: 100_000, layers: 2, dropout: 0 },
    });
    await assert.rejects(() => train(huge, () => {}), /--hidden-size 100000 .* needs about/);
  });
});

Deno.test("an allocation that fails anyway becomes one line; other errors stay as they are", () => {
  const config = tinyLmConfig("x.sparrow");
  for (
    const err of [
      new RangeError("Array buffer allocation failed"),
      new RangeError("Invalid typed array length: 400000000000"),
      new Error("Aborted(Cannot enlarge memory arrays to size 4294967296 bytes)"),
    ]
  ) {
    const line = allocationFailure(err, config);
    assert.ok(line instanceof UserError, err.message);
    assert.match(line.message, /^out of memory while training .* pass smaller values$/);
    assert.ok(!line.message.includes("\n"));
  }
  assert.equal(allocationFailure(new TypeError("x is undefined"), config), undefined);
  assert.equal(allocationFailure(new UserError("room for more"), config), undefined);
});
