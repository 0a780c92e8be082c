import assert from "node:assert/strict";
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

Deno.test("infer: one output line per input line, blank and unknown-word lines marked -", async () => {
  await withTempDir(async (dir) => {
    const { path } = await trainTiny("classifier", dir, { epochs: 1, maxSteps: 1 });
    const bundle = join(dir, "cls-bundle");
    await exportBundle(path, bundle);
    const input = join(dir, "reviews.txt");
    const lines = ["the film was good", "", "zzqx qqzy", "   ", "a tedious picture"];
    await Deno.writeTextFile(input, lines.join("\n") + "\n");
    const result = await runCli("infer", ["classify", bundle, input]);
    assert.equal(result.code, 0, result.stderr);
    const out = result.stdout.split("\n");
    assert.equal(out.pop(), "");
    assert.equal(out.length, lines.length);
    out.forEach((line, i) => assert.ok(line.endsWith(`\t${lines[i]}`), line));
    for (const i of [1, 2, 3]) assert.ok(out[i].startsWith("-\t-\t"), out[i]);
    for (const i of [0, 4]) assert.ok(!out[i].startsWith("-\t"), out[i]);
  });
});

Deno.test("infer: bad metadata and a negative --length are one error line each", async () => {
  await withTempDir(async (dir) => {
    const { path } = await trainTiny("lm", dir, { epochs: 1, maxSteps: 1 });
    const bundle = join(dir, "lm-bundle");
    await exportBundle(path, bundle);
    const length = await runCli("infer", ["generate", bundle, "--length", "-3"]);
    assertUserFacingError(length, "--length", "-3");
    const metadataPath = join(bundle, "metadata.json");
    const metadata = JSON.parse(await Deno.readTextFile(metadataPath));
    delete metadata.model;
    await Deno.writeTextFile(metadataPath, JSON.stringify(metadata));
    assertUserFacingError(await runCli("infer", ["score", bundle]), metadataPath, '"model"');
  });
});
