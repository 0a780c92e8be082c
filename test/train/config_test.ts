import assert from "node:assert/strict";
import { methodNames, methodsByName } from "../../src/core/methods.ts";
import { UserError } from "../../src/spec/errors.ts";
import {
  DEFAULT_CLASSIFIER_CONFIG,
  DEFAULT_LM_CONFIG,
  DEFAULT_SPARSE,
  sparseConfigFor,
  sparseNeeds,
  type TrainConfig,
  validateConfig,
} from "../../src/train/config.ts";

/** `DEFAULT_LM_CONFIG` with one change applied. */
function withChange(change: (c: TrainConfig) => void, base = DEFAULT_LM_CONFIG): TrainConfig {
  const config = structuredClone(base);
  change(config);
  return config;
}

function assertInvalid(config: TrainConfig, message: RegExp): void {
  assert.throws(() => validateConfig(config), (err: unknown) => {
    assert.ok(err instanceof UserError, `not a UserError: ${err}`);
    assert.match(err.message, message);
    assert.ok(!err.message.includes("\n"), "one line");
    return true;
  });
}

Deno.test("the default configs are valid", () => {
  validateConfig(DEFAULT_LM_CONFIG);
  validateConfig(DEFAULT_CLASSIFIER_CONFIG);
  for (const method of methodNames) {
    validateConfig({ ...DEFAULT_LM_CONFIG, sparse: sparseConfigFor(method) });
  }
});

Deno.test("sparsity must be in [0, 1): the message names the flag, the value and a fix", () => {
  for (const sparsity of [1, 1.5, -0.1, NaN, Infinity]) {
    assertInvalid(
      withChange((c) => (c.sparse = { ...c.sparse, sparsity })),
      new RegExp(`--sparsity must be in \\[0, 1\\), got ${sparsity}; e\\.g\\. --sparsity 0\\.9`),
    );
  }
  for (const sparsity of [0, 0.5, 0.999]) {
    validateConfig(withChange((c) => (c.sparse = { ...c.sparse, sparsity })));
  }
});

Deno.test("every other bad setting is named with its flag", () => {
  const cases: [(c: TrainConfig) => void, RegExp][] = [
    [(c) => (c.sparse.epsilon = 0), /--epsilon must be positive, got 0/],
    [(c) => (c.sparse.epsilon = -3), /--epsilon/],
    [(c) => (c.sparse.pruneRate = 1.2), /--prune-rate must be in \[0, 1\], got 1\.2/],
    [(c) => (c.sparse.pruneRate = -0.5), /--prune-rate/],
    [(c) => (c.sparse.updateEvery = -1), /--update-every/],
    [(c) => (c.sparse.updateEvery = 2.5), /--update-every/],
    [(c) => (c.model.embedSize = 0), /--embed-size must be a positive whole number, got 0/],
    [(c) => (c.model.hiddenSize = 3.5), /--hidden-size/],
    [(c) => (c.model.layers = 0), /--layers/],
    [(c) => (c.model.dropout = 1), /--dropout must be in \[0, 1\), got 1/],
    [(c) => (c.epochs = 0), /--epochs/],
    [(c) => (c.batchSize = -4), /--batch-size/],
    [(c) => (c.bptt = 0), /--bptt/],
    [(c) => (c.learningRate = 0), /--lr must be positive/],
    [(c) => (c.lrDecay = 1.5), /--lr-decay must be in \(0, 1\]/],
    [(c) => (c.lrDecay = 0), /--lr-decay/],
    [(c) => (c.seed = 0.5), /--seed must be a whole number/],
  ];
  for (const [change, message] of cases) assertInvalid(withChange(change), message);
  // Classifier-specific rules.
  assertInvalid(
    withChange((c) => (c.model.layers = 2), DEFAULT_CLASSIFIER_CONFIG),
    /classifier has exactly one LSTM layer/,
  );
  assertInvalid(withChange((c) => (c.maxLength = 0), DEFAULT_CLASSIFIER_CONFIG), /--max-length/);
  // bptt matters only for the LM, max length only for the classifier.
  validateConfig(withChange((c) => (c.bptt = 0), DEFAULT_CLASSIFIER_CONFIG));
  validateConfig(withChange((c) => (c.maxLength = 0)));
});

