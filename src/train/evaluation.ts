/**
 * A classifier's report on its test split at the end of training, from the
 * compute path's own predictions: the numbers `deno task infer evaluate`
 * gives for the exported bundle.
 *
 * @module
 */

import { type ClassificationMetrics, classificationMetrics } from "../core/metrics.ts";
import type { Compute } from "./compute.ts";
import type { Task } from "./tasks.ts";

/** The test split's classification report; undefined for a language model. */
export async function testClassification(
  task: Task,
  compute: Compute,
): Promise<ClassificationMetrics | undefined> {
  if (!task.labels) return undefined;
  const totals = await compute.evaluateTotals("test");
  if (!totals.confusion || totals.count === 0) return undefined;
  return classificationMetrics(totals.confusion, task.labels);
}
