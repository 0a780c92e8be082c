/**
 * Train/valid/test splits made from one file: `--split 0.8,0.1,0.1`.
 * Labelled examples are split per class (stratified), in a seeded random
 * order, so every split keeps the classes' proportions and the same file,
 * fractions and seed always give the same splits. Running text (a language
 * model's corpus) is cut into three consecutive pieces instead, because its
 * order is what the model learns.
 *
 * @module
 */

import { Rng } from "../core/rng.ts";
import { check, UserError } from "../spec/errors.ts";

/** The fractions of train, valid and test, summing to 1. */
export type SplitFractions = readonly [train: number, valid: number, test: number];

/** The example indices of each split, each in ascending (file) order. */
export interface SplitIndices {
  train: number[];
  valid: number[];
  test: number[];
}

/** Parses `--split`'s value, three fractions such as `0.8,0.1,0.1`. */
export function parseSplit(value: string): SplitFractions {
  const parts = value.split(",").map((p) => p.trim());
  const numbers = parts.map(Number);
  if (
    parts.length !== 3 || parts.some((p) => p === "") || numbers.some((n) => !Number.isFinite(n))
  ) {
    throw new UserError(
      `--split "${value}" is not three fractions; pass train,valid,test such as 0.8,0.1,0.1`,
    );
  }
  return checkSplit(numbers);
}

/** Validates split fractions: three, each in (0, 1), summing to 1. */
export function checkSplit(fractions: readonly number[]): SplitFractions {
  check(
    fractions.length === 3,
    `--split needs three fractions (train,valid,test), got ${fractions.length}; pass e.g. 0.8,0.1,0.1`,
  );
  check(
    fractions.every((f) => f > 0 && f < 1),
    `--split ${fractions.join(",")}: every fraction must be between 0 and 1; pass e.g. 0.8,0.1,0.1`,
  );
  const sum = fractions[0] + fractions[1] + fractions[2];
  check(
    Math.abs(sum - 1) < 1e-6,
    `--split ${fractions.join(",")} sums to ${+sum.toFixed(6)}, not 1; pass e.g. 0.8,0.1,0.1`,
  );
  return [fractions[0], fractions[1], fractions[2]];
}

/**
 * Splits examples with labels `labels` by class: each class's examples are
 * shuffled with a generator seeded by `seed`, and its first share goes to
 * valid, the next to test, the rest to train (which keeps at least one of
 * every class). Shares are rounded per class.
 */
export function stratifiedSplit(
  labels: readonly string[],
  fractions: SplitFractions,
  seed: number,
): SplitIndices {
  const byClass = new Map<string, number[]>();
  labels.forEach((label, i) => {
    const list = byClass.get(label);
    if (list) list.push(i);
    else byClass.set(label, [i]);
  });
  const rng = new Rng(seed);
  const out: SplitIndices = { train: [], valid: [], test: [] };
  // Sorted, so the split does not depend on which class the file starts with.
  for (const label of [...byClass.keys()].sort()) {
    const members = rng.shuffle(byClass.get(label)!);
    const n = members.length;
    const valid = Math.min(Math.round(n * fractions[1]), Math.max(0, n - 1));
    const test = Math.min(Math.round(n * fractions[2]), Math.max(0, n - 1 - valid));
    out.valid.push(...members.slice(0, valid));
    out.test.push(...members.slice(valid, valid + test));
    out.train.push(...members.slice(valid + test));
  }
  for (const list of [out.train, out.valid, out.test]) list.sort((a, b) => a - b);
  return out;
}

/**
 * Cuts `length` items of running text into three consecutive pieces, the
 * first `fractions[0]` for train, then valid, then test: `[start, end)` of each.
 */
export function contiguousSplit(
  length: number,
  fractions: SplitFractions,
): Record<"train" | "valid" | "test", [number, number]> {
  const a = Math.round(length * fractions[0]);
  const b = Math.round(length * (fractions[0] + fractions[1]));
  return { train: [0, a], valid: [a, b], test: [b, length] };
}
