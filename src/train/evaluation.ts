/**
 * A classifier's report on its test split at the end of training, from the
 * compute path's own predictions: the numbers `deno task infer evaluate`
 * gives for the exported bundle.
 *
 * @module
 */

import { type ClassificationMetrics, classificationMetrics } from "../core/metrics.ts";
import type { Compute } from "./compute.ts";
import type { EvalTotals, Task } from "./tasks.ts";

/** A classifier's report from its test totals; undefined for a language model. */
export function classificationReport(
  task: Task,
  totals: EvalTotals,
): ClassificationMetrics | undefined {
  if (!task.labels || !totals.confusion || totals.count === 0) return undefined;
  return classificationMetrics(totals.confusion, task.labels);
}

/** The test split's metrics on `compute`'s weights, and a classifier's full report. */
export async function testSplit(task: Task, compute: Compute): Promise<TestResult> {
  const totals = await compute.evaluateTotals("test");
  const classification = classificationReport(task, totals);
  return { metrics: task.metrics("test", totals), ...(classification && { classification }) };
}

/** What a run's test evaluation gives. */
export interface TestResult {
  metrics: Record<string, number>;
  classification?: ClassificationMetrics;
}
