import assert from "node:assert/strict";
import { join } from "node:path";
import { assertUserFacingError, runCli, withTempDir } from "../helpers.ts";

Deno.test("export: a corrupt checkpoint is one error line naming it, and nothing is written", async () => {
  await withTempDir(async (dir) => {
    const checkpoint = join(dir, "checkpoint.sparrow");
    await Deno.writeTextFile(checkpoint, "SPARROW1 and then a truncated header");
    const out = join(dir, "bundle");
    const result = await runCli("export", [checkpoint, "--out", out]);
    assertUserFacingError(result, checkpoint);
    assert.equal(await Deno.stat(out).then(() => true, () => false), false);
  });
});
