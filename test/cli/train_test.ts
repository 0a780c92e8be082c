import assert from "node:assert/strict";
import { join } from "node:path";
import { checkFlagConflicts, configFromFlags, trainCommand } from "../../cli/train.ts";
import { methodNames } from "../../src/core/methods.ts";
import { assertUserFacingError, runCli, withTempDir } from "../helpers.ts";

/** Not --backend auto: its WebGPU probe prints what it found (see src/backend/auto.ts). */
const WASM = ["--backend", "wasm"];

Deno.test("train: a missing data directory is one error line naming it", async () => {
  await withTempDir(async (dir) => {
    const missing = join(dir, "no-such-data");
    const result = await runCli("train", [
      "--data",
      missing,
      "--out",
      join(dir, "c.sparrow"),
      ...WASM,
    ]);
    assertUserFacingError(result, missing);
    assert.equal(result.stdout, "");
  });
});

Deno.test("train: an empty training file is one error line naming the file", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(join(dir, "train.txt"), "");
    await Deno.writeTextFile(join(dir, "valid.txt"), "a few words here\n");
    const result = await runCli("train", ["--data", dir, "--out", join(dir, "c.sparrow"), ...WASM]);
    assertUserFacingError(result, join(dir, "train.txt"));
    // Nothing was trained, so no checkpoint appeared.
    assert.equal(await Deno.stat(join(dir, "c.sparrow")).then(() => true, () => false), false);
  });
});

/** Flags that keep a run short even if a check under test failed to stop it. */
const SHORT = [
  ...["--epochs", "1", "--max-steps", "1", "--hidden-size", "4", "--log-every", "0"],
  ...WASM,
];

Deno.test("train: sparsity outside [0, 1) is one error line naming the flag and value", async () => {
  await withTempDir(async (dir) => {
    for (const value of ["1.5", "-0.1"]) {
      const out = join(dir, "c.sparrow");
      const result = await runCli("train", ["--sparsity", value, "--out", out, ...SHORT]);
      assertUserFacingError(result, "--sparsity", value);
    }
  });
});

Deno.test("train: an unknown flag is one error line naming it", async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "c.sparrow");
    const result = await runCli("train", ["--bogus-flag", "3", "--out", out, ...SHORT]);
    assertUserFacingError(result, "--bogus-flag");
  });
});

Deno.test("train --help lists every method and every sparse-training option", () => {
  const help = trainCommand().helpInformation();
  for (const method of methodNames) assert.ok(help.includes(method), method);
  for (
    const flag of [
      "--sparsity",
      "--epsilon",
      "--init",
      "--prune",
      "--grow",
      "--prune-rate",
      "--schedule",
      "--update-every",
      "--redistribution",
      "--sparse-embedding",
      "--sparse-decoder",
      "--backend",
      "--seed",
    ]
  ) {
    assert.ok(help.includes(flag), flag);
  }
});

Deno.test("train flags become the training configuration", () => {
  const flags = trainCommand().parse([
    "--task",
    "classifier",
    "--data",
    "fixtures/sentiment",
    "--method",
    "rigl",
    "--sparsity",
    "0.9",
    "--grow",
    "random",
    "--update-every",
    "50",
    "--hidden-size",
    "32",
    "--epochs",
    "2",
    "--optimizer",
    "sgd",
    "--momentum",
    "0.5",
    "--seed",
    "7",
    "--sparse-embedding",
  ], { from: "user" }).opts();
  const config = configFromFlags(flags);
  assert.equal(config.task, "classifier");
  assert.equal(config.data, "fixtures/sentiment");
  assert.equal(config.sparse.method, "rigl");
  assert.equal(config.sparse.sparsity, 0.9);
  assert.equal(config.sparse.grow, "random");
  // Settings not given keep the method's preset.
  assert.equal(config.sparse.init, "erk");
  assert.equal(config.sparse.updateEvery, 50);
  assert.equal(config.sparse.sparseEmbedding, true);
  assert.equal(config.sparse.sparseDecoder, false);
  assert.equal(config.model.hiddenSize, 32);
  assert.equal(config.model.layers, 1);
  assert.equal(config.epochs, 2);
  assert.equal(config.optimizer.name, "sgd");
  assert.equal(config.optimizer.momentum, 0.5);
  assert.equal(config.seed, 7);
  assert.equal(config.backend, "wasm");
});

Deno.test("train: conflicting options are refused in one line each", () => {
  const conflicts = (args: string[]) => {
    const command = trainCommand().parse(args, { from: "user" });
    return () =>
      checkFlagConflicts(command.opts(), (n) => command.getOptionValueSource(n) === "cli");
  };
  assert.throws(conflicts(["--sparsity", "0.9", "--epsilon", "2"]), /--sparsity and --epsilon/);
  assert.throws(
    conflicts(["--method", "dense", "--sparsity", "0.5"]),
    /--method dense has no sparse weights, so --sparsity means nothing there/,
  );
  // small-dense sizes itself by the sparsity; the default sparsity conflicts with nothing.
  conflicts(["--method", "small-dense", "--sparsity", "0.5"])();
  conflicts(["--method", "dense"])();
  conflicts(["--epsilon", "2"])();
});

Deno.test("train: each bad setup is exactly one error line, and nothing is written", async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "c.sparrow");
    const cases: [string[], string[]][] = [
      [["--sparsity", "0.9", "--epsilon", "2"], ["--sparsity", "--epsilon"]],
      [["--method", "dense", "--sparsity", "0.5"], ["--method dense", "--sparsity"]],
      [["--epsilon", "1000"], ["--epsilon 1000", "dense"]],
      [["--hidden-size", "100000"], ["--hidden-size 100000"]],
      [["--lr", "1e9"], ["training diverged", "epoch 1", "--lr"]],
    ];
    for (const [args, names] of cases) {
      // The last --hidden-size wins, so SHORT keeps the cases that must not be refused small.
      const withShort = args.includes("--hidden-size") ? [...SHORT, ...args] : [...args, ...SHORT];
      const result = await runCli("train", [...withShort, "--out", out, "--epochs", "2"]);
      assertUserFacingError(result, ...names);
      assert.equal(await Deno.stat(out).then(() => true, () => false), false, args.join(" "));
    }
    for (const bad of ["/proc/sparrow/c.sparrow", join(out, "under-a-file.sparrow")]) {
      if (bad.startsWith(out)) await Deno.writeTextFile(out, "");
      const result = await runCli("train", ["--out", bad, ...SHORT]);
      assertUserFacingError(result, `--out ${bad}`);
      assert.equal(result.stdout, "");
    }
  });
});

Deno.test("train: a finished run is kept, an --out in use is refused", async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "c.sparrow");
    const first = await runCli("train", ["--out", out, ...SHORT]);
    assert.equal(first.code, 0, first.stderr);
    const trained = await Deno.readFile(out);

    const again = await runCli("train", ["--out", out, ...SHORT]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stderr, "");
    assert.deepEqual(again.stdout.trim().split("\n"), [
      `${out} already holds a run trained for 1 epochs; nothing to train ` +
      "(pass --epochs above 1 to extend it, or --restart to start over)",
    ]);
    assert.deepEqual(await Deno.readFile(out), trained);

    // A lock held by a live process (this test) stops a second training.
    await Deno.writeTextFile(`${out}.lock`, `${Deno.pid}\n`);
    const locked = await runCli("train", ["--out", out, ...SHORT, "--restart"]);
    assertUserFacingError(locked, `another training (process ${Deno.pid})`, `${out}.lock`);
    assert.deepEqual(await Deno.readFile(out), trained);
  });
});
