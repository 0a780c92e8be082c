import assert from "node:assert/strict";
import { join } from "node:path";
import { UserError } from "../../src/spec/errors.ts";
import { exists, findOne, readText, requireDirectory, splitLines } from "../../src/data/files.ts";

Deno.test("splitLines drops CR and the empty piece after a final newline", () => {
  assert.deepEqual(splitLines("a\r\nb\n\nc\n"), ["a", "b", "", "c"]);
  assert.deepEqual(splitLines("a\nb"), ["a", "b"]);
  assert.deepEqual(splitLines(""), []);
  assert.deepEqual(splitLines("\n"), [""]);
});

Deno.test("findOne returns the single match and refuses two", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sparrow-files-" });
  try {
    assert.equal(await findOne(dir, ["a.txt", "b.txt"]), undefined);
    await Deno.writeTextFile(join(dir, "b.txt"), "");
    assert.equal(await findOne(dir, ["a.txt", "b.txt"]), join(dir, "b.txt"));
    await Deno.writeTextFile(join(dir, "a.txt"), "");
    await assert.rejects(findOne(dir, ["a.txt", "b.txt"]), /both .*a\.txt and .*b\.txt exist/);
    assert.equal(await exists(join(dir, "a.txt")), true);
    assert.equal(await exists(join(dir, "c.txt")), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("missing or wrong-kind paths are user errors naming the path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sparrow-files-" });
  try {
    const file = join(dir, "f.txt");
    await Deno.writeTextFile(file, "text");
    assert.equal(await readText(file), "text");
    await requireDirectory(dir, "data directory");
    await assert.rejects(
      requireDirectory(file, "data directory"),
      (err: unknown) => err instanceof UserError && err.message.includes("is not a directory"),
    );
    await assert.rejects(
      requireDirectory(join(dir, "gone"), "data directory"),
      /data directory ".*gone" does not exist/,
    );
    await assert.rejects(readText(join(dir, "gone.txt")), /gone\.txt" does not exist/);
    await assert.rejects(readText(dir), /is a directory/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
