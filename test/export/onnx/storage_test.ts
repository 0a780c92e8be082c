import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import { GraphBuilder } from "../../../export/onnx/builder.ts";
import { optimizedGraph } from "../../../export/onnx/fold.ts";
import { DataType, decodeModel, encodeModel } from "../../../export/onnx/proto.ts";
import {
  int64Constant,
  packBits,
  packIndices,
  type StorableData,
  STORAGE_MODES,
  storageBytes,
  type StorageChoice,
  storeTensor,
  type ValuePrecision,
  WeightStore,
} from "../../../export/onnx/storage.ts";
import { fromFloat16Bits, toFloat16Bits } from "../../../export/onnx/float16.ts";
import { Rng } from "../../../src/core/rng.ts";

/** A tensor with exactly `nonzeros` nonzero entries at random places. */
function sparseTensor(size: number, nonzeros: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const data = new Float32Array(size);
  const order = rng.shuffle(Array.from({ length: size }, (_, i) => i));
  for (const i of order.slice(0, nonzeros)) data[i] = rng.normal() || 0.5;
  return data;
}

/** A model whose output is the stored tensor itself, plus one input so it is not all constant. */
function identityModel(
  data: StorableData,
  dims: number[],
  storage: StorageChoice,
  values: ValuePrecision,
): Uint8Array {
  const graph = new GraphBuilder("stored");
  const elemType = data instanceof Int8Array ? DataType.INT8 : DataType.FLOAT;
  const zero = graph.addInput("zero", elemType, dims);
  const stored = storeTensor(graph, "w", data, dims, { storage, values });
  graph.addNode("Add", [stored.value, zero], ["out"]);
  graph.addOutput("out", elemType, dims);
  return encodeModel(graph.build({ opsetVersion: 17, producerName: "test" }));
}

async function runIdentity(
  data: StorableData,
  dims: number[],
  storage: StorageChoice,
  values: ValuePrecision,
): Promise<ArrayLike<number>> {
  const session = await ort.InferenceSession.create(identityModel(data, dims, storage, values));
  const zeros = data instanceof Int8Array
    ? new ort.Tensor("int8", new Int8Array(data.length), dims)
    : new ort.Tensor("float32", new Float32Array(data.length), dims);
  const { out } = await session.run({ zero: zeros });
  await session.release();
  return out.data as ArrayLike<number>;
}

Deno.test("packIndices codes gaps whose running sum gives back every position", () => {
  const nonzeros = [0, 3, 300, 301, 1000];
  const { positions, gaps } = packIndices(nonzeros, 255);
  assert.ok(gaps instanceof Uint8Array);
  let sum = 0;
  const decoded = Array.from(gaps, (g) => sum += g);
  assert.deepEqual(decoded, positions);
  // Every nonzero is kept, and fillers bridge the gaps wider than 255.
  for (const p of nonzeros) assert.ok(positions.includes(p));
  assert.deepEqual(positions, [0, 3, 258, 300, 301, 556, 811, 1000]);
  assert.ok(Array.from(gaps).every((g) => g <= 255));
  const wide = packIndices(nonzeros, 65535);
  assert.ok(wide.gaps instanceof Uint16Array);
  assert.deepEqual(wide.positions, nonzeros);
});

Deno.test("packBits sets bit i % 8 of byte i / 8 for each nonzero", () => {
  const data = new Float32Array(10);
  data[0] = 1;
  data[3] = -2;
  data[9] = 0.5;
  assert.deepEqual(Array.from(packBits(data)), [0b1001, 0b10]);
});

Deno.test("storageBytes prices each mode by its layout", () => {
  const data = sparseTensor(1000, 50, 1);
  const fp32 = storageBytes(data, "fp32");
  assert.equal(fp32.dense, 4000);
  assert.equal(fp32["sparse-init"], 50 * 12);
  assert.equal(fp32.bitmask, 125 + 51 * 4);
  // 50 nonzeros with gaps mostly under 255: about 5 bytes each.
  assert.ok(fp32.packed >= 50 * 5 && fp32.packed < 60 * 5, `${fp32.packed}`);
  const fp16 = storageBytes(data, "fp16");
  assert.equal(fp16.dense, 2000);
  assert.equal(fp16["sparse-init"], 50 * 10);
  assert.equal(storageBytes(new Int8Array(8).fill(1), "fp32").dense, 8);
});

for (const storage of [...STORAGE_MODES, "auto"] as const) {
  Deno.test(`${storage} storage gives back the exact tensor in onnxruntime`, async () => {
    for (const [density, seed] of [[0.05, 2], [0.6, 3], [0, 4], [1, 5]] as const) {
      const dims = [3, 7, 11];
      const data = sparseTensor(231, Math.round(density * 231), seed);
      assert.deepEqual(
        Array.from(await runIdentity(data, dims, storage, "fp32")),
        Array.from(data),
      );
    }
  });
}

Deno.test("int8 codes survive every storage mode", async () => {
  const rng = new Rng(6);
  const codes = Int8Array.from({ length: 100 }, () => rng.next() < 0.2 ? rng.int(255) - 127 : 0);
  for (const storage of STORAGE_MODES) {
    assert.deepEqual(
      Array.from(await runIdentity(codes, [10, 10], storage, "fp32")),
      Array.from(codes),
    );
  }
});

