import assert from "node:assert/strict";
import { join } from "node:path";
import { assertUserFacingError, runCli, withTempDir } from "../helpers.ts";
import { saveCheckpoint } from "../../src/spec/checkpoint.ts";
import { checkpointOf, randomWeights, TINY_LM } from "../export/helpers.ts";

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

/** A small LM checkpoint written to `dir`, without training. */
async function smallCheckpoint(dir: string): Promise<string> {
  const path = join(dir, "lm.sparrow");
  await saveCheckpoint(path, checkpointOf(TINY_LM, randomWeights(TINY_LM, 0.5, 1, 0.4)));
  return path;
}

Deno.test("export: --tolerance -1 is one error line naming the flag", async () => {
  await withTempDir(async (dir) => {
    const checkpoint = await smallCheckpoint(dir);
    const result = await runCli("export", [checkpoint, "--tolerance", "-1"]);
    assertUserFacingError(result, "--tolerance", "-1");
  });
});

Deno.test("export: a bundle that cannot be written is one error line naming it", async () => {
  await withTempDir(async (dir) => {
    const checkpoint = await smallCheckpoint(dir);
    const out = "/proc/sparrow-no-such-bundle";
    const result = await runCli("export", [checkpoint, "--out", out]);
    assertUserFacingError(result, out);
  });
});

Deno.test("export: a weights file that cannot be written is one error line naming it", async () => {
  await withTempDir(async (dir) => {
    const checkpoint = await smallCheckpoint(dir);
    const out = "/proc/sparrow-no-such-weights.sparrow";
    const result = await runCli("export", [checkpoint, "--weights", "csr", "--out", out]);
    assertUserFacingError(result, out);
  });
});
