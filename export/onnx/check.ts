/**
 * A structural check of an exported model, independent of any runtime: it
 * decodes the file and verifies the opset, the input/output contract of the
 * model kind, that every node input is defined before use, and that stored
 * tensors are the size their shapes say. It catches exporter bugs early and
 * explains them in terms of the graph.
 *
 * @module
 */

import {
  DataType,
  decodeModel,
  type GraphProto,
  type ModelProto,
  type SparseTensorProto,
  type TensorProto,
  type ValueInfoProto,
} from "./proto.ts";

/** The model kinds whose input/output contract the check knows. */
export type ExportedKind = "lm" | "classifier";

/**
 * Default-domain opsets the exported graphs are valid for: 13 moved
 * `Squeeze` axes to an input, and onnxruntime 1.30 runs up to at least 21.
 */
const MIN_OPSET = 13;
const MAX_OPSET = 21;

/** Sparse initializers arrived with IR version 6. */
const MIN_IR_VERSION = 6;

interface ValueContract {
  name: string;
  elemType: number;
  rank: number;
}

const CONTRACTS: Record<
  ExportedKind,
  { inputs: ValueContract[]; outputs: ValueContract[] }
> = {
  lm: {
    inputs: [
      { name: "tokens", elemType: DataType.INT64, rank: 2 },
      { name: "state_h", elemType: DataType.FLOAT, rank: 3 },
      { name: "state_c", elemType: DataType.FLOAT, rank: 3 },
    ],
    outputs: [
      { name: "logits", elemType: DataType.FLOAT, rank: 3 },
      { name: "state_h_out", elemType: DataType.FLOAT, rank: 3 },
      { name: "state_c_out", elemType: DataType.FLOAT, rank: 3 },
    ],
  },
  classifier: {
    inputs: [
      { name: "tokens", elemType: DataType.INT64, rank: 2 },
      { name: "lengths", elemType: DataType.INT32, rank: 1 },
      { name: "state_h", elemType: DataType.FLOAT, rank: 3 },
      { name: "state_c", elemType: DataType.FLOAT, rank: 3 },
    ],
    outputs: [{ name: "logits", elemType: DataType.FLOAT, rank: 2 }],
  },
};

const ELEMENT_BYTES: Record<number, number> = {
  [DataType.FLOAT]: 4,
  [DataType.INT32]: 4,
  [DataType.INT64]: 8,
  [DataType.DOUBLE]: 8,
  [DataType.UINT8]: 1,
  [DataType.INT8]: 1,
  [DataType.BOOL]: 1,
  [DataType.UINT16]: 2,
  [DataType.FLOAT16]: 2,
};

/**
 * Lists what is wrong with an exported model; an empty list means it passed.
 * `kind` defaults to the `kind` entry of the model's metadata.
 */
export function checkOnnxModel(
  bytes: Uint8Array,
  kind?: ExportedKind,
): string[] {
  let model: ModelProto;
  try {
    model = decodeModel(bytes);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return [`cannot decode the model: ${reason}`];
  }
  const problems: string[] = [];
  checkVersions(model, problems);
  const graph = model.graph;
  if (!graph) return [...problems, "the model has no graph"];
  const expected = kind ?? metadataKind(model, problems);
  if (expected) checkContract(graph, expected, metadataHasCellState(model), problems);
  checkDataflow(graph, problems);
  checkRanks(graph, problems);
  for (const tensor of graph.initializer ?? []) checkTensor(tensor, problems);
  for (const sparse of graph.sparse_initializer ?? []) {
    checkSparseTensor(sparse, problems);
  }
  for (const node of graph.node ?? []) {
    for (const attribute of node.attribute ?? []) {
      if (attribute.sparse_tensor) checkSparseTensor(attribute.sparse_tensor, problems);
    }
  }
  return problems;
}

/**
 * Rank rules of onnx's strict checker (`check_model(full_check=True)`,
 * which runs shape inference) that an export could break:
 *
 * - a node must not read a `sparse_initializer` directly: shape inference
 *   types it as a sparse tensor, so dense-tensor ops see rank 0 (`Gather`)
 *   or a type mismatch (`Cast`); densify it first, e.g. with a `Constant`'s
 *   `sparse_value`;
 * - `Gather`'s data input must have rank ≥ 1.
 *
 * Ranks are known for graph inputs, initializers and `Constant` outputs.
 */
