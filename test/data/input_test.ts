import assert from "node:assert/strict";
import { join } from "node:path";
import { DEFAULT_INPUT, loadLanguageModelInput } from "../../src/data/input.ts";
import { UserError } from "../../src/spec/errors.ts";
import { settingChanges } from "../../src/train/resume.ts";
import { REPO_ROOT, tinyLmConfig } from "../helpers.ts";

const tinylm = (name: string) => join(REPO_ROOT, "fixtures/tinylm", name);

Deno.test("input: explicit --train/--valid/--test files read like the directory", async () => {
  const fromDir = await loadLanguageModelInput(tinylm(""), { ...DEFAULT_INPUT }, {});
  const fromFiles = await loadLanguageModelInput("", {
    ...DEFAULT_INPUT,
    train: tinylm("train.txt"),
    valid: tinylm("valid.txt"),
    test: tinylm("test.txt"),
  }, {});
  assert.deepEqual(fromFiles.data.train, fromDir.data.train);
  assert.deepEqual(fromFiles.data.test, fromDir.data.test);
  assert.equal(fromFiles.source, tinylm("train.txt"));
});

Deno.test("input: --split with a valid or test file too is one line naming both", async () => {
  await assert.rejects(
    () =>
      loadLanguageModelInput("", {
        ...DEFAULT_INPUT,
        train: tinylm("train.txt"),
        valid: tinylm("valid.txt"),
        split: [0.8, 0.1, 0.1],
      }, {}),
    (err: unknown) =>
      err instanceof UserError &&
      /--split cuts .*train\.txt.*valid file is given too/.test(err.message),
  );
});

Deno.test("input: a run recorded before the input settings existed still resumes", () => {
  const config = tinyLmConfig("run.sparrow");
  const { input: _, ...before } = config;
  assert.deepEqual(settingChanges(before, config), []);
  assert.deepEqual(
    settingChanges(before, { ...config, input: { ...config.input, unit: "char" } }),
    ["--unit was word, now char"],
  );
});