Deno.test("fp16 values are the float16 rounding of the weights in every mode", async () => {
  const data = sparseTensor(200, 40, 7);
  const rounded = Array.from(data, (v) => fromFloat16Bits(toFloat16Bits(v)));
  assert.ok(rounded.some((v, i) => v !== data[i]), "fp16 rounding changes some value");
  for (const storage of STORAGE_MODES) {
    assert.deepEqual(Array.from(await runIdentity(data, [200], storage, "fp16")), rounded);
  }
});

Deno.test("packed and bitmask decodes fold at load into one dense constant", async () => {
  const data = sparseTensor(5000, 250, 8);
  for (const storage of ["packed", "bitmask", "sparse-init"] as const) {
    for (const values of ["fp32", "fp16"] as const) {
      const optimized = await optimizedGraph(identityModel(data, [50, 100], storage, values));
      assert.deepEqual(optimized.unfolded, [], `${storage}/${values}`);
      // Only the consumer is left: every decode op became a constant.
      assert.deepEqual(optimized.ops, ["Add"], `${storage}/${values}`);
    }
  }
});

Deno.test("at 95% sparsity packed storage is over 8x smaller than dense", () => {
  const data = sparseTensor(100_000, 5_000, 9);
  const size = (storage: StorageChoice) => identityModel(data, [100_000], storage, "fp32").length;
  const dense = size("dense");
  assert.ok(dense / size("packed") >= 8, `packed ${size("packed")} vs dense ${dense}`);
  assert.ok(dense / size("bitmask") >= 8);
  // auto picks packed when it is smaller, and its file is the packed one.
  assert.equal(size("auto"), size("packed"));
  // int64 indices make sparse_initializer 3x the size of its values alone.
  assert.ok(size("sparse-init") > 2 * size("packed"));
});

Deno.test("auto keeps dense tensors dense", () => {
  const graph = new GraphBuilder("g");
  const stored = storeTensor(graph, "w", Float32Array.from({ length: 64 }, (_, i) => i + 1), [64], {
    storage: "auto",
    values: "fp32",
  });
  assert.equal(stored.storage, "dense");
  assert.equal(stored.bytes, 256);
  const sparse = storeTensor(graph, "s", sparseTensor(64, 3, 10), [64], {
    storage: "auto",
    values: "fp32",
  });
  assert.equal(sparse.storage, "packed");
});

Deno.test("an explicit storage mode never stores a tensor larger than dense", () => {
  const rng = new Rng(11);
  const tensors: (Float32Array | Int8Array)[] = [
    ...[0, 0.05, 0.3, 0.6, 0.9, 1].map((d, k) => sparseTensor(300, Math.round(d * 300), 20 + k)),
    Int8Array.from({ length: 300 }, () => rng.int(255) - 127 || 1),
  ];
  for (const storage of STORAGE_MODES) {
    for (const values of ["fp32", "fp16"] as const) {
      for (const [k, data] of tensors.entries()) {
        const stored = storeTensor(new GraphBuilder("g"), "w", data, [300], { storage, values });
        const dense = storageBytes(data, values).dense;
        assert.ok(
          stored.bytes <= dense,
          `${storage}/${values} tensor ${k}: ${stored.bytes} > ${dense}`,
        );
        if (stored.storage !== storage) assert.equal(stored.storage, "dense");
      }
    }
  }
});

Deno.test("WeightStore records every tensor and decodes narrow indices to int64", async () => {
  const graph = new GraphBuilder("g");
  const store = new WeightStore(graph, { storage: "packed", values: "fp32" });
  const cols = store.indices("cols", [5, 70000, 3], "coo");
  const rows = store.indices("rows", [0, 0, 2, 9, 300], "coo", true);
  store.weight("w", sparseTensor(100, 5, 11), [100]);
  assert.deepEqual(store.records.map((r) => [r.name, r.storage]), [
    ["cols", "coo"],
    ["rows", "coo"],
    ["w", "packed"],
  ]);
  // 70000 needs 32 bits; row gaps (at most 291) need 16.
  assert.deepEqual(store.records.map((r) => r.bytes).slice(0, 2), [12, 10]);
  graph.addOutput(cols, DataType.INT64, [3]);
  graph.addOutput(rows, DataType.INT64, [5]);
  const session = await ort.InferenceSession.create(
    encodeModel(graph.build({ opsetVersion: 17, producerName: "test" })),
  );
  const out = await session.run({});
  assert.deepEqual(Array.from(out[cols].data as BigInt64Array), [5n, 70000n, 3n]);
  assert.deepEqual(Array.from(out[rows].data as BigInt64Array), [0n, 0n, 2n, 9n, 300n]);
  await session.release();
});

Deno.test("equal int64 constants share one initializer", () => {
  const graph = new GraphBuilder("g");
  const a = int64Constant(graph, "axis", [0]);
  const b = int64Constant(graph, "other", [0]);
  const c = int64Constant(graph, "axis", [0], []);
  assert.equal(a, b);
  assert.notEqual(a, c);
  const built = decodeModel(encodeModel(graph.build({ opsetVersion: 17, producerName: "t" })));
  assert.equal(built.graph!.initializer!.length, 2);
});

Deno.test("storeTensor rejects data that does not fill its shape", () => {
  const graph = new GraphBuilder("g");
  assert.throws(
    () =>
      storeTensor(graph, "w", new Float32Array(5), [2, 3], { storage: "dense", values: "fp32" }),
    /do not fill/,
  );
});
