import assert from "node:assert/strict";
import { join } from "node:path";
import { tableRuns } from "../../src/reproduce/tables.ts";
import { assertUserFacingError, REPO_ROOT, runCli, withTempDir } from "../helpers.ts";

/** The markdown table's lines of a report. */
async function tableOf(report: string): Promise<string[]> {
  return (await Deno.readTextFile(report)).split("\n").filter((l) => l.startsWith("|"));
}

Deno.test("reproduce: a local run writes the table, resumes, and collecting gives the same", async () => {
  await withTempDir(async (dir) => {
    const runs = join(dir, "runs");
    const local = join(dir, "local.md");
    // Table 2: every baseline at both sparsities.
    const args = ["table2", "--scale", "smoke", "--runs", runs, "--report", local];
    const first = await runCli("reproduce", args);
    assert.equal(first.code, 0, first.stderr);
    const table = await tableOf(local);
    assert.equal(table.length, 2 + 13);
    assert.match(
      table[2],
      /^\| `dense` \| dense \| 0\.0% \| 2 of 2 \| [\d.]+ \| [\d.]+ \| — \| 117\.4 \|/,
    );
    for (const row of table.slice(3)) assert.match(row, /\| 2 of 2 \| [\d.]+ \| [\d.]+ \|/);
    assert.match(
      table[7],
      /^\| `st-lstm-uniform-67` \| ST-LSTM \(uniform\) \| 67\.0% .*\| 137\.9 \|/,
    );
    const report = await Deno.readTextFile(local);
    assert.match(report, /Made by `deno task reproduce table2 --scale smoke .*` in \d+ s on /);
    assert.ok(report.includes("deno task train --data fixtures/tinylm"));

    // Again: the finished runs are kept, not trained again.
    const before = await Deno.stat(join(runs, "dense.sparrow"));
    const again = await runCli("reproduce", args);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /already holds a run trained for 2 epochs/);
    assert.deepEqual((await Deno.stat(join(runs, "dense.sparrow"))).mtime, before.mtime);

    // The runs' checkpoints copied off a cluster's shared volume give the same table.
    const shared = join(dir, "shared");
    await Deno.mkdir(shared);
    for (const entry of Deno.readDirSync(runs)) {
      await Deno.copyFile(join(runs, entry.name), join(shared, entry.name));
    }
    const collected = join(dir, "collected.md");
    const collect = await runCli("reproduce", [
      ...["table2", "--scale", "smoke", "--collect", shared, "--report", collected],
    ]);
    assert.equal(collect.code, 0, collect.stderr);
    assert.deepEqual(await tableOf(collected), table);
    assert.match(await Deno.readTextFile(collected), /Collected by `deno task reproduce/);
  });
});

Deno.test("reproduce --index i trains run i only; --collect shows the others as not run", async () => {
  await withTempDir(async (dir) => {
    const runs = tableRuns("table4", "smoke", { dataRoot: "", repoRoot: REPO_ROOT });
    const result = await runCli("reproduce", [
      ...["table4", "--scale", "smoke", "--index", "1", "--runs", dir],
    ]);
    assert.equal(result.code, 0, result.stderr);
    // Only run 1's files: its checkpoint, best checkpoint and report.
    const files = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    const name = runs[1].name;
    assert.deepEqual(files, [`${name}.best.sparrow`, `${name}.report.html`, `${name}.sparrow`]);

    const report = join(dir, "report.md");
    const collect = await runCli("reproduce", [
      ...["table4", "--scale", "smoke", "--collect", dir, "--report", report],
    ]);
    assert.equal(collect.code, 0, collect.stderr);
    assert.match(collect.stdout, /1 of 2 runs not run yet/);
    const table = await tableOf(report);
    assert.match(table[2], /^\| `dense` \| dense \| — \| not run \|.*\| 84\.6% \|/);
    // The best epoch by validation, whichever of the two it was.
    assert.match(
      table[3],
      /^\| `st-lstm` \| ST-LSTM \| [\d.]+% \| [12] of 2 \| [\d.]+% \| [\d.]+% \|/,
    );
  });
});

Deno.test("reproduce: a bad table or index is one error line", async () => {
  await withTempDir(async (dir) => {
    assertUserFacingError(await runCli("reproduce", ["table9", "--runs", dir]), "table9");
    assertUserFacingError(
      await runCli("reproduce", ["table4", "--scale", "smoke", "--index", "2", "--runs", dir]),
      "--index 2",
      "0 to 1",
    );
    assertUserFacingError(
      await runCli("reproduce", ["table4", "--index", "0", "--collect", dir]),
      "--index",
      "--collect",
    );
  });
});