function checkRanks(
  graph: GraphProto,
  problems: string[],
  outer: ReadonlyMap<string, number> = new Map(),
): void {
  const ranks = new Map(outer);
  const sparse = new Set((graph.sparse_initializer ?? []).map((s) => s.values?.name ?? ""));
  for (const v of graph.input ?? []) {
    const rank = rankOf(v);
    if (rank !== undefined) ranks.set(v.name ?? "", rank);
  }
  for (const t of graph.initializer ?? []) ranks.set(t.name ?? "", t.dims?.length ?? 0);
  (graph.node ?? []).forEach((node, i) => {
    const label = `node ${node.name || i} (${node.op_type})`;
    for (const input of node.input ?? []) {
      if (sparse.has(input)) {
        problems.push(
          `${label} reads sparse initializer ${input} directly, which onnx's strict checker ` +
            `rejects (shape inference types it as a sparse tensor: Gather sees rank 0, Cast the ` +
            `wrong type); densify it first (a Constant with sparse_value)`,
        );
      }
    }
    const data = node.input?.[0];
    if (node.op_type === "Gather" && data && !sparse.has(data) && ranks.get(data) === 0) {
      problems.push(`${label} gathers from ${data} of rank 0; Gather's data needs rank ≥ 1`);
    }
    for (const attribute of node.attribute ?? []) {
      if (attribute.g) checkRanks(attribute.g, problems, ranks);
    }
    if (node.op_type === "Constant" && node.output?.[0]) {
      const value = node.attribute?.find((a) => a.name === "value" || a.name === "sparse_value");
      const dims = value?.t?.dims ?? value?.sparse_tensor?.dims;
      if (dims) ranks.set(node.output[0], dims.length);
    }
  });
}

function checkVersions(model: ModelProto, problems: string[]): void {
  const ir = model.ir_version ?? 0;
  if (ir < MIN_IR_VERSION) {
    problems.push(`IR version ${ir} is below ${MIN_IR_VERSION}`);
  }
  const opsets = (model.opset_import ?? []).filter((o) => !o.domain);
  if (opsets.length !== 1) {
    problems.push(
      `expected one default-domain opset import, found ${opsets.length}`,
    );
    return;
  }
  const version = opsets[0].version ?? 0;
  if (version < MIN_OPSET || version > MAX_OPSET) {
    problems.push(
      `opset ${version} is outside the supported ${MIN_OPSET}..${MAX_OPSET}`,
    );
  }
}

function metadataKind(
  model: ModelProto,
  problems: string[],
): ExportedKind | undefined {
  const entries = new Map(
    (model.metadata_props ?? []).map((e) => [e.key, e.value]),
  );
  const kind = entries.get("kind");
  if (kind !== "lm" && kind !== "classifier") {
    problems.push(
      `metadata kind is ${kind ?? "missing"}, not lm or classifier`,
    );
    return undefined;
  }
  try {
    JSON.parse(entries.get("config") ?? "");
  } catch {
    problems.push("metadata config is missing or not JSON");
  }
  return kind;
}

/**
 * A GRU (metadata `cell: gru`) has no cell state; LSTMs and RHNs (which pass
 * `state_c` through) do, and models without a `cell` entry are LSTMs.
 */
function metadataHasCellState(model: ModelProto): boolean {
  return (model.metadata_props ?? []).find((e) => e.key === "cell")?.value !== "gru";
}

function rankOf(info: ValueInfoProto): number | undefined {
  return info.type?.tensor_type?.shape?.dim?.length;
}

function checkValues(
  side: "input" | "output",
  actual: ValueInfoProto[],
  expected: ValueContract[],
  problems: string[],
): void {
  const byName = new Map(actual.map((v) => [v.name, v]));
  for (const want of expected) {
    const got = byName.get(want.name);
    if (!got) {
      problems.push(`missing graph ${side} ${want.name}`);
      continue;
    }
    const elemType = got.type?.tensor_type?.elem_type;
    if (elemType !== want.elemType) {
      problems.push(
        `graph ${side} ${want.name} has element type ${elemType}, expected ${want.elemType}`,
      );
    }
    const rank = rankOf(got);
    if (rank !== want.rank) {
      problems.push(
        `graph ${side} ${want.name} has rank ${rank}, expected ${want.rank}`,
      );
    }
  }
  const known = new Set(expected.map((v) => v.name));
  for (const v of actual) {
    if (!known.has(v.name ?? "")) {
      problems.push(`unexpected graph ${side} ${v.name}`);
    }
  }
}

