/**
 * The paper's tables (Liu et al. 2021, "Efficient and effective training of
 * sparse recurrent neural networks") as lists of training runs, at three
 * scales: `paper` (the paper's settings, through the presets of
 * src/train/presets.ts), `small` (the same runs cut to fit a 2-core machine
 * in minutes: fewer and capped epochs, capped validation, smaller models
 * where the paper's would not fit) and `smoke` (tiny models on the bundled
 * fixtures, for tests).
 *
 * Each run is one `deno task train` command; its index in the list is its
 * index in a Kubernetes Indexed Job or a Slurm array (./emit.ts).
 *
 * @module
 */

import { join } from "node:path";

/** The tables `deno task reproduce` knows. */
export const TABLE_IDS = ["table2", "table3", "table4"] as const;
/** A table's id. */
export type TableId = typeof TABLE_IDS[number];

/** How big the runs are. */
export const SCALES = ["smoke", "small", "paper"] as const;
/** A scale's name. */
export type Scale = typeof SCALES[number];

/** One training run of a table. */
export interface RunSpec {
  /** File-name-safe and unique in its table: the checkpoint is `<name>.sparrow`. */
  name: string;
  /** The row's method, as the paper names it. */
  method: string;
  /** Target sparsity of the sparse matrices, or undefined for a dense run. */
  sparsity?: number;
  /** Arguments of `deno task train`, without `--out`. */
  args: string[];
}

/** A column of numbers to compare with, by run name; runs without one show "—". */
export interface ReferenceColumn {
  header: string;
  values: Readonly<Record<string, string>>;
}

/** A table of the paper. */
export interface TableSpec {
  id: TableId;
  title: string;
  /** The metric compared: test perplexity (LM) or test accuracy (classifier). */
  metric: "ppl" | "acc";
  /** Numbers from a source, beside ours. */
  references: ReferenceColumn[];
  /** Where the references come from, and what is not filled in and where to find it. */
  notes: string[];
}

/** Where the datasets are: `ptb/` and `imdb/` under `dataRoot`; fixtures under `repoRoot`. */
export interface DataPaths {
  dataRoot: string;
  repoRoot: string;
}

const PAPER = "Liu et al. 2021, Neural Computing and Applications 33";

/** The tables' descriptions. */
export const TABLES: Readonly<Record<TableId, TableSpec>> = {
  table2: {
    id: "table2",
    title: "Table 2: PTB, stacked LSTM: dense, small-dense, SET, SNFS, RigL and ST-LSTM",
    metric: "ppl",
    references: [
      { header: "paper test ppl", values: {} },
      {
        header: "authors' code, 2x200, 6 epochs",
        values: { dense: "117.4", "st-lstm-uniform-67": "137.9" },
      },
    ],
    notes: [
      `The paper column is to be filled from Table 2 of ${PAPER} (not found in the sources ` +
      "searched, so left as —).",
      "The authors'-code column: PTB, 2x200 LSTM, 6 epochs, measured with the authors' code " +
      "(issue 10's fidelity section); ST-LSTM there is at density 0.33 with uniform init.",
      "Sparse runs also sparsify the embedding and the decoder. small-dense shrinks the hidden " +
      "size only, so it has as many parameters as a model with sparse gate matrices and a dense " +
      "embedding and decoder. SNFS needs momentum, so it runs with momentum 0.9 at a tenth of " +
      "the learning rate (the same step size).",
    ],
  },
  table3: {
    id: "table3",
    title: "Table 3: PTB, recurrent highway network: dense against ST-RHN",
    metric: "ppl",
    references: [{ header: "paper test ppl", values: {} }],
    notes: [
      `The paper column is to be filled from Table 3 of ${PAPER} (not found in the sources ` +
      "searched, so left as —).",
      "The sparsities 0.53 and 0.67 are to be checked against the paper's Table 3.",
    ],
  },
  table4: {
    id: "table4",
    title: "Table 4: IMDB, dense LSTM against ST-LSTM at ε = 10 (95.69% sparse)",
    metric: "acc",
    references: [
      { header: "paper test acc", values: {} },
      { header: "authors' code, 8 epochs", values: { dense: "84.6%", "st-lstm": "79.1%" } },
    ],
    notes: [
      `The paper column is to be filled from Table 4 of ${PAPER} (not found in the sources ` +
      "searched, so left as —).",
      "The authors'-code column: IMDB, 8 epochs, measured with the authors' code (issue 10's " +
      "fidelity section).",
    ],
  },
};

/** The runs of `table` at `scale`, in index order. */
export function tableRuns(table: TableId, scale: Scale, paths: DataPaths): RunSpec[] {
  switch (table) {
    case "table2":
      return table2Runs(scale, paths);
    case "table3":
      return table3Runs(scale, paths);
    case "table4":
      return table4Runs(scale, paths);
  }
}

const percent = (s: number) => String(Math.round(s * 100));

