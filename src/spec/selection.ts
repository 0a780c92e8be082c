/**
 * Model selection by validation, as plain data that training and export
 * share: which metric an epoch is judged by, whether it improves on the best
 * so far, and where a run keeps its best epoch's checkpoint.
 *
 * A language model is judged by `valid_ppl` (lower is better); a classifier
 * by `valid_acc` (higher is better), an equal accuracy counting as better
 * only with a lower `valid_loss`, since accuracy on a small held-out set
 * often ties.
 *
 * @module
 */

/** The best epoch of a run so far, as recorded in its checkpoints' progress. */
export interface BestEpoch {
  /** The epoch (1-based) whose weights the best checkpoint holds. */
  epoch: number;
  /**
   * That epoch's metrics; once the run has finished, also the test metrics
   * of its model (`test_ppl`, or `test_acc` and `test_loss`).
   */
  metrics: Record<string, number>;
}

/** The validation metric an epoch is selected by. */
export interface SelectionMetric {
  name: "valid_ppl" | "valid_acc";
  value: number;
}

/**
 * The path of the best checkpoint beside a run's checkpoint `out`:
 * `run.sparrow` → `run.best.sparrow`, any other name gets `.best` appended.
 */
export function bestCheckpointPath(out: string): string {
  return out.endsWith(".sparrow")
    ? out.slice(0, -".sparrow".length) + ".best.sparrow"
    : `${out}.best`;
}

/** The metric `metrics` are selected by, or undefined when they hold no validation metric. */
export function selectionMetric(metrics: Record<string, number>): SelectionMetric | undefined {
  if ("valid_ppl" in metrics) return { name: "valid_ppl", value: metrics.valid_ppl };
  if ("valid_acc" in metrics) return { name: "valid_acc", value: metrics.valid_acc };
  return undefined;
}

/**
 * Whether an epoch with `metrics` improves on `best` (the best epoch's
 * metrics; none yet means it does, if its metric is finite). A metric that
 * is not finite never improves; without any validation metric every epoch
 * does, so the latest is the best.
 */
export function improves(
  metrics: Record<string, number>,
  best: Record<string, number> | undefined,
): boolean {
  const now = selectionMetric(metrics);
  if (!now) return true;
  if (!Number.isFinite(now.value)) return false;
  const before = best && selectionMetric(best);
  if (!before || before.name !== now.name) return true;
  if (now.name === "valid_ppl") return now.value < before.value;
  if (now.value !== before.value) return now.value > before.value;
  return metrics.valid_loss < best.valid_loss;
}

/** `valid_ppl 84.21` or `valid_acc 87.5%`: the selection metric of `metrics`, for messages. */
export function describeSelection(metrics: Record<string, number>): string {
  const m = selectionMetric(metrics);
  if (!m) return "no validation metric";
  return m.name === "valid_acc"
    ? `${m.name} ${(100 * m.value).toFixed(1)}%`
    : `${m.name} ${m.value.toFixed(2)}`;
}
