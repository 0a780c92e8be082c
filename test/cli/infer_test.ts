import { join } from "node:path";
import { exportBundle } from "../../export/bundle.ts";
import { assertUserFacingError, runCli, trainTiny, withTempDir } from "../helpers.ts";

Deno.test("infer: classify on a language-model bundle is one error line naming the bundle", async () => {
  await withTempDir(async (dir) => {
    const { path } = await trainTiny("lm", dir, { epochs: 1, maxSteps: 1 });
    const bundle = join(dir, "lm-bundle");
    await exportBundle(path, bundle);
    const input = join(dir, "reviews.txt");
    await Deno.writeTextFile(input, "a wonderful film\n");
    const result = await runCli("infer", ["classify", bundle, input]);
    assertUserFacingError(result, bundle, "classify");
  });
});

Deno.test("infer: a missing bundle is one error line naming it", async () => {
  await withTempDir(async (dir) => {
    const bundle = join(dir, "missing-bundle");
    const result = await runCli("infer", ["score", bundle, join(dir, "any.txt")]);
    assertUserFacingError(result, bundle);
  });
});
