import assert from "node:assert/strict";
import { join } from "node:path";
import { checkRuns } from "../../cli/reproduce.ts";
import { configFromFlags, trainCommand } from "../../cli/train.ts";
import { indexCommand, kubernetesJob, slurmScript } from "../../src/reproduce/emit.ts";
import { resultsTable } from "../../src/reproduce/markdown.ts";
import type { RunRecord } from "../../src/reproduce/records.ts";
import { removeEarlierLock } from "../../src/reproduce/run.ts";
import { SCALES, TABLE_IDS, tableRuns, TABLES } from "../../src/reproduce/tables.ts";
import { REPO_ROOT } from "../helpers.ts";

const PATHS = { dataRoot: "/data", repoRoot: REPO_ROOT };

Deno.test("reproduce: every run of every table maps to exactly one job index", () => {
  for (const table of TABLE_IDS) {
    for (const scale of SCALES) {
      const runs = tableRuns(table, scale, PATHS);
      const names = runs.map((r) => r.name);
      assert.equal(new Set(names).size, runs.length, `${table} ${scale}: names repeat`);
      for (const name of names) assert.match(name, /^[a-z0-9-]+$/);
      // The same list every time: index i names the same run wherever it is computed.
      assert.deepEqual(tableRuns(table, scale, PATHS), runs);
      for (const run of runs) assert.ok(!run.args.includes("--out"), run.name);

      const options = {
        table,
        scale,
        runs: runs.length,
        runsDir: "/shared/runs",
        dataRoot: "/shared/datasets",
        cpus: 4,
        memoryGiB: 8,
      };
      const job = kubernetesJob({ ...options, image: "img", claim: "c", mountPath: "/shared" });
      assert.match(job, new RegExp(`^  completions: ${runs.length}$`, "m"));
      assert.ok(job.includes("\n  completionMode: Indexed\n"));
      assert.ok(job.includes('--index \\"$JOB_COMPLETION_INDEX\\"'));
      const script = slurmScript({ ...options, repoDir: "/repo" });
      assert.match(script, new RegExp(`^#SBATCH --array=0-${runs.length - 1}$`, "m"));
      assert.ok(script.includes(indexCommand(options, '"$SLURM_ARRAY_TASK_ID"')));
    }
  }
});

Deno.test("reproduce: table 2 has every method at 67% and 80%, table 4 dense and ST-LSTM", () => {
  const table2 = tableRuns("table2", "paper", PATHS);
  assert.equal(table2.length, 13);
  for (const sparsity of [0.67, 0.8]) {
    const methods = table2.filter((r) => r.sparsity === sparsity).map((r) => r.method);
    assert.deepEqual(methods, [
      "small-dense",
      "SET",
      "SNFS",
      "RigL",
      "ST-LSTM (uniform)",
      "ST-LSTM (ER)",
    ]);
  }
  assert.deepEqual(tableRuns("table4", "paper", PATHS).map((r) => r.name), ["dense", "st-lstm"]);
  for (const run of tableRuns("table2", "paper", PATHS)) {
    assert.deepEqual(run.args.slice(0, 4), ["--preset", "large", "--data", "/data/ptb"]);
  }
});

Deno.test("reproduce: the runs of every table at every scale are valid train commands here", () => {
  for (const table of TABLE_IDS) {
    for (const scale of SCALES) checkRuns(table, scale, tableRuns(table, scale, PATHS));
  }
  const bad = [{ name: "x", method: "x", args: ["--bogus"] }];
  assert.throws(
    () => checkRuns("table2", "smoke", bad),
    /table2 at scale smoke .* run x .*--bogus/,
  );
});

Deno.test("reproduce: table 3 trains the rhn preset's RHN at every scale", () => {
  for (const scale of SCALES) {
    for (const run of tableRuns("table3", scale, PATHS)) {
      const command = trainCommand().parse(run.args, { from: "user" });
      const given = (name: string) => command.getOptionValueSource(name) === "cli";
      const config = configFromFlags(command.opts(), given);
      assert.equal(config.preset, "rhn", `${scale} ${run.name}`);
      assert.equal(config.model.cell, "rhn");
      assert.equal(config.model.tieWeights, true);
      assert.deepEqual(config.model.variational, {
        embedding: 0.2,
        input: 0.65,
        hidden: 0.25,
        output: 0.65,
      });
    }
  }
});

Deno.test("reproduce: the table puts our numbers beside the references", () => {
  const runs = tableRuns("table2", "smoke", PATHS).slice(0, 2);
  const record: RunRecord = {
    name: "dense",
    epochs: 6,
    epochsPlanned: 6,
    done: true,
    reportedEpoch: 5,
    metrics: { valid_ppl: 120.04, test_ppl: 116.96 },
    seconds: 1234.4,
    sparsity: 0,
    parameters: 4651600,
    nonzeros: 4651600,
    inferenceFlops: 1,
    trainingFlops: 1,
  };
  const lines = resultsTable(TABLES.table2, runs, [record, undefined]).split("\n");
  assert.equal(lines.length, 4);
  assert.ok(lines[0].includes("paper test ppl"));
  assert.equal(
    lines[2],
    "| `dense` | dense | 0.0% | 5 of 6 | 120.0 | 117.0 | — | 117.4 | 4,651,600 of 4,651,600 " +
      "| 1.000x | 1.000x | 1234 |",
  );
  assert.ok(lines[3].startsWith("| `small-dense-67` | small-dense | 67% | not run |"), lines[3]);
});

Deno.test("reproduce --index takes over only a lock written before it started", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sparrow-test-" });
  try {
    const run = { name: "dense", method: "dense", args: [] };
    const lock = join(dir, "dense.sparrow.lock");
    const started = new Date();
    // A pod killed earlier left its lock; its process id is our own here.
    await Deno.writeTextFile(lock, `${Deno.pid}\n`);
    await Deno.utime(lock, started.getTime() / 1000 - 60, started.getTime() / 1000 - 60);
    assert.equal(await removeEarlierLock(run, dir, started), true);
    assert.equal(await Deno.stat(lock).then(() => true, () => false), false);
    // A lock taken since belongs to a training that runs now.
    await Deno.writeTextFile(lock, "1\n");
    await Deno.utime(lock, started.getTime() / 1000 + 60, started.getTime() / 1000 + 60);
    assert.equal(await removeEarlierLock(run, dir, started), false);
    assert.equal(await Deno.stat(lock).then(() => true, () => false), true);
    assert.equal(await removeEarlierLock({ ...run, name: "other" }, dir, started), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
