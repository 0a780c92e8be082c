import assert from "node:assert/strict";
import { checkOnnxModel } from "../../../export/onnx/check.ts";
import { buildOnnxModel } from "../../../export/onnx_model.ts";
import { decodeModel, encodeModel, type ModelProto } from "../../../export/onnx/proto.ts";
import { type ModelConfig, paramSpecs, sizeOf } from "../../../src/spec/config.ts";
import type { HostParams } from "../../../src/spec/params.ts";
import { Rng } from "../../../src/core/rng.ts";
import { TINY_LM as LM, tinyClassifier } from "../helpers.ts";

const CLASSIFIER = tinyClassifier(1);

function weightsFor(config: ModelConfig): HostParams {
  const rng = new Rng(4);
  const weights: HostParams = {};
  for (const spec of paramSpecs(config)) {
    const data = Float32Array.from(
      { length: sizeOf(spec.shape) },
      () => rng.next() < 0.2 ? rng.normal() : 0,
    );
    weights[spec.name] = { shape: spec.shape, data };
  }
  return weights;
}

/** The LM's decoded model, changed by `edit`, re-encoded. */
function brokenLm(edit: (model: ModelProto) => void): Uint8Array {
  const model = decodeModel(
    buildOnnxModel(LM, weightsFor(LM), { storage: "sparse-init" }),
  );
  edit(model);
  return encodeModel(model);
}

Deno.test("exported models pass the check", () => {
  for (const storage of ["dense", "sparse-init", "packed", "bitmask"] as const) {
    assert.deepEqual(
      checkOnnxModel(buildOnnxModel(LM, weightsFor(LM), { storage })),
      [],
    );
    const classifier = buildOnnxModel(CLASSIFIER, weightsFor(CLASSIFIER), {
      storage,
    });
    assert.deepEqual(checkOnnxModel(classifier), []);
    assert.deepEqual(checkOnnxModel(classifier, "classifier"), []);
  }
});

Deno.test("a node reading an undefined value is flagged", () => {
  const bytes = brokenLm((model) => {
    model.graph!.node = model.graph!.node!.filter((n) => n.op_type !== "Gather");
  });
  const problems = checkOnnxModel(bytes);
  assert.ok(
    problems.some((p) => /reads embedded/.test(p)),
    problems.join("\n"),
  );
});

Deno.test("nodes out of topological order are flagged", () => {
  const bytes = brokenLm((model) => model.graph!.node!.reverse());
  assert.ok(checkOnnxModel(bytes).some((p) => /not defined before/.test(p)));
});

Deno.test("a missing or renamed output is flagged", () => {
  const bytes = brokenLm((model) => {
    model.graph!.output![0].name = "scores";
  });
  const problems = checkOnnxModel(bytes);
  assert.ok(problems.includes("missing graph output logits"));
  assert.ok(problems.includes("unexpected graph output scores"));
  assert.ok(problems.includes("graph output scores is never produced"));
});

Deno.test("a wrong input rank or type is flagged", () => {
  const bytes = brokenLm((model) => {
    const tokens = model.graph!.input![0].type!.tensor_type!;
    tokens.elem_type = 1;
    tokens.shape!.dim!.pop();
  });
  const problems = checkOnnxModel(bytes);
  assert.ok(problems.some((p) => /tokens has element type 1/.test(p)));
  assert.ok(problems.some((p) => /tokens has rank 1, expected 2/.test(p)));
});

Deno.test("an unsupported opset or old IR version is flagged", () => {
  const bytes = brokenLm((model) => {
    model.opset_import = [{ domain: "", version: 9 }];
    model.ir_version = 4;
  });
  const problems = checkOnnxModel(bytes);
  assert.ok(problems.some((p) => /opset 9/.test(p)));
  assert.ok(problems.some((p) => /IR version 4/.test(p)));
});

Deno.test("tensor payloads that do not match their shapes are flagged", () => {
  const bytes = brokenLm((model) => {
    const axis = model.graph!.initializer![0];
    axis.raw_data = axis.raw_data!.subarray(0, 4);
    const constant = model.graph!.node!.find((n) => n.attribute?.[0]?.sparse_tensor)!;
    const sparse = constant.attribute![0].sparse_tensor!;
    const raw = Uint8Array.from(sparse.indices!.raw_data!);
    // Swap the first two indices so they are no longer ascending.
    const first = raw.slice(0, 8);
    raw.copyWithin(0, 8, 16);
    raw.set(first, 8);
    sparse.indices!.raw_data = raw;
  });
  const problems = checkOnnxModel(bytes);
  assert.ok(problems.some((p) => /holds 4 bytes/.test(p)), problems.join("\n"));
  assert.ok(problems.some((p) => /out of order/.test(p)), problems.join("\n"));
});

