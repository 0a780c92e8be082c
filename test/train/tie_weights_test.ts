/**
 * `--tie-weights`: the LM decoder is the embedding's transpose. No
 * `decoder.W` exists; a sparse embedding's one mask serves both uses and
 * keeps its exact nonzero count; both compute paths give the same run; the
 * export matches the reference; bad combinations are refused in one line.
 */
import assert from "node:assert/strict";
import { countActive } from "../../src/core/mask.ts";
import { allocateNonzeros, sparseParams } from "../../src/core/density.ts";
import { inferenceFlops } from "../../src/core/flops.ts";
import { type LanguageModelConfig, paramSpecs } from "../../src/spec/config.ts";
import { DEFAULT_OPTIMIZER } from "../../src/spec/optimizer.ts";
import { validateConfig } from "../../src/train/config.ts";
import { train } from "../../src/train/train.ts";
import { buildOnnx } from "../../export/onnx_model.ts";
import { checkParity, PARITY_TOLERANCE } from "../../export/parity.ts";
import { maxAbsDiff, tinyClassifierConfig, tinyLmConfig, withTempDir } from "../helpers.ts";
import { randomWeights } from "../export/helpers.ts";

const TIED: LanguageModelConfig = {
  kind: "lm",
  cell: "rhn",
  depth: 2,
  vocabSize: 11,
  embedSize: 5,
  hiddenSize: 5,
  layers: 2,
  dropout: 0,
  tieWeights: true,
};

Deno.test("a tied LM has no decoder matrix; its decoder costs the embedding's nonzeros", () => {
  const names = paramSpecs(TIED).map((s) => s.name);
  assert.ok(!names.includes("decoder.W") && names.includes("decoder.b"));
  const flops = inferenceFlops(TIED, { embedding: 20 });
  assert.equal(flops.terms.find((t) => t.name === "decoder (tied)")!.perToken, 2 * 20);
});

for (const cell of ["rhn", "lstm", "gru"] as const) {
  Deno.test(`a tied ${cell} LM exports with parity within 1e-4`, async () => {
    const model = { ...TIED, cell, depth: cell === "rhn" ? 2 : undefined };
    const weights = randomWeights(model, 0.4, 3, 0.7);
    for (const compute of ["op", "sparse-scan"] as const) {
      const { bytes } = buildOnnx(model, weights, { compute });
      const report = await checkParity(model, weights, bytes, compute);
      assert.ok(report.maxAbsDiff <= PARITY_TOLERANCE, `${compute}: ${report.maxAbsDiff}`);
    }
  });
}

Deno.test("tied weights train with a shared sparse embedding mask, the same on both compute paths", async () => {
  await withTempDir(async (dir) => {
    const run = (compute: "sparse" | "masked", method: "strnn" | "rigl") => {
      const config = tinyLmConfig(`${dir}/${compute}-${method}.sparrow`, {
        method,
        compute,
        maxSteps: 3,
        optimizer: DEFAULT_OPTIMIZER.sgd,
        learningRate: 0.5,
        model: {
          cell: "rhn",
          depth: 2,
          embedSize: 8,
          hiddenSize: 8,
          layers: 2,
          dropout: 0.2,
          tieWeights: true,
        },
        sparse: { updateEvery: 2, sparseEmbedding: true },
      });
      return train(config, () => {}).then((result) => ({ config, result }));
    };
    for (const method of ["strnn", "rigl"] as const) {
      const { config, result } = await run("sparse", method);
      const { checkpoint } = result;
      assert.ok(!("decoder.W" in checkpoint.params), method);
      const allocation = allocateNonzeros(
        sparseParams(paramSpecs(checkpoint.meta.model), config.sparse),
        { sparsity: config.sparse.sparsity },
        config.sparse.init,
      );
      assert.ok(allocation.some((a) => a.name === "embedding"));
      for (const { name, nonzeros } of allocation) {
        assert.equal(countActive(checkpoint.masks[name]), nonzeros, `${method} ${name}`);
      }
      const masked = (await run("masked", method)).result.checkpoint;
      assert.deepEqual(masked.masks.embedding, checkpoint.masks.embedding, method);
      for (const [name, p] of Object.entries(masked.params)) {
        const scale = Math.max(...p.data.map(Math.abs));
        const diff = maxAbsDiff(checkpoint.params[name].data, p.data);
        assert.ok(diff <= 1e-4 * scale, `${method}: ${name} differs by ${diff}`);
      }
    }
  });
});

Deno.test("--tie-weights is refused where it cannot hold", () => {
  const model = { cell: "lstm" as const, embedSize: 8, hiddenSize: 8, layers: 1, dropout: 0 };
  const refused = (config: Parameters<typeof validateConfig>[0], pattern: RegExp) =>
    assert.throws(() => validateConfig(config), pattern);
  refused(
    tinyLmConfig("x", { model: { ...model, embedSize: 4, tieWeights: true } }),
    /--tie-weights needs --embed-size equal to --hidden-size, got 4 and 8/,
  );
  refused(
    tinyClassifierConfig("x", { model: { ...model, tieWeights: true } }),
    /--tie-weights ties a language model's decoder/,
  );
  refused(
    tinyLmConfig("x", { model: { ...model, tieWeights: true }, sparse: { sparseDecoder: true } }),
    /use --sparse-embedding instead of --sparse-decoder/,
  );
  refused(
    tinyLmConfig("x", { method: "small-dense", model: { ...model, tieWeights: true } }),
    /small-dense .* drop --tie-weights/,
  );
  validateConfig(tinyLmConfig("x", { model: { ...model, tieWeights: true } }));
});
