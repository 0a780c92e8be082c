import assert from "node:assert/strict";
import {
  checkMetadata,
  type ParamEntry,
  sealMetadata,
  SPARSE_WEIGHTS_FORMAT,
  SPARSE_WEIGHTS_VERSION,
  type UnsealedMeta,
} from "../../../export/weights/metadata.ts";
import { UserError } from "../../../src/spec/errors.ts";
import { type ClassifierConfig, paramSpecs } from "../../../src/spec/config.ts";

const model: ClassifierConfig = {
  kind: "classifier",
  cell: "lstm",
  vocabSize: 4,
  embedSize: 3,
  hiddenSize: 2,
  layers: 1,
  numClasses: 2,
  dropout: 0.1,
};

function unsealed(): UnsealedMeta {
  const params: Record<string, ParamEntry> = {};
  for (const spec of paramSpecs(model)) {
    params[spec.name] = spec.shape.length === 2
      ? {
        layout: "csr",
        shape: [spec.shape[0], spec.shape[1]],
        nnz: 1,
        masked: spec.role === "gate",
        parts: { values: "float32", col_indices: "uint8", row_ptr: "uint32" },
      }
      : { layout: "dense", shape: spec.shape };
  }
  return {
    format: SPARSE_WEIGHTS_FORMAT,
    version: SPARSE_WEIGHTS_VERSION,
    sparseFormat: "csr",
    model: structuredClone(model),
    vocab: ["<unk>", "a", "b", "c"],
    labels: ["neg", "pos"],
    tokenizer: { lowercase: true },
    source: "run/checkpoint.bin",
    params,
  };
}

/** What a reader sees: the sealed metadata after a trip through JSON. */
function asRead(meta: unknown): unknown {
  return JSON.parse(JSON.stringify(meta));
}

function assertRejected(metadata: unknown, fragment: string): void {
  assert.throws(() => checkMetadata(metadata, "w.bin"), (e: Error) => {
    assert.ok(e instanceof UserError, String(e));
    assert.ok(e.message.startsWith("w.bin is not a usable sparse weights file"), e.message);
    assert.ok(e.message.includes(fragment), `${e.message} lacks ${fragment}`);
    return true;
  });
}

Deno.test("sealed metadata passes the check after a JSON round trip", () => {
  const sealed = sealMetadata(unsealed());
  assert.equal(Object.keys(sealed).at(-1), "metadataCrc32");
  const meta = checkMetadata(asRead(sealed), "w.bin");
  assert.equal(meta.sparseFormat, "csr");
  assert.deepEqual(meta.labels, ["neg", "pos"]);
});

Deno.test("any changed field fails the metadata checksum", () => {
  const sealed = asRead(sealMetadata(unsealed())) as Record<string, unknown>;
  const edits: [string, (m: Record<string, unknown>) => void][] = [
    ["vocab token", (m) => (m.vocab as string[])[2] = "x"],
    ["label", (m) => (m.labels as string[])[0] = "negative"],
    ["dropout", (m) => (m.model as Record<string, unknown>).dropout = 0.2],
    ["tokenizer", (m) => m.tokenizer = { lowercase: false }],
    ["source", (m) => m.source = "elsewhere"],
    ["checksum", (m) => m.metadataCrc32 = (m.metadataCrc32 as number) ^ 1],
  ];
  for (const [label, edit] of edits) {
    const copy = structuredClone(sealed);
    edit(copy);
    assert.throws(() => checkMetadata(copy, "w.bin"), /checksum mismatch/, label);
  }
});

Deno.test("checkMetadata rejects files that are not sparse weights", () => {
  assertRejected(null, "format");
  assertRejected({ format: "sparrow-checkpoint", version: 1 }, "format");
  assertRejected(sealMetadata({ ...unsealed(), version: 2 }), "version 2");
});

Deno.test("checkMetadata rejects consistent-looking but wrong metadata, checksum intact", () => {
  const edits: [string, (m: UnsealedMeta) => void, string][] = [
    [
      "format",
      (m) => (m as { sparseFormat: string }).sparseFormat = "csc",
      'unknown sparse format "csc"',
    ],
    ["kind", (m) => (m.model as { kind: string }).kind = "rhn", 'unknown model kind "rhn"'],
    ["cell", (m) => (m.model as { cell: string }).cell = "vanilla", 'unknown cell "vanilla"'],
    ["hidden", (m) => m.model.hiddenSize = 0, "hiddenSize"],
    ["classes", (m) => (m.model as ClassifierConfig).numClasses = 2.5, "numClasses"],
    ["vocab", (m) => m.vocab.pop(), "vocabulary"],
    ["labels", (m) => delete m.labels, "labels"],
    ["no params", (m) => (m as { params: unknown }).params = [], "parameter table"],
    ["missing param", (m) => delete m.params["lstm.0.R"], "lstm.0.R is missing"],
    ["extra param", (m) => m.params["lstm.1.W"] = m.params["lstm.0.W"], "lstm.1.W"],
    ["shape", (m) => m.params["decoder.W"].shape = [2, 3], "decoder.W has shape [2,3]"],
    [
      "bias layout",
      (m) => (m.params["lstm.0.b"] as { layout: string }).layout = "csr",
      "layout csr",
    ],
    [
      "matrix layout",
      (m) => (m.params["lstm.0.W"] as { layout: string }).layout = "ell",
      "layout ell",
    ],
    ["nnz", (m) => (m.params["lstm.0.W"] as { nnz: number }).nnz = -1, "nnz"],
    ["masked", (m) => delete (m.params["lstm.0.W"] as { masked?: boolean }).masked, "masked"],
    ["parts", (m) => delete (m.params["lstm.0.W"] as { parts?: unknown }).parts, "parts"],
  ];
  for (const [label, edit, fragment] of edits) {
    const meta = unsealed();
    edit(meta);
    assert.doesNotThrow(() => JSON.stringify(meta), label);
    assertRejected(asRead(sealMetadata(meta)), fragment);
  }
});
