import assert from "node:assert/strict";
import {
  formatDuration,
  liveLine,
  plainLine,
  progressBar,
  ProgressMeter,
  remainingSeconds,
} from "../../src/train/progress.ts";
import { collectLog, tinyLmConfig, withTempDir } from "../helpers.ts";
import { train } from "../../src/train/train.ts";
import { join } from "node:path";

Deno.test("the bar fills in proportion, clamped to its width", () => {
  assert.equal(progressBar(0, 10), "[          ]");
  assert.equal(progressBar(0.5, 10), "[=====     ]");
  assert.equal(progressBar(1, 10), "[==========]");
  assert.equal(progressBar(1.7, 4), "[====]");
});

Deno.test("durations read as seconds, minutes or hours; unknown as ?", () => {
  assert.equal(formatDuration(42.4), "42s");
  assert.equal(formatDuration(185), "3m05s");
  assert.equal(formatDuration(7620), "2h07m");
  assert.equal(formatDuration(undefined), "?");
  assert.equal(formatDuration(Infinity), "?");
});

Deno.test("the time left scales the time so far by the work left", () => {
  assert.equal(remainingSeconds(25, 100, 10), 30);
  assert.equal(remainingSeconds(100, 100, 10), 0);
  assert.equal(remainingSeconds(0, 100, 0), undefined);
});

const at = {
  epoch: 2,
  epochs: 40,
  step: 331,
  stepsPerEpoch: 663,
  loss: 4.56789,
  tokensPerSecond: 12345.6,
  epochLeft: 125,
  runLeft: 4000,
};

Deno.test("the live line: epoch, bar, steps, loss, tokens per second, ETAs", () => {
  assert.equal(
    liveLine(at),
    "epoch 2/40 [============            ] 331/663 loss 4.568 12,346 tok/s ETA epoch 2m05s run 1h06m",
  );
  assert.equal(plainLine(at), "epoch 2 step 331/663 loss 4.568 12346 tok/s");
});

Deno.test("plain mode logs every logEvery steps; live mode redraws one line and clears it", () => {
  let now = 0;
  const plain = collectLog();
  const meter = new ProgressMeter({
    log: plain.log,
    mode: "plain",
    logEvery: 2,
    epochs: 2,
    stepsPerEpoch: 4,
    firstEpoch: 0,
    now: () => now,
  });
  meter.startEpoch(0);
  for (let s = 1; s <= 4; s++) now += 1000, meter.step(s, 10 * s, s);
  assert.deepEqual(plain.lines, [
    "epoch 1 step 2/4 loss 1.000 10 tok/s",
    "epoch 1 step 4/4 loss 1.000 10 tok/s",
  ]);

  const written: string[] = [];
  const live = collectLog();
  now = 0;
  const terminal = new ProgressMeter({
    log: live.log,
    mode: "live",
    logEvery: 1,
    epochs: 2,
    stepsPerEpoch: 4,
    firstEpoch: 0,
    write: (t) => written.push(t),
    now: () => now,
  });
  terminal.startEpoch(0);
  now += 1000, terminal.step(1, 10, 2);
  now += 1000, terminal.step(2, 20, 4);
  assert.equal(written.length, 2);
  assert.ok(written[1].startsWith("\r") && written[1].endsWith("\x1b[K"), "redrawn in place");
  assert.equal(
    written[1].slice(1, -3),
    "epoch 1/2 [============            ] 2/4 loss 2.000 10 tok/s ETA epoch 2s run 6s",
  );
  terminal.log("checkpoint written");
  assert.equal(written.at(-1), "\r\x1b[K");
  assert.deepEqual(live.lines, ["checkpoint written"]);
});

Deno.test("training in plain mode prints today's step lines", async () => {
  await withTempDir(async (dir) => {
    const { lines, log } = collectLog();
    await train(tinyLmConfig(join(dir, "lm.sparrow"), { logEvery: 1 }), log);
    assert.ok(lines.some((l) => /^epoch 1 step 1\/2 loss \d+\.\d{3} \d+ tok\/s$/.test(l)));
    assert.ok(!lines.some((l) => l.includes("\r")));
  });
});
