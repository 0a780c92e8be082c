import assert from "node:assert/strict";
import {
  constantSchedule,
  cosineSchedule,
  gmpSparsity,
  linearSchedule,
  schedulesByName,
} from "../../src/core/schedule.ts";
import { UserError } from "../../src/spec/errors.ts";

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);

Deno.test("cosine starts at the initial rate, halves at the middle, ends at the floor", () => {
  for (const [initial, floor, total] of [[0.5, 0.005, 1000], [0.3, 0, 7], [0.8, 0.1, 2]]) {
    const rate = cosineSchedule(initial, floor);
    close(rate(0, total), initial);
    close(rate(total / 2, total), (initial + floor) / 2);
    close(rate(total, total), floor);
    close(rate(total * 2, total), floor);
  }
  // The default floor is 0.005.
  close(cosineSchedule(0.5)(10, 10), 0.005);
});

Deno.test("cosine decreases monotonically", () => {
  const rate = cosineSchedule(0.5);
  for (let step = 1; step <= 100; step++) {
    assert.ok(rate(step, 100) < rate(step - 1, 100));
  }
});

Deno.test("linear and constant schedules", () => {
  const linear = linearSchedule(0.6, 0.2);
  close(linear(0, 4), 0.6);
  close(linear(1, 4), 0.5);
  close(linear(4, 4), 0.2);
  assert.equal(constantSchedule(0.3)(5, 10), 0.3);
  close(schedulesByName.cosine(0.4, 0)(5, 10), 0.2);
  assert.equal(schedulesByName.constant(0.3)(99, 10), 0.3);
});

Deno.test("rates outside [0, 1] or a floor above the rate are user errors", () => {
  assert.throws(() => cosineSchedule(1.5), UserError);
  assert.throws(() => cosineSchedule(-0.1), UserError);
  assert.throws(() => cosineSchedule(0.3, 0.5), UserError);
  assert.throws(() => constantSchedule(NaN), UserError);
});

Deno.test("gmp follows the cubic schedule between its start and end", () => {
  const options = { initialSparsity: 0, finalSparsity: 0.8, startStep: 100, endStep: 200 };
  assert.equal(gmpSparsity(0, options), 0);
  assert.equal(gmpSparsity(100, options), 0);
  // Halfway: 0.8 + (0 - 0.8)·0.5³ = 0.7.
  close(gmpSparsity(150, options), 0.7);
  assert.equal(gmpSparsity(200, options), 0.8);
  assert.equal(gmpSparsity(500, options), 0.8);
  for (let t = 101; t <= 200; t++) {
    assert.ok(gmpSparsity(t, options) > gmpSparsity(t - 1, options));
  }
  const instant = { ...options, startStep: 10, endStep: 10 };
  assert.equal(gmpSparsity(9, instant), 0);
  assert.equal(gmpSparsity(10, instant), 0.8);
  assert.throws(() => gmpSparsity(0, { ...options, finalSparsity: 1 }), UserError);
  assert.throws(() => gmpSparsity(0, { ...options, endStep: 50 }), UserError);
});
