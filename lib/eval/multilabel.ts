/**
 * Multi-label classification: a tweet may carry several emotions (`happy|surprise`). One sigmoid per
 * label instead of one softmax over labels, binary cross-entropy (lib/nn/losses.ts), a threshold per
 * label tuned on validation and saved with the model (thresholds.json), and the metrics that fit
 * label sets: micro and macro F1, per-label precision/recall/F1 and subset accuracy, each equal to
 * scikit-learn's on indicator matrices (test/multilabel.test.ts). Taught in notebooks/08_multilabel.ipynb.
 *
 *   multiHot([["happy", "sad"], ["angry"]], ["happy", "angry", "sad"])   // [[1, 0, 1], [0, 1, 0]]
 *   multiLabelScores([[1, 0, 1]], [[1, 0, 0]], ["happy", "angry", "sad"]).f1Micro   // 0.6667
 *   tuneThresholds(probabilities, truth)   // [0.35, 0.5, 0.15, …]: one per label, from THRESHOLD_GRID
 *
 * A model folder says it is multi-label the way Hugging Face does: config.json's
 * `problem_type: "multi_label_classification"`, so Python's `from_pretrained` builds the same model
 * (and would train it with BCEWithLogitsLoss).
 */
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { BertForSequenceClassification } from "../model/bert";
import { EncodedRows, BatchOptions } from "../data/loader";
import { evalForward } from "./eval_loop";
import { bceWithLogitsLoss } from "../nn/losses";
import { ClassReport, perClassScores } from "./metrics";

export const MULTI_LABEL = "multi_label_classification";

type WithProblemType = { problem_type?: string };

/** Whether a model (its config.json) is a multi-label classifier. */
export function isMultiLabelModel(model: BertForSequenceClassification): boolean {
  return (model.config as WithProblemType).problem_type === MULTI_LABEL;
}

/** Marks a model multi-label: saved into config.json as Hugging Face's problem_type. */
export function markMultiLabel(model: BertForSequenceClassification): void {
  (model.config as WithProblemType).problem_type = MULTI_LABEL;
}

/** One label's row of the report: its scores and the threshold it was decided at. */
export type LabelReport = ClassReport & { threshold?: number };

export interface MultiLabelMetrics {
  loss: number;
  /** F1 over all (example, label) decisions pooled: frequent labels dominate it. */
  f1Micro: number;
  /** The mean of per-label F1: every emotion counts the same. */
  f1Macro: number;
  /** Per-label F1 weighted by each label's support. */
  f1Weighted: number;
  /** Share of examples whose whole label set is exactly right (sklearn's accuracy_score on indicators). */
  subsetAccuracy: number;
  /** Share of wrong (example, label) decisions. */
  hammingLoss: number;
  labels: LabelReport[];
}

function checkMatrices(yTrue: number[][], yPred: number[][]): void {
  if (yTrue.length !== yPred.length)
    throw new Error(`multi-label metrics: ${yTrue.length} true rows but ${yPred.length} predicted`);
  if (yTrue.length === 0) throw new Error("multi-label metrics: no examples to score");
  yTrue.forEach((r, i) => {
    if (r.length !== yPred[i].length)
      throw new Error(`multi-label metrics: row ${i} has ${r.length} true labels but ${yPred[i].length} predicted`);
  });
}

/** scikit-learn's multi-label scores of 0/1 matrices [examples, labels] (zero_division=0); loss left 0. */
export function multiLabelScores(yTrue: number[][], yPred: number[][], labels: readonly string[]): MultiLabelMetrics {
  checkMatrices(yTrue, yPred);
  // Each label is a binary problem: its column through lib/eval/metrics.ts's per-class scores, class 1.
  const column = (m: number[][], k: number) => m.map((r) => r[k]);
  const per = labels.map((label, k) => ({ label, ...perClassScores(column(yTrue, k), column(yPred, k), 2)[1] }));
  let tp = 0, fp = 0, fn = 0, wrong = 0;
  yTrue.forEach((r, i) => r.forEach((t, k) => {
    const p = yPred[i][k];
    if (t && p) tp++; else if (p) fp++; else if (t) fn++;
    if (t !== p) wrong++;
  }));
  const support = per.reduce((a, c) => a + c.support, 0);
  return {
    loss: 0,
    f1Micro: tp ? (2 * tp) / (2 * tp + fp + fn) : 0,
    f1Macro: per.reduce((a, c) => a + c.f1, 0) / per.length,
    f1Weighted: support ? per.reduce((a, c) => a + c.f1 * c.support, 0) / support : 0,
    subsetAccuracy: yTrue.filter((r, i) => r.every((t, k) => t === yPred[i][k])).length / yTrue.length,
    hammingLoss: wrong / (yTrue.length * labels.length),
    labels: per,
  };
}