function table2Runs(scale: Scale, paths: DataPaths): RunSpec[] {
  const common = {
    paper: ["--preset", "large", "--data", join(paths.dataRoot, "ptb"), "--log-every", "200"],
    small: [
      ...["--preset", "small", "--data", join(paths.dataRoot, "ptb")],
      ...["--epochs", "2", "--max-steps", "200", "--eval-max-tokens", "20000", "--log-every", "50"],
    ],
    smoke: [...tinyLm(paths), "--optimizer", "sgd", "--momentum", "0", "--lr", "1"],
  }[scale];
  // SNFS grows by momentum: the same step size as plain SGD at lr, with momentum 0.9.
  const lr = { paper: 20, small: 20, smoke: 1 }[scale];
  const runs: RunSpec[] = [{
    name: "dense",
    method: "dense",
    args: [...common, "--method", "dense"],
  }];
  for (const sparsity of [0.67, 0.8]) {
    const sparse = (method: string, ...more: string[]) => [
      ...common,
      ...["--method", method, "--sparsity", String(sparsity)],
      ...["--sparse-embedding", "--sparse-decoder", ...more],
    ];
    const p = percent(sparsity);
    // small-dense shrinks the hidden size only, so its embedding alone would outgrow a model
    // with a sparse embedding: it matches the nonzeros of sparse gate matrices.
    const smallDense = [...common, "--method", "small-dense", "--sparsity", String(sparsity)];
    runs.push(
      { name: `small-dense-${p}`, method: "small-dense", sparsity, args: smallDense },
      { name: `set-${p}`, method: "SET", sparsity, args: sparse("set") },
      {
        name: `snfs-${p}`,
        method: "SNFS",
        sparsity,
        args: sparse("snfs", "--momentum", "0.9", "--lr", String(lr / 10)),
      },
      { name: `rigl-${p}`, method: "RigL", sparsity, args: sparse("rigl") },
      {
        name: `st-lstm-uniform-${p}`,
        method: "ST-LSTM (uniform)",
        sparsity,
        args: sparse("strnn", "--init", "uniform"),
      },
      {
        name: `st-lstm-er-${p}`,
        method: "ST-LSTM (ER)",
        sparsity,
        args: sparse("strnn", "--init", "er"),
      },
    );
  }
  return runs;
}

function table3Runs(scale: Scale, paths: DataPaths): RunSpec[] {
  const ptb = join(paths.dataRoot, "ptb");
  const common = {
    paper: ["--preset", "rhn", "--data", ptb, "--log-every", "200"],
    small: [
      ...["--preset", "rhn", "--data", ptb, "--depth", "3"],
      ...["--embed-size", "200", "--hidden-size", "200"],
      ...["--epochs", "2", "--max-steps", "200", "--eval-max-tokens", "20000"],
      ...["--log-every", "50"],
    ],
    // The preset's RHN, shrunk: tied weights need the embedding as wide as the state.
    smoke: ["--preset", "rhn", ...tinyLm(paths, 32), "--depth", "2", "--lr", "1"],
  }[scale];
  return [
    { name: "dense", method: "dense", args: [...common, "--method", "dense"] },
    ...[0.53, 0.67].map((sparsity) => ({
      name: `st-rhn-${percent(sparsity)}`,
      method: "ST-RHN",
      sparsity,
      args: [...common, "--method", "strnn", "--sparsity", String(sparsity)],
    })),
  ];
}

function table4Runs(scale: Scale, paths: DataPaths): RunSpec[] {
  const imdb = join(paths.dataRoot, "imdb");
  const common = {
    paper: ["--preset", "imdb", "--data", imdb, "--log-every", "20"],
    small: [
      ...["--preset", "imdb", "--data", imdb, "--embed-size", "128", "--hidden-size", "128"],
      ...["--epochs", "3", "--eval-max-tokens", "50000", "--log-every", "10"],
    ],
    smoke: [
      ...["--task", "classifier", "--data", join(paths.repoRoot, "fixtures/sentiment")],
      ...["--embed-size", "8", "--hidden-size", "8", "--max-length", "20", "--batch-size", "4"],
      ...["--epochs", "2", "--max-steps", "2", "--log-every", "0"],
    ],
  }[scale];
  // The imdb preset's ε = 10 and sparse embedding apply to the sparse run only.
  const sparse = scale === "smoke" ? ["--epsilon", "1", "--sparse-embedding"] : [];
  return [
    { name: "dense", method: "dense", args: [...common, "--method", "dense"] },
    { name: "st-lstm", method: "ST-LSTM", args: [...common, "--method", "strnn", ...sparse] },
  ];
}

/**
 * A language model small enough for a test: 2x32 on fixtures/tinylm, 2
 * epochs of 2 steps. (Much smaller, and small-dense at 67% would have to
 * be smaller than a model of one unit.)
 */
function tinyLm(paths: DataPaths, embedSize = 8): string[] {
  return [
    ...["--data", join(paths.repoRoot, "fixtures/tinylm"), "--embed-size", String(embedSize)],
    ...["--hidden-size", "32", "--bptt", "5", "--batch-size", "4"],
    ...["--epochs", "2", "--max-steps", "2", "--log-every", "0"],
  ];
}
