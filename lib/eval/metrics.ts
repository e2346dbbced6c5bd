/**
 * Evaluation metrics of the course: weighted F1 (the course's f1_score_func), macro F1, accuracy per class
 * ("Class: angry — Accuracy: 7/9"), per-class precision, recall and F1 (notebook 07) and the confusion matrix.
 * Same numbers as scikit-learn with zero_division=0 (test/metrics.test.ts checks against it). Notebook 06.
 *
 *   f1Weighted([0, 0, 1, 2], [0, 1, 1, 2])   // 0.8333...
 */

function checkPair(yTrue: number[], yPred: number[]): void {
  if (yTrue.length !== yPred.length)
    throw new Error(`metrics: ${yTrue.length} true labels but ${yPred.length} predictions`);
  if (yTrue.length === 0) throw new Error("metrics: no examples to score");
  yTrue.concat(yPred).forEach((y, i) => {
    if (!Number.isInteger(y) || y < 0)
      throw new Error(`metrics: label at position ${i % yTrue.length} is ${y}, not a class id`);
  });
}

/** confusion[t][p] = examples of true class t predicted as p, for classes 0..numClasses-1. */
export function confusionMatrix(yTrue: number[], yPred: number[], numClasses?: number): number[][] {
  checkPair(yTrue, yPred);
  const n = numClasses ?? Math.max(...yTrue, ...yPred) + 1;
  const cm = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  yTrue.forEach((t, i) => {
    if (t >= n || yPred[i] >= n) throw new Error(`metrics: class id ${Math.max(t, yPred[i])} >= numClasses ${n}`);
    cm[t][yPred[i]]++;
  });
  return cm;
}

export interface ClassScores {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

/** Precision, recall, F1 and support per class 0..numClasses-1 (0 where undefined, as zero_division=0). */
export function perClassScores(yTrue: number[], yPred: number[], numClasses?: number): ClassScores[] {
  const cm = confusionMatrix(yTrue, yPred, numClasses);
  return cm.map((row, c) => {
    const tp = row[c];
    const support = row.reduce((a, b) => a + b, 0);
    const predicted = cm.reduce((a, r) => a + r[c], 0);
    const precision = predicted ? tp / predicted : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    return { precision, recall, f1, support };
  });
}

/** f1_score(average="weighted"): per-class F1 weighted by each class's number of true examples. */
export function f1Weighted(yTrue: number[], yPred: number[]): number {
  const s = perClassScores(yTrue, yPred);
  const total = s.reduce((a, c) => a + c.support, 0);
  return s.reduce((a, c) => a + c.f1 * c.support, 0) / total;
}

/**
 * f1_score(average="macro"): the plain mean of per-class F1, over the classes present in either
 * list (sklearn's default), or over `labels` when given (rare classes then count as 0 if missed).
 */
export function f1Macro(yTrue: number[], yPred: number[], labels?: number[]): number {
  const classes = labels ?? [...new Set([...yTrue, ...yPred])].sort((a, b) => a - b);
  const n = Math.max(...yTrue, ...yPred, ...classes) + 1;
  const s = perClassScores(yTrue, yPred, n);
  return classes.reduce((a, c) => a + s[c].f1, 0) / classes.length;
}

export function accuracy(yTrue: number[], yPred: number[]): number {
  checkPair(yTrue, yPred);
  return yTrue.filter((t, i) => t === yPred[i]).length / yTrue.length;
}

export interface ClassAccuracy {
  label: string;
  correct: number;
  total: number;
}

/** The course's accuracy_per_class: for each class with examples, how many were predicted right. */
export function accuracyPerClass(yTrue: number[], yPred: number[], labels: string[]): ClassAccuracy[] {
  const cm = confusionMatrix(yTrue, yPred, labels.length);
  const all = labels.map((label, c) => ({ label, correct: cm[c][c], total: cm[c].reduce((a, b) => a + b, 0) }));
  return all.filter((a) => a.total > 0);
}

/** The course's printed lines: "Class: angry — Accuracy: 7/9". */
export function accuracyLines(acc: ClassAccuracy[]): string[] {
  return acc.map((a) => `Class: ${a.label} — Accuracy: ${a.correct}/${a.total}`);
}

/** One row of scikit-learn's classification_report: a class's precision, recall, F1 and support. */
export type ClassReport = ClassScores & { label: string };

/** precision_recall_fscore_support(average=None, labels=all, zero_division=0), named by class. */
export function classReport(yTrue: number[], yPred: number[], labels: readonly string[]): ClassReport[] {
  return perClassScores(yTrue, yPred, labels.length).map((s, c) => ({ label: labels[c], ...s }));
}

export interface EvalMetrics {
  loss: number;
  accuracy: number;
  f1Weighted: number;
  f1Macro: number;
  perClass: ClassAccuracy[];
  /** Precision, recall and F1 of every class (the rare ones too: what macro F1 averages). */
  classes: ClassReport[];
  confusion: number[][];
}

/** All of the above at once (the loss comes from the caller's evaluation loop). */
export function scoreAll(yTrue: number[], yPred: number[], labels: string[], loss: number): EvalMetrics {
  return {
    loss,
    accuracy: accuracy(yTrue, yPred),
    f1Weighted: f1Weighted(yTrue, yPred),
    f1Macro: f1Macro(yTrue, yPred),
    perClass: accuracyPerClass(yTrue, yPred, labels),
    classes: classReport(yTrue, yPred, labels),
    confusion: confusionMatrix(yTrue, yPred, labels.length),
  };
}
