import assert from "node:assert/strict";
import { join } from "node:path";
import { SPARSE_FORMATS, type SparseFormat } from "../../../export/weights/format.ts";
import { sealMetadata, type SparseWeightsMeta } from "../../../export/weights/metadata.ts";
import {
  decodeSparseWeights,
  encodeSparseWeights,
  exportSparseWeights,
  readSparseWeights,
  sameValues,
} from "../../../export/weights/sparse_weights.ts";
import { randomMask } from "../../../src/core/mask.ts";
import { Rng } from "../../../src/core/rng.ts";
import { UserError } from "../../../src/spec/errors.ts";
import { type Container, decodeContainer, encodeContainer } from "../../../src/spec/container.ts";
import { type ModelConfig, paramSpecs, sizeOf } from "../../../src/spec/config.ts";
import {
  type Checkpoint,
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  encodeCheckpoint,
  saveCheckpoint,
} from "../../../src/spec/checkpoint.ts";

const LM: ModelConfig = {
  kind: "lm",
  cell: "lstm",
  vocabSize: 11,
  embedSize: 5,
  hiddenSize: 6,
  layers: 2,
  dropout: 0.2,
};

const CLASSIFIER: ModelConfig = {
  kind: "classifier",
  cell: "lstm",
  vocabSize: 9,
  embedSize: 4,
  hiddenSize: 5,
  layers: 1,
  numClasses: 3,
  dropout: 0,
};

interface CheckpointOptions {
  sparsity?: number;
  /** Give the embedding and decoder masks too, not only the gate matrices. */
  maskEverything?: boolean;
}

/**
 * A checkpoint as training leaves it: gate matrices (and the decoder) masked
 * at `sparsity`, pruned weights zeroed as +0 or -0 like tf.mul does, a few
 * active weights exactly 0 (just regrown), and an unmasked embedding with a
 * few zeros of its own.
 */
function makeCheckpoint(
  model: ModelConfig,
  seed: number,
  options: CheckpointOptions = {},
): Checkpoint {
  const rng = new Rng(seed);
  const sparsity = options.sparsity ?? 0.7;
  const params: Checkpoint["params"] = {};
  const masks: Checkpoint["masks"] = {};
  for (const spec of paramSpecs(model)) {
    const size = sizeOf(spec.shape);
    const data = new Float32Array(size).map(() => rng.normal() * 0.1);
    const masked = spec.role === "gate" || spec.role === "decoder" ||
      (options.maskEverything === true && spec.role === "embedding");
    if (masked) {
      const mask = randomMask(size, Math.max(1, Math.round((1 - sparsity) * size)), rng);
      for (let i = 0; i < size; i++) {
        if (mask[i] === 0) data[i] = data[i] < 0 ? -0 : 0;
        else if (rng.next() < 0.05) data[i] = 0;
      }
      masks[spec.name] = mask;
    } else if (spec.role === "embedding") {
      for (let i = 0; i < size; i += 7) data[i] = 0;
    }
    params[spec.name] = { shape: spec.shape, data };
  }
  const vocab = Array.from({ length: model.vocabSize }, (_, i) => i === 0 ? "<unk>" : `w${i}é`);
  return {
    meta: {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      model,
      training: { epochs: 1 },
      vocab,
      labels: model.kind === "classifier"
        ? Array.from({ length: model.numClasses }, (_, i) => `label ${i}`)
        : undefined,
      tokenizer: { lowercase: true },
      progress: {
        epoch: 1,
        step: 3,
        rngState: 1,
        optimizerSteps: 3,
        tokens: 60,
        sequences: 6,
        topologyUpdates: 1,
        prunedFractionSum: 0,
        history: [],
        done: true,
      },
    },
    params,
    masks,
    optimizer: {},
  };
}

function assertSameWeights(
  ckpt: Checkpoint,
  decoded: ReturnType<typeof decodeSparseWeights>,
  label: string,
) {
  for (const spec of paramSpecs(ckpt.meta.model)) {
    const original = ckpt.params[spec.name];
    const read = decoded.params[spec.name];
    assert.deepEqual(read.shape, original.shape, `${label}: ${spec.name} shape`);
    assert.ok(sameValues(read.data, original.data), `${label}: ${spec.name} values`);
    if (spec.shape.length === 1) {
      assert.deepEqual(read.data, original.data, `${label}: ${spec.name} is stored as is`);
      continue;
    }
    const expected = ckpt.masks[spec.name] ?? original.data.map((v) => v !== 0 ? 1 : 0);
    assert.deepEqual(
      [...decoded.active[spec.name]],
      [...expected],
      `${label}: ${spec.name} active`,
    );
  }
}