function checkContract(
  graph: GraphProto,
  kind: ExportedKind,
  cellState: boolean,
  problems: string[],
): void {
  const contract = CONTRACTS[kind];
  const keep = (v: ValueContract) => cellState || !v.name.startsWith("state_c");
  checkValues("input", graph.input ?? [], contract.inputs.filter(keep), problems);
  checkValues("output", graph.output ?? [], contract.outputs.filter(keep), problems);
}

/**
 * Nodes must be topologically sorted and every name defined exactly once.
 * A subgraph (a `Scan` or `Loop` body) may read every name its parent has
 * defined before the node that owns it, and must not define them again.
 */
function checkDataflow(
  graph: GraphProto,
  problems: string[],
  outer: ReadonlySet<string> = new Set(),
): void {
  const defined = new Set<string>(outer);
  const define = (name: string, what: string) => {
    if (defined.has(name)) problems.push(`${what} ${name} is defined twice`);
    defined.add(name);
  };
  for (const v of graph.input ?? []) define(v.name ?? "", "input");
  for (const t of graph.initializer ?? []) define(t.name ?? "", "initializer");
  for (const s of graph.sparse_initializer ?? []) {
    define(s.values?.name ?? "", "sparse initializer");
  }
  (graph.node ?? []).forEach((node, i) => {
    const label = `node ${node.name || i} (${node.op_type || "no op type"})`;
    if (!node.op_type) problems.push(`${label} has no op type`);
    for (const input of node.input ?? []) {
      if (input !== "" && !defined.has(input)) {
        problems.push(
          `${label} reads ${input}, which is not defined before it`,
        );
      }
    }
    for (const attribute of node.attribute ?? []) {
      if (attribute.g) checkDataflow(attribute.g, problems, defined);
    }
    for (const output of node.output ?? []) {
      if (output !== "") define(output, `${label} output`);
    }
  });
  for (const v of graph.output ?? []) {
    if (!defined.has(v.name ?? "")) {
      problems.push(`graph output ${v.name} is never produced`);
    }
  }
}

function elementCount(dims: number[] | undefined): number {
  return (dims ?? []).reduce((a, b) => a * b, 1);
}

function checkTensor(tensor: TensorProto, problems: string[]): void {
  const bytesPer = ELEMENT_BYTES[tensor.data_type ?? 0];
  if (bytesPer === undefined) {
    problems.push(
      `tensor ${tensor.name} has unsupported data type ${tensor.data_type}`,
    );
    return;
  }
  const want = elementCount(tensor.dims) * bytesPer;
  const got = tensor.raw_data?.length ?? 0;
  if (got !== want) {
    problems.push(
      `tensor ${tensor.name} holds ${got} bytes, its shape [${tensor.dims}] needs ${want}`,
    );
  }
}

function checkSparseTensor(
  sparse: SparseTensorProto,
  problems: string[],
): void {
  const name = sparse.values?.name;
  if (!sparse.values || !sparse.indices) {
    problems.push(`sparse initializer ${name} lacks values or indices`);
    return;
  }
  checkTensor(sparse.values, problems);
  checkTensor(sparse.indices, problems);
  const nnz = elementCount(sparse.values.dims);
  if (
    sparse.indices.data_type !== DataType.INT64 ||
    sparse.indices.dims?.length !== 1 || sparse.indices.dims[0] !== nnz
  ) {
    problems.push(
      `sparse initializer ${name} needs ${nnz} int64 linear indices`,
    );
    return;
  }
  const raw = sparse.indices.raw_data ?? new Uint8Array();
  if (raw.length !== nnz * 8) return;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const size = elementCount(sparse.dims);
  let previous = -1;
  for (let k = 0; k < nnz; k++) {
    const index = Number(view.getBigInt64(k * 8, true));
    if (index <= previous || index >= size) {
      problems.push(
        `sparse initializer ${name} has index ${index} out of order or outside [0, ${size})`,
      );
      return;
    }
    previous = index;
  }
}