Deno.test("sparseConfigFor fills each method's preset", () => {
  for (const method of methodNames) {
    const preset = methodsByName[method];
    const config = sparseConfigFor(method);
    assert.equal(config.method, method);
    assert.equal(config.pruneRate, preset.initialPruneRate);
    assert.equal(config.redistribution, preset.redistribute);
    if (preset.init) assert.equal(config.init, preset.init);
    if (preset.prune) assert.equal(config.prune, preset.prune);
    if (preset.grow) assert.equal(config.grow, preset.grow);
    if (preset.schedule) assert.equal(config.schedule, preset.schedule);
    assert.equal(config.sparsity, 0.8);
    assert.equal(config.updateEvery, 0);
    assert.equal(config.sparseEmbedding, false);
    assert.equal(config.sparseDecoder, false);
    assert.equal(config.epsilon, undefined);
  }
  // The paper's method and its peers, spelled out.
  assert.deepEqual(
    [sparseConfigFor("strnn")].map((c) => [c.init, c.prune, c.grow, c.schedule, c.pruneRate]),
    [["er", "magnitude", "random", "cosine", 0.5]],
  );
  assert.equal(sparseConfigFor("set").prune, "set");
  assert.equal(sparseConfigFor("set").schedule, "constant");
  assert.equal(sparseConfigFor("snfs").grow, "momentum");
  assert.equal(sparseConfigFor("snfs").redistribution, "momentum");
  assert.equal(sparseConfigFor("rigl").grow, "gradient");
  assert.equal(sparseConfigFor("rigl").init, "erk");
  assert.deepEqual(DEFAULT_SPARSE, sparseConfigFor("strnn"));
});

Deno.test("sparseConfigFor applies overrides but ignores undefined ones", () => {
  const config = sparseConfigFor("rigl", {
    sparsity: 0.95,
    grow: "random",
    updateEvery: 100,
    sparseEmbedding: true,
    epsilon: undefined,
    schedule: undefined,
  });
  assert.equal(config.sparsity, 0.95);
  assert.equal(config.grow, "random");
  assert.equal(config.updateEvery, 100);
  assert.equal(config.sparseEmbedding, true);
  assert.equal(config.schedule, "cosine");
  assert.ok(!("epsilon" in config) || config.epsilon === undefined);
  assert.equal(sparseConfigFor("strnn", { epsilon: 10 }).epsilon, 10);
});

Deno.test("an unknown method is a UserError listing the methods", () => {
  assert.throws(
    () => sparseConfigFor("lottery"),
    (err: unknown) =>
      err instanceof UserError && err.message.includes('"lottery"') &&
      methodNames.every((m) => err.message.includes(m)),
  );
});

Deno.test("dense needs follow the strategies in use, not only the method's name", () => {
  const grow = (method: string, overrides = {}) =>
    sparseNeeds({ ...DEFAULT_LM_CONFIG, sparse: sparseConfigFor(method, overrides) });
  assert.deepEqual(grow("strnn"), { denseGradientAtUpdate: false, denseMomentumEveryStep: false });
  assert.deepEqual(grow("strnn", { grow: "gradient" }), {
    denseGradientAtUpdate: true,
    denseMomentumEveryStep: false,
  });
  assert.equal(grow("strnn", { redistribution: "momentum" }).denseMomentumEveryStep, true);
  assert.deepEqual(grow("snfs"), { denseGradientAtUpdate: false, denseMomentumEveryStep: true });
  assert.deepEqual(grow("dense", { grow: "gradient" }), {
    denseGradientAtUpdate: false,
    denseMomentumEveryStep: false,
  });
});

Deno.test("epsilon and momentum combinations that cannot work are refused", () => {
  assertInvalid(
    withChange((c) => (c.sparse = sparseConfigFor("gmp", { epsilon: 10 }))),
    /--epsilon .*gmp.*--sparsity/,
  );
  assertInvalid(
    withChange((c) => (c.sparse = sparseConfigFor("strnn", { epsilon: 10, init: "uniform" }))),
    /--epsilon .*--init er or erk/,
  );
  assertInvalid(
    withChange((c) => {
      c.sparse = sparseConfigFor("snfs");
      c.optimizer = { ...c.optimizer, name: "sgd", momentum: 0 };
    }),
    /momentum .*--optimizer adam or --momentum > 0/,
  );
  validateConfig(
    withChange((c) => (c.sparse = sparseConfigFor("strnn", { epsilon: 10, init: "erk" }))),
  );
});

Deno.test("the compute path and its threads are checked; webgpu needs the masked path", () => {
  assert.equal(DEFAULT_LM_CONFIG.compute, "sparse");
  assertInvalid(
    withChange((c) => (c.compute = "gpu" as TrainConfig["compute"])),
    /--compute must be one of sparse, masked, got gpu/,
  );
  for (const threads of [-1, 1.5]) {
    assertInvalid(withChange((c) => (c.threads = threads)), /--threads must be 0 \(one per core\)/);
  }
  assertInvalid(
    withChange((c) => (c.backend = "webgpu")),
    /--compute sparse runs on the CPU; use --compute masked with --backend webgpu/,
  );
  validateConfig(withChange((c) => (c.backend = "webgpu", c.compute = "masked")));
  validateConfig(withChange((c) => (c.threads = 3)));
});