Deno.test("the contract follows the kind", () => {
  const lm = buildOnnxModel(LM, weightsFor(LM));
  assert.ok(
    checkOnnxModel(lm, "classifier").includes("missing graph input lengths"),
  );
  const unlabelled = brokenLm((model) => {
    model.metadata_props = [];
  });
  assert.ok(
    checkOnnxModel(unlabelled).some((p) => /metadata kind is missing/.test(p)),
  );
  assert.deepEqual(checkOnnxModel(unlabelled, "lm"), []);
});

Deno.test("bytes that are not a model are flagged", () => {
  const problems = checkOnnxModel(new Uint8Array([0x0a, 0xff, 0xff, 0x01]));
  assert.equal(problems.length, 1);
  assert.match(problems[0], /cannot decode/);
  assert.ok(
    checkOnnxModel(new Uint8Array()).includes("the model has no graph"),
  );
});

Deno.test("every compute mode passes, Scan bodies included", () => {
  for (const compute of ["sparse-scan", "int8"] as const) {
    assert.deepEqual(checkOnnxModel(buildOnnxModel(LM, weightsFor(LM), { compute })), []);
    assert.deepEqual(
      checkOnnxModel(buildOnnxModel(CLASSIFIER, weightsFor(CLASSIFIER), { compute })),
      [],
    );
  }
});

Deno.test("a Scan body reading an undefined value is flagged", () => {
  const model = decodeModel(buildOnnxModel(LM, weightsFor(LM), { compute: "sparse-scan" }));
  const scan = model.graph!.node!.find((n) => n.op_type === "Scan")!;
  const body = scan.attribute!.find((a) => a.name === "body")!.g!;
  body.node![0].input![0] = "nowhere";
  const problems = checkOnnxModel(encodeModel(model));
  assert.ok(problems.some((p) => /reads nowhere/.test(p)), problems.join("\n"));
});

Deno.test("float16 and uint16 tensors are checked by their two-byte size", () => {
  const model = decodeModel(
    buildOnnxModel(LM, weightsFor(LM), { storage: "packed", values: "fp16" }),
  );
  const half = model.graph!.initializer!.find((t) => t.data_type === 10)!;
  assert.deepEqual(checkOnnxModel(encodeModel(model)), []);
  half.raw_data = half.raw_data!.subarray(1);
  assert.ok(
    checkOnnxModel(encodeModel(model)).some((p) => p.includes(`tensor ${half.name} holds`)),
  );
});

Deno.test("a Gather reading a sparse_initializer directly is flagged (onnx's strict checker sees rank 0)", () => {
  // What sparse-init exports used to write: the embedding as a sparse_initializer read by Gather.
  const bytes = brokenLm((model) => {
    const graph = model.graph!;
    const i = graph.node!.findIndex((n) =>
      n.op_type === "Constant" && n.output![0] === "embedding"
    );
    const sparse = graph.node![i].attribute![0].sparse_tensor!;
    sparse.values!.name = "embedding";
    graph.sparse_initializer = [...(graph.sparse_initializer ?? []), sparse];
    graph.node!.splice(i, 1);
  });
  const problems = checkOnnxModel(bytes);
  assert.ok(
    problems.some((p) => /Gather\) reads sparse initializer embedding directly/.test(p)),
    problems.join("\n"),
  );
});

Deno.test("a Gather whose data has rank 0 is flagged", () => {
  const model = decodeModel(buildOnnxModel(LM, weightsFor(LM), { storage: "dense" }));
  const embedding = model.graph!.initializer!.find((t) => t.name === "embedding")!;
  embedding.dims = [];
  embedding.raw_data = embedding.raw_data!.subarray(0, 4);
  const problems = checkOnnxModel(encodeModel(model));
  assert.ok(
    problems.some((p) => /gathers from embedding of rank 0; Gather's data needs rank ≥ 1/.test(p)),
    problems.join("\n"),
  );
});
