import assert from "node:assert/strict";
import { removeStaleTempFiles, writeFileAtomic } from "../../src/spec/atomic.ts";
import { withTempDir } from "../helpers.ts";

async function entries(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("writes text and bytes, creating missing parent directories", async () => {
  await withTempDir(async (dir) => {
    await writeFileAtomic(`${dir}/a/b/text.json`, '{"x": 1}');
    assert.equal(await Deno.readTextFile(`${dir}/a/b/text.json`), '{"x": 1}');
    const bytes = Uint8Array.of(0, 1, 2, 255);
    await writeFileAtomic(`${dir}/a/bytes.bin`, bytes);
    assert.deepEqual(await Deno.readFile(`${dir}/a/bytes.bin`), bytes);
    assert.deepEqual(await entries(`${dir}/a`), ["b", "bytes.bin"]);
    assert.deepEqual(await entries(`${dir}/a/b`), ["text.json"]);
  });
});

Deno.test("replaces an existing file and leaves no temporary files", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/checkpoint.sparrow`;
    await Deno.writeTextFile(path, "old contents that are longer than the new ones");
    await writeFileAtomic(path, "new");
    assert.equal(await Deno.readTextFile(path), "new");
    await writeFileAtomic(path, new Uint8Array(3000).fill(7));
    assert.deepEqual(await Deno.readFile(path), new Uint8Array(3000).fill(7));
    assert.deepEqual(await entries(dir), ["checkpoint.sparrow"]);
  });
});

Deno.test("a write that fails midway leaves the old file intact and no temporary file", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/model.onnx`;
    await Deno.writeTextFile(path, "the previous export");
    // A stream that delivers some bytes and then fails stands in for a crash
    // or a full disk while the new contents are being written.
    const failing = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new Uint8Array(4096).fill(1));
        controller.error(new Error("disk full"));
      },
    });
    await assert.rejects(
      () => writeFileAtomic(path, failing as unknown as Uint8Array),
      /disk full/,
    );
    assert.equal(await Deno.readTextFile(path), "the previous export");
    assert.deepEqual(await entries(dir), ["model.onnx"]);
  });
});

Deno.test("a rename that fails leaves the target and no temporary file", async () => {
  await withTempDir(async (dir) => {
    // The target is a non-empty directory, so the final rename must fail.
    await Deno.mkdir(`${dir}/taken`);
    await Deno.writeTextFile(`${dir}/taken/keep.txt`, "keep");
    await assert.rejects(() => writeFileAtomic(`${dir}/taken`, "data"));
    assert.equal(await Deno.readTextFile(`${dir}/taken/keep.txt`), "keep");
    assert.deepEqual(await entries(dir), ["taken"]);
  });
});

Deno.test("concurrent writers to one path leave one complete version", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/out.txt`;
    const versions = Array.from({ length: 8 }, (_, i) => String(i).repeat(10_000));
    await Promise.all(versions.map((v) => writeFileAtomic(path, v)));
    assert.ok(versions.includes(await Deno.readTextFile(path)));
    assert.deepEqual(await entries(dir), ["out.txt"]);
  });
});

/** The id of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

Deno.test("temporary files of killed writers are removed by the next write", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/checkpoint.sparrow`;
    const dead = await deadPid();
    // Left by a writer killed with SIGKILL mid-write; ours (live) and another target's stay.
    const stale = `checkpoint.sparrow.tmp-${dead}-0a1b2c3d`;
    const live = `checkpoint.sparrow.tmp-${Deno.pid}-0a1b2c3d`;
    const otherTarget = `model.onnx.tmp-${dead}-0a1b2c3d`;
    const notOurs = `checkpoint.sparrow.tmp-notes`;
    for (const name of [stale, live, otherTarget, notOurs]) {
      await Deno.writeTextFile(`${dir}/${name}`, "partial");
    }
    await writeFileAtomic(path, "new");
    assert.deepEqual(
      await entries(dir),
      ["checkpoint.sparrow", live, notOurs, otherTarget].sort(),
    );

    await Deno.writeTextFile(`${dir}/${otherTarget.replace("0a1b", "9f8e")}`, "partial");
    const removed = await removeStaleTempFiles(`${dir}/model.onnx`);
    assert.deepEqual(
      removed.sort(),
      [
        `${dir}/${otherTarget}`,
        `${dir}/${otherTarget.replace("0a1b", "9f8e")}`,
      ].sort(),
    );
    // A missing directory is nothing to clean.
    assert.deepEqual(await removeStaleTempFiles(`${dir}/missing/x`), []);
  });
});