Deno.test("every format round-trips whole checkpoints of both model kinds", () => {
  for (const [model, seed] of [[LM, 1], [CLASSIFIER, 2]] as const) {
    const ckpt = makeCheckpoint(model, seed);
    for (const format of SPARSE_FORMATS) {
      const label = `${model.kind} ${format}`;
      const decoded = decodeSparseWeights(encodeSparseWeights(ckpt, format, "ckpt.bin"), "w.bin");
      assertSameWeights(ckpt, decoded, label);
      const meta = decoded.metadata;
      assert.equal(meta.sparseFormat, format);
      assert.deepEqual(meta.model, model);
      assert.deepEqual(meta.vocab, ckpt.meta.vocab);
      assert.deepEqual(meta.labels, ckpt.meta.labels);
      assert.deepEqual(meta.tokenizer, ckpt.meta.tokenizer);
      assert.equal(meta.source, "ckpt.bin");
      for (const spec of paramSpecs(model)) {
        const entry = meta.params[spec.name];
        if (entry.layout === "dense") continue;
        const mask = ckpt.masks[spec.name];
        assert.equal(entry.masked, mask !== undefined, `${label}: ${spec.name} masked`);
        const stored = decoded.active[spec.name].reduce((a, b) => a + b, 0);
        assert.equal(entry.nnz, stored, `${label}: ${spec.name} nnz`);
        if (mask) assert.equal(entry.nnz, mask.reduce((a, b) => a + b, 0));
      }
    }
  }
});

