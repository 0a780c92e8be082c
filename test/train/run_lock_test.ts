import assert from "node:assert/strict";
import { writeFileAtomic } from "../../src/spec/atomic.ts";
import { acquireRunLock } from "../../src/train/run_lock.ts";
import { train } from "../../src/train/train.ts";
import { tinyLmConfig, withTempDir } from "../helpers.ts";

/** The id of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

Deno.test("a run's lock holds its process id and refuses a second holder until released", async () => {
  await withTempDir(async (dir) => {
    const out = `${dir}/sub/run.sparrow`;
    const lock = await acquireRunLock(out);
    assert.equal(lock.path, `${out}.lock`);
    assert.equal((await Deno.readTextFile(lock.path)).trim(), String(Deno.pid));
    await assert.rejects(
      () => acquireRunLock(out),
      (err: Error) =>
        err.name === "UserError" &&
        err.message.includes(`another training (process ${Deno.pid}) is writing ${out}`) &&
        err.message.includes(`delete ${out}.lock`),
    );
    await lock.release();
    assert.equal(await exists(lock.path), false);
    await lock.release(); // twice is harmless
    const again = await acquireRunLock(out);
    await again.release();
    // Only the lock's temporary file was ever beside it, and it is gone.
    assert.deepEqual([...Deno.readDirSync(`${dir}/sub`)], []);
  });
});

Deno.test("a lock left by a process that is gone is taken over", async () => {
  await withTempDir(async (dir) => {
    const out = `${dir}/run.sparrow`;
    await Deno.writeTextFile(`${out}.lock`, `${await deadPid()}\n`);
    const lock = await acquireRunLock(out);
    assert.equal((await Deno.readTextFile(lock.path)).trim(), String(Deno.pid));
    await lock.release();
  });
});

Deno.test("two trainings on one --out: the second is refused, the first finishes", async () => {
  await withTempDir(async (dir) => {
    const config = tinyLmConfig(`${dir}/run.sparrow`);
    let second: Promise<unknown> | undefined;
    const first = await train(config, (line) => {
      // The first run holds the lock once it describes itself.
      if (line.startsWith("training ") && !second) {
        second = train(config, () => {}).then(() => "trained", (err) => err);
      }
    }, {
      // The first run's checkpoint waits for the second run to be over.
      write: async (path, data) => {
        await second;
        await writeFileAtomic(path, data);
      },
    });
    const err = await second as Error;
    assert.equal(err.name, "UserError", String(err));
    assert.match(err.message, /another training \(process \d+\) is writing .*run\.sparrow/);
    assert.equal(first.trained, true);
    assert.equal(await exists(`${config.out}.lock`), false, "the lock outlived the run");
  });
});

Deno.test("the lock is released when a run fails", async () => {
  await withTempDir(async (dir) => {
    const config = tinyLmConfig(`${dir}/run.sparrow`);
    await assert.rejects(() =>
      train(config, (line) => {
        if (line.startsWith("training ")) throw new Error("failed");
      }), /failed/);
    assert.equal(await exists(`${config.out}.lock`), false);
  });
});

Deno.test("an --out where no file can be created is refused before any training", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/a-file`;
    await Deno.writeTextFile(file, "");
    const lines: string[] = [];
    for (const out of [`${file}/run.sparrow`, "/proc/sparrow-test/run.sparrow"]) {
      await assert.rejects(
        () => train(tinyLmConfig(out), (line) => lines.push(line)),
        (err: Error) =>
          err.name === "UserError" && err.message.startsWith(`cannot write --out ${out}: `) &&
          err.message.endsWith("pass an --out in a directory you can write to"),
      );
    }
    assert.deepEqual(lines, [], "training started before --out was checked");
  });
});
