import assert from "node:assert/strict";
import { type Command, Option } from "commander";
import { applyPreset } from "../../cli/presets.ts";
import { configFromFlags, trainCommand } from "../../cli/train.ts";
import { UserError } from "../../src/spec/errors.ts";
import { DEFAULT_LM_CONFIG } from "../../src/train/config.ts";
import {
  PRESET_NAMES,
  PRESET_SETTING_FLAGS,
  presetEntries,
  PRESETS,
} from "../../src/train/presets.ts";
import { settingChanges } from "../../src/train/resume.ts";

/** The train command with every flag a preset sets, as a build with all of issue 10 has. */
function fullCommand(): Command {
  const command = trainCommand();
  for (const flag of Object.values(PRESET_SETTING_FLAGS)) {
    if (command.options.some((o) => o.long === flag)) continue;
    command.addOption(new Option(`${flag} <value>`));
  }
  // --cell's choices grow with the cells; the full build has rhn.
  const cell = command.options.find((o) => o.long === "--cell")!;
  if (!cell.argChoices!.includes("rhn")) cell.choices([...cell.argChoices!, "rhn"]);
  return command;
}

function parse(command: Command, args: string[]) {
  const parsed = command.parse(args, { from: "user" });
  return {
    flags: parsed.opts(),
    given: (name: string) => parsed.getOptionValueSource(name) === "cli",
  };
}

Deno.test("presets: every setting of every preset has a flag", () => {
  for (const name of PRESET_NAMES) {
    for (const [path] of presetEntries(PRESETS[name].settings)) {
      assert.ok(PRESET_SETTING_FLAGS[path], `${name}: ${path} has no flag`);
    }
  }
});

Deno.test("presets: a preset sets its flags, and flags given on the command line win", () => {
  const command = fullCommand();
  const { flags, given } = parse(command, ["--preset", "large", "--hidden-size", "32"]);
  const applied = applyPreset(command, flags, given);
  assert.equal(applied.hiddenSize, 32);
  assert.equal(applied.embedSize, 1500);
  assert.equal(applied.dropout, 0.65);
  assert.equal(applied.clip, 10);
  assert.equal(applied.lrPlateau, 1.33);
  assert.equal(applied.optimizer, "sgd");
  assert.equal(applied.momentum, 0);
  assert.equal(applied.bptt, 35);
  // Flags with a commander default still take the preset's value when not given.
  assert.notEqual(flags.bptt, 35);
  const r = parse(fullCommand(), ["--preset", "rhn"]);
  const rhn = applyPreset(command, r.flags, r.given);
  assert.equal(rhn.cell, "rhn");
  assert.equal(rhn.depth, 10);
  assert.equal(rhn.hiddenSize, 830);
  assert.equal(rhn.tieWeights, true);
  assert.equal(rhn.lrPlateau, 1.11);
});

Deno.test("presets: imdb's ε and sparse embedding apply to sparse methods only", () => {
  const command = fullCommand();
  const run = (...args: string[]) => {
    const { flags, given } = parse(fullCommand(), ["--preset", "imdb", ...args]);
    return applyPreset(command, flags, given);
  };
  const sparse = run("--method", "strnn");
  assert.equal(sparse.task, "classifier");
  assert.equal(sparse.epsilon, 10);
  assert.equal(sparse.sparseEmbedding, true);
  assert.equal(sparse.maxLength, 100);
  assert.equal(sparse.keep, "last");
  assert.equal(sparse.batchSize, 256);
  assert.equal(sparse.lr, 5e-4);
  const dense = run("--method", "dense");
  assert.equal(dense.epsilon, undefined);
  assert.equal(dense.sparseEmbedding, false);
  // A sparsity given on the command line replaces the preset's ε.
  assert.equal(run("--sparsity", "0.9").epsilon, undefined);
  assert.equal(run("--keep", "first").keep, "first");
});

Deno.test("presets: this build applies a preset fully or names every flag it lacks", () => {
  const command = trainCommand();
  for (const name of PRESET_NAMES) {
    const lacking = presetEntries(PRESETS[name].settings)
      .filter(([path, value]) => {
        const option = command.options.find((o) => o.long === PRESET_SETTING_FLAGS[path]);
        return !option || (option.argChoices && !option.argChoices.includes(String(value)));
      })
      .map(([path]) => PRESET_SETTING_FLAGS[path]);
    const { flags, given } = parse(trainCommand(), ["--preset", name]);
    if (lacking.length === 0) {
      const config = configFromFlags(flags, given);
      assert.equal(config.preset, name);
      continue;
    }
    assert.throws(() => configFromFlags(flags, given), (err: Error) => {
      assert.ok(err instanceof UserError);
      for (const flag of lacking) assert.ok(err.message.includes(flag), `${name}: ${flag}`);
      return true;
    });
  }
});

Deno.test("presets: without --preset nothing changes, and the name does not block a resume", () => {
  const { flags, given } = parse(trainCommand(), []);
  const config = configFromFlags(flags, given);
  assert.equal(config.preset, undefined);
  assert.equal(config.model.hiddenSize, DEFAULT_LM_CONFIG.model.hiddenSize);
  assert.deepEqual(settingChanges({ ...config, preset: "small" }, config), []);
  assert.equal(settingChanges({ ...config, preset: "small" }, { ...config, bptt: 7 }).length, 1);
});

Deno.test("presets: rhn sets the RHN's own settings, variational dropout included", () => {
  const { flags, given } = parse(trainCommand(), ["--preset", "rhn", "--epochs", "1"]);
  const config = configFromFlags(flags, given);
  assert.equal(config.task, "lm");
  assert.equal(config.model.cell, "rhn");
  assert.equal(config.model.depth, 10);
  assert.equal(config.model.tieWeights, true);
  assert.equal(config.model.dropout, 0);
  assert.deepEqual(config.model.variational, {
    embedding: 0.2,
    input: 0.65,
    hidden: 0.25,
    output: 0.65,
  });
  // A rate given on the command line still wins.
  const r = parse(trainCommand(), ["--preset", "rhn", "--dropout-hidden", "0.1"]);
  const overridden = configFromFlags(r.flags, r.given);
  assert.equal(overridden.model.variational?.hidden, 0.1);
});

Deno.test("presets: each setting is named by its path in the training config it gives", () => {
  for (const name of PRESET_NAMES) {
    const { flags, given } = parse(trainCommand(), ["--preset", name]);
    const config = configFromFlags(flags, given);
    for (const [path, value] of presetEntries(PRESETS[name].settings)) {
      // deno-lint-ignore no-explicit-any
      const got = path.split(".").reduce((v: any, key) => v?.[key], config);
      assert.deepEqual(got, value, `${name}: ${path}`);
    }
  }
});