/** The candidate thresholds per label: 0.05, 0.10, …, 0.95. */
export const THRESHOLD_GRID = Array.from({ length: 19 }, (_, k) => Math.round(5 * (k + 1)) / 100);

/** 1 where a probability reaches its label's threshold. */
export function applyThresholds(probabilities: number[][], thresholds: readonly number[]): number[][] {
  return probabilities.map((row) => row.map((p, k) => (p >= thresholds[k] ? 1 : 0)));
}

/**
 * Per label, the grid threshold with the best F1 on (validation) `truth`; ties go to the one
 * nearest 0.5, then the lower. A label without a positive example keeps 0.5: nothing to tune on.
 */
export function tuneThresholds(
  probabilities: number[][],
  truth: number[][],
  grid: readonly number[] = THRESHOLD_GRID,
): number[] {
  checkMatrices(truth, probabilities);
  return truth[0].map((_, k) => {
    const t = truth.map((r) => r[k]);
    if (!t.some((v) => v === 1)) return 0.5;
    let best = 0.5, bestF1 = -1;
    for (const th of grid) {
      const pred = probabilities.map((r) => (r[k] >= th ? 1 : 0));
      const f1 = perClassScores(t, pred, 2)[1].f1;
      const [d, dBest] = [Math.abs(th - 0.5), Math.abs(best - 0.5)];
      const closer = d < dBest || (d === dBest && th < best);
      if (f1 > bestF1 || (f1 === bestF1 && closer)) [best, bestF1] = [th, f1];
    }
    return best;
  });
}

export interface MultiLabelEvaluation {
  metrics: MultiLabelMetrics;
  /** Sigmoid outputs [examples, labels]. */
  probabilities: number[][];
  /** 0/1 decisions at `thresholds`. */
  predictions: number[][];
  thresholds: number[];
}

/**
 * Eval mode over a set with multi-hot `targets`: BCE loss (mean of batch losses), sigmoid
 * probabilities, decisions at `thresholds` (or tuned here on these very targets with "tune": what
 * training does on validation each epoch), and the scores.
 */
export function evaluateMultiLabel(
  model: BertForSequenceClassification,
  enc: EncodedRows,
  targets: number[][],
  opts: BatchOptions & { thresholds: readonly number[] | "tune" },
): MultiLabelEvaluation {
  const { loss, probabilities } = evalForward(model, enc, undefined, opts, (logits, b) => {
    const y = tf.tensor2d(b.indices.map((i) => targets[i]), [b.indices.length, model.labels.length]);
    return [bceWithLogitsLoss(logits, y), tf.sigmoid(logits)];
  });
  const thresholds = opts.thresholds === "tune" ? tuneThresholds(probabilities, targets) : [...opts.thresholds];
  const predictions = applyThresholds(probabilities, thresholds);
  const metrics = { ...multiLabelScores(targets, predictions, model.labels), loss };
  for (const [k, l] of metrics.labels.entries()) l.threshold = thresholds[k];
  return { metrics, probabilities, predictions, thresholds };
}

/** The file a multi-label model folder keeps its thresholds in. */
export const THRESHOLDS_FILE = "thresholds.json";

/** thresholds.json's content: { problem_type, tuned_on, thresholds: { label: value } }. */
export function thresholdsJson(labels: readonly string[], thresholds: readonly number[]) {
  const byLabel = Object.fromEntries(labels.map((l, k) => [l, thresholds[k]]));
  return { problem_type: MULTI_LABEL, tuned_on: "validation", thresholds: byLabel };
}

/** Reads a multi-label model folder's thresholds, in `labels` order; missing file or label is an error. */
export function readThresholds(dir: string, labels: readonly string[]): number[] {
  const file = path.join(dir, THRESHOLDS_FILE);
  if (!fs.existsSync(file)) {
    throw new Error(
      `${file} is missing: a multi-label model (problem_type "${MULTI_LABEL}") needs its per-label `
        + "thresholds, which bertlab train --multi-label saves beside the weights",
    );
  }
  const saved = JSON.parse(fs.readFileSync(file, "utf8")).thresholds ?? {};
  return labels.map((l) => {
    const t = saved[l];
    if (typeof t !== "number" || !(t > 0 && t < 1))
      throw new Error(`${file}: no threshold in (0, 1) for label ${JSON.stringify(l)} (found ${JSON.stringify(t)})`);
    return t;
  });
}
