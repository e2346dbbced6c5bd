/**
 * Best-epoch selection and early stopping, as Hugging Face's Trainer does them with
 * `metric_for_best_model`, `load_best_model_at_end` and `EarlyStoppingCallback`: after each
 * epoch's evaluation, `updateSelection` says whether this epoch is the best so far (strictly better
 * than the best: a tie keeps the earlier epoch) and whether to stop. Its state is plain JSON, saved
 * in every checkpoint so that patience survives `--resume`. Taught in notebooks/07_imbalance.ipynb.
 *
 *   let s = undefined;
 *   for (const [epoch, f1] of [[1, 0.5], [2, 0.7], [3, 0.6], [4, 0.65]]) {
 *     const metrics = { f1Macro: f1, f1Weighted: 0, loss: 0 };
 *     s = updateSelection(s, epoch, metrics, { metric: "f1_macro", patience: 2 }).state;
 *   }
 *   s   // { metric: "f1_macro", bestEpoch: 2, bestValue: 0.7, epochsWithoutImprovement: 2, stoppedAfter: 4 }
 */

/** The validation numbers a model can be selected by (TrainConfig.selectMetric). */
export const SELECT_METRICS = ["f1_macro", "f1_weighted", "loss"] as const;
export type SelectMetric = (typeof SELECT_METRICS)[number];

/** What every evaluation (single- or multi-label) reports, and selection reads. */
export type SelectableMetrics = Record<"f1Macro" | "f1Weighted" | "loss", number>;

export interface SelectionState {
  metric: SelectMetric;
  bestEpoch: number;
  bestValue: number;
  /** Epochs since the best one (the patience counter). */
  epochsWithoutImprovement: number;
  /** The epoch after which early stopping ended the run, if it did. */
  stoppedAfter?: number;
}

/** Checks a metric name (a flag's value): an unknown one is an error listing the known ones. */
export function checkSelectMetric(name: string, flag = "--select-metric"): SelectMetric | "none" {
  if (name === "none" || (SELECT_METRICS as readonly string[]).includes(name)) return name as SelectMetric | "none";
  const known = SELECT_METRICS.join(", ");
  throw new Error(`${flag} ${JSON.stringify(name)} is not a metric a model can be selected by: use ${known} or none`);
}

export function metricValue(m: SelectableMetrics, metric: SelectMetric): number {
  return metric === "loss" ? m.loss : metric === "f1_macro" ? m.f1Macro : m.f1Weighted;
}

/**
 * One epoch's step of selection and early stopping. Pure: returns a new state. `stop` is true when
 * `patience` > 0 epochs in a row brought no improvement.
 */
export function updateSelection(
  state: SelectionState | undefined,
  epoch: number,
  metrics: SelectableMetrics,
  opts: { metric: SelectMetric; patience: number },
): { state: SelectionState; improved: boolean; stop: boolean } {
  if (state && state.metric !== opts.metric)
    throw new Error(`this run selects by ${state.metric}; it cannot continue selecting by ${opts.metric}`);
  const value = metricValue(metrics, opts.metric);
  if (!Number.isFinite(value))
    throw new Error(`validation ${opts.metric} is ${value} at epoch ${epoch}: cannot compare epochs`);
  const better = !state || (opts.metric === "loss" ? value < state.bestValue : value > state.bestValue);
  const next: SelectionState = better
    ? { metric: opts.metric, bestEpoch: epoch, bestValue: value, epochsWithoutImprovement: 0 }
    : { ...state!, epochsWithoutImprovement: state!.epochsWithoutImprovement + 1 };
  const stop = opts.patience > 0 && next.epochsWithoutImprovement >= opts.patience;
  if (stop) next.stoppedAfter = epoch;
  return { state: next, improved: better, stop };
}

/** metrics.json's account of the choice: which epoch, by what, and why the run ended where it did. */
export interface SelectionSummary {
  epoch: number;
  metric: SelectMetric;
  value: number;
  why: string;
  stoppedEarly: boolean;
}

export function describeSelection(
  s: SelectionState,
  history: { epoch: number; validation: SelectableMetrics }[],
  patience: number,
): SelectionSummary {
  const values = history.map((h) => `${h.epoch}: ${metricValue(h.validation, s.metric).toFixed(4)}`).join(", ");
  const best = s.metric === "loss" ? "lowest" : "highest";
  const ended = s.stoppedAfter !== undefined
    ? ` Stopped early after epoch ${s.stoppedAfter}: ${s.epochsWithoutImprovement} epochs without a better ${s.metric}`
      + ` (patience ${patience}).`
    : "";
  return {
    epoch: s.bestEpoch,
    metric: s.metric,
    value: s.bestValue,
    stoppedEarly: s.stoppedAfter !== undefined,
    why: `epoch ${s.bestEpoch} has the ${best} validation ${s.metric} (${values}); ties keep the earlier epoch.`
      + ended,
  };
}
