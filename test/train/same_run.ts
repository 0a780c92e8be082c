/**
 * The check that two training runs (one per compute path, or per thread
 * count) are the same run: shared by the compute-parity tests of each cell.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { TrainResult } from "../../src/train/train.ts";
import { maxAbsDiff } from "../helpers.ts";

function relativeDiff(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-12);
}

/**
 * `sparse` and `masked` logged the same metrics every epoch (within 1e-5
 * relative; wall time aside), ended with the same masks, and with weights
 * within 1e-4 of each tensor's largest magnitude. `what` names the case.
 */
export function assertSameRun(sparse: TrainResult, masked: TrainResult, what: string): void {
  const a = sparse.checkpoint.meta.progress.history;
  const b = masked.checkpoint.meta.progress.history;
  assert.equal(a.length, b.length);
  for (let e = 0; e < a.length; e++) {
    for (const key of Object.keys(b[e]).filter((k) => k !== "seconds")) {
      assert.ok(
        relativeDiff(a[e][key], b[e][key]) <= 1e-5,
        `${what}: epoch ${e + 1} ${key} sparse ${a[e][key]} vs masked ${b[e][key]}`,
      );
    }
  }
  for (const [name, mask] of Object.entries(masked.checkpoint.masks)) {
    assert.deepEqual(sparse.checkpoint.masks[name], mask, `${what}: mask of ${name}`);
  }
  for (const [name, p] of Object.entries(masked.checkpoint.params)) {
    const scale = Math.max(...p.data.map(Math.abs));
    const diff = maxAbsDiff(sparse.checkpoint.params[name].data, p.data);
    assert.ok(diff <= 1e-4 * scale, `${what}: ${name} differs by ${diff} (scale ${scale})`);
  }
}