Deno.test("exportSparseWeights writes a file readSparseWeights reads back", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ckpt = makeCheckpoint(LM, 3);
    const ckptPath = join(dir, "ckpt.bin");
    await saveCheckpoint(ckptPath, ckpt);
    for (const format of SPARSE_FORMATS) {
      const out = join(dir, "out", `weights.${format}`);
      const summary = await exportSparseWeights(ckptPath, format, out);
      assert.equal(summary.format, format);
      assert.equal(summary.bytes, (await Deno.stat(out)).size);
      const denseCount: number = paramSpecs(LM).reduce((n: number, s) => n + sizeOf(s.shape), 0);
      assert.equal(summary.denseBytes, 4 * denseCount);
      const read = await readSparseWeights(out);
      assertSameWeights(ckpt, read, format);
      assert.equal(read.metadata.source, ckptPath);
      for (const m of summary.matrices) {
        assert.equal(read.metadata.params[m.name].layout, format, m.name);
        const stored = read.active[m.name].reduce((a, b) => a + b, 0);
        assert.equal(m.nnz, stored, m.name);
        assert.ok(Math.abs(m.sparsity - (1 - stored / sizeOf(m.shape))) < 1e-12, m.name);
      }
      const matrixNames: string[] = paramSpecs(LM).filter((s) => s.shape.length === 2).map((s) =>
        s.name
      );
      assert.deepEqual(summary.matrices.map((m) => m.name), matrixNames);
    }
    const left = [...Deno.readDirSync(join(dir, "out"))].map((e) => e.name).sort();
    assert.deepEqual(
      left,
      SPARSE_FORMATS.map((f) => `weights.${f}`).sort(),
      "no temporary files remain",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("exportSparseWeights refuses bad input with a UserError and writes nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ckptPath = join(dir, "ckpt.bin");
    await saveCheckpoint(ckptPath, makeCheckpoint(CLASSIFIER, 4));
    const out = join(dir, "w.bin");
    await assert.rejects(
      exportSparseWeights(ckptPath, "csc", out),
      /unknown sparse weight format "csc"/,
    );
    await assert.rejects(exportSparseWeights(join(dir, "nope.bin"), "csr", out), UserError);
    await assert.rejects(
      exportSparseWeights(ckptPath, "csr", out).then(() => readSparseWeights(ckptPath)),
      (e) => {
        assert.ok(
          e instanceof UserError && e.message.includes(ckptPath) && e.message.includes("format"),
        );
        return true;
      },
    );
    await assert.rejects(readSparseWeights(join(dir, "missing.bin")), /no such file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a checkpoint with weights where its mask is 0 is refused, naming the parameter", () => {
  const ckpt = makeCheckpoint(LM, 5);
  const mask = ckpt.masks["lstm.1.R"];
  ckpt.params["lstm.1.R"].data[mask.indexOf(0)] = 0.25;
  assert.throws(() => encodeSparseWeights(ckpt, "csr", "ckpt.bin"), (e: Error) => {
    assert.ok(e instanceof UserError);
    assert.match(e.message, /^ckpt\.bin: parameter lstm\.1\.R has weight 0\.25/);
    return true;
  });
});

/** Asserts `run` throws a UserError whose message has every fragment. */
function assertUserError(run: () => unknown, label: string, ...fragments: string[]): void {
  try {
    run();
  } catch (e) {
    // Messages are built only on failure: formatting a stack thousands of times is slow.
    if (!(e instanceof UserError)) assert.fail(`${label}: ${(e as Error)?.stack ?? e}`);
    const missing = fragments.find((f) => !e.message.includes(f));
    if (missing !== undefined) assert.fail(`${label}: "${e.message}" lacks ${missing}`);
    return;
  }
  assert.fail(`${label}: no error`);
}

Deno.test("a file truncated at any byte is a UserError naming the file", () => {
  const ckpt = makeCheckpoint(CLASSIFIER, 6);
  for (const format of SPARSE_FORMATS) {
    const bytes = encodeSparseWeights(ckpt, format, "ckpt.bin");
    for (let cut = 0; cut < bytes.length; cut++) {
      assertUserError(
        () => decodeSparseWeights(bytes.subarray(0, cut), "w.bin"),
        `${format} cut ${cut}`,
        "w.bin",
      );
    }
  }
});

Deno.test("a file with any byte flipped, header or data, is a UserError naming the file", () => {
  const ckpt = makeCheckpoint(CLASSIFIER, 7);
  for (const format of SPARSE_FORMATS) {
    const bytes = encodeSparseWeights(ckpt, format, "ckpt.bin");
    for (let at = 0; at < bytes.length; at++) {
      const corrupt = bytes.slice();
      corrupt[at] ^= 0xff;
      assertUserError(() => decodeSparseWeights(corrupt, "w.bin"), `${format} flip ${at}`, "w.bin");
    }
  }
});

/** Re-encodes a valid file after `edit`, so the container's CRC is valid again. */
function tampered(
  format: SparseFormat,
  edit: (c: Container<SparseWeightsMeta>) => void,
): Uint8Array {
  const bytes = encodeSparseWeights(makeCheckpoint(LM, 8), format, "ckpt.bin");
  const container = decodeContainer<SparseWeightsMeta>(bytes, "test");
  edit(container);
  return encodeContainer(container);
}

function reseal(c: Container<SparseWeightsMeta>, edit: (m: SparseWeightsMeta) => void): void {
  const { metadataCrc32: _, ...rest } = c.metadata;
  edit(rest as SparseWeightsMeta);
  c.metadata = sealMetadata(rest);
}

Deno.test("structurally wrong files with valid checksums are UserErrors naming file and tensor", () => {
  // Index parts are unsigned integer arrays; the cast only lets the edits do arithmetic.
  const t = (c: Container<SparseWeightsMeta>, name: string) => c.tensors[name].data as Uint32Array;
  const cases: [string, Uint8Array, string][] = [
    [
      "csr row_ptr end",
      tampered("csr", (c) => t(c, "lstm.0.W/row_ptr")[5] += 1),
      "lstm.0.W/row_ptr",
    ],
    [
      "csr row_ptr decreasing",
      tampered("csr", (c) => {
        const rowPtr = t(c, "lstm.1.R/row_ptr");
        rowPtr[1] = Number(rowPtr[2]) + 1;
      }),
      "lstm.1.R/row_ptr",
    ],
    [
      "csr column out of range",
      tampered("csr", (c) => t(c, "decoder.W/col_indices")[0] = 11),
      "decoder.W/col_indices",
    ],
    [
      "coo row out of range",
      tampered("coo", (c) => t(c, "lstm.0.R/row_indices")[0] = 6),
      "lstm.0.R/row_indices",
    ],
    [
      "bitmask popcount",
      tampered("bitmask", (c) => t(c, "lstm.0.W/mask")[0] ^= 1),
      "lstm.0.W/values",
    ],
    [
      "ell padding",
      tampered("ell", (c) => {
        const rowNnz = t(c, "lstm.0.W/row_nnz");
        rowNnz[rowNnz.indexOf(Math.min(...rowNnz))] += 1;
      }),
      "lstm.0.W/",
    ],
    [
      "index dtype",
      tampered("csr", (c) => {
        const cols = c.tensors["lstm.0.W/col_indices"];
        c.tensors["lstm.0.W/col_indices"] = {
          ...cols,
          dtype: "uint16",
          data: Uint16Array.from(cols.data as Uint8Array),
        };
      }),
      "lstm.0.W/col_indices",
    ],
    [
      "missing part",
      tampered("coo", (c) => delete c.tensors["decoder.W/values"]),
      "decoder.W/values",
    ],
    ["missing bias", tampered("ell", (c) => delete c.tensors["lstm.1.b"]), "lstm.1.b"],
    [
      "short bias",
      tampered("bitmask", (c) => {
        c.tensors["decoder.b"] = { dtype: "float32", shape: [3], data: new Float32Array(3) };
      }),
      "decoder.b",
    ],
    [
      "extra tensor",
      tampered("csr", (c) => {
        c.tensors["notes"] = { dtype: "uint8", shape: [1], data: new Uint8Array(1) };
      }),
      "notes",
    ],
    [
      "nnz in metadata",
      tampered("csr", (c) => {
        reseal(c, (m) => (m.params["lstm.0.W"] as { nnz: number }).nnz += 1);
      }),
      "lstm.0.W/values",
    ],
    [
      "part dtype in metadata",
      tampered("ell", (c) => {
        reseal(
          c,
          (m) =>
            (m.params["embedding"] as { parts: Record<string, string> }).parts.row_nnz = "uint16",
        );
      }),
      "embedding/row_nnz",
    ],
    [
      "part missing from metadata",
      tampered("csr", (c) => {
        reseal(
          c,
          (m) => delete (m.params["embedding"] as { parts: Record<string, string> }).parts.row_ptr,
        );
      }),
      'embedding/row_ptr" is in the file but not',
    ],
  ];
  for (const [label, bytes, tensor] of cases) {
    assertUserError(() => decodeSparseWeights(bytes, "w.bin"), label, "w.bin", `"${tensor}`);
  }
});

Deno.test("an unknown format or a checkpoint instead of weights is a UserError naming the file", () => {
  const unknown = tampered(
    "csr",
    (c) => reseal(c, (m) => (m as { sparseFormat: string }).sparseFormat = "blocked"),
  );
  assertUserError(
    () => decodeSparseWeights(unknown, "w.bin"),
    "unknown format",
    "w.bin",
    '"blocked"',
  );
  const ckptBytes = encodeCheckpoint(makeCheckpoint(LM, 9));
  assertUserError(
    () => decodeSparseWeights(ckptBytes, "ckpt.bin"),
    "checkpoint",
    "ckpt.bin",
    "format",
  );
});

Deno.test("at 95% sparsity every format is much smaller than the dense weights", () => {
  const model: ModelConfig = { ...LM, vocabSize: 50, embedSize: 32, hiddenSize: 64, layers: 1 };
  const ckpt = makeCheckpoint(model, 10, { sparsity: 0.95, maskEverything: true });
  const tensors: Container["tensors"] = {};
  for (const [name, p] of Object.entries(ckpt.params)) tensors[name] = { dtype: "float32", ...p };
  const dense = encodeContainer({ metadata: {}, tensors }).length;
  const sizes = Object.fromEntries(
    SPARSE_FORMATS.map((f) => [f, encodeSparseWeights(ckpt, f).length]),
  );
  for (const format of SPARSE_FORMATS) {
    assert.ok(
      sizes[format] * 3 < dense,
      `${format}: ${sizes[format]} bytes against ${dense} dense`,
    );
  }
  // ELL pads every row to the busiest one, so it can only be larger than CSR.
  assert.ok(sizes.csr < sizes.ell, `csr ${sizes.csr} < ell ${sizes.ell}`);
});
