/**
 * Cross-validation's numbers, pure: every tweet's out-of-fold predictions pooled into one report (macro and
 * weighted F1 with percentile-bootstrap 95% intervals over tweets, per-class scores, the confusion matrix, the
 * spread over repeats), and the paired comparison of two recipes run on the same folds (the difference with a
 * paired bootstrap interval, a bootstrap p-value, and the paired t-test over per-fold scores). The folds are
 * lib/data/split.ts's repeatedStratifiedKFold; lib/analysis/cv_run.ts trains them.
 * Guide: docs/guides/cross-validation.md.
 *
 *   const r = cvReport({ labels: ["neg", "pos"], ids: ["a", "b", "c", "d"], yTrue: [0, 0, 1, 1],
 *                        folds: [[0, 1, 0, 1]], predictions: [[0, 1, 1, 1]] }, { resamples: 1000, seed: 17 });
 *   r.f1Macro   // { value: 0.7333333333333334, ci95: [0.2, 1] }
 *
 * The bootstrap draws B resamples of the tweets with NumPy's RandomState(seed).randint(0, n, size=n) (lib/core/
 * random.ts), and a resampled tweet brings all its repeats' predictions; test/cv.test.ts checks the intervals
 * against scikit-learn's f1_score and np.percentile on the same resamples (scripts/make_cv_fixtures.py).
 */
import { RandomState } from "../core/random";
import { percentile, pairedTTest, PairedTTest, meanSd, MeanSd } from "../core/stats";
import { f1Macro, f1Weighted, perClassScores, scoreAll, ClassReport } from "../eval/metrics";
import type { TrainConfig } from "../config/config";

/** What cross-validation leaves: each row's true label, and its fold and out-of-fold prediction in each repeat. */
export interface OutOfFold {
  /** Class names in id order. */
  labels: string[];
  /** Row ids (tweet ids, an id column, or line numbers): what a comparison checks row for row. */
  ids: string[];
  yTrue: number[];
  /** folds[r][i]: row i's fold (0-based) in repeat r. */
  folds: number[][];
  /** predictions[r][i]: the class the model that did not see row i gave it in repeat r. */
  predictions: number[][];
}

export interface Interval {
  value: number;
  ci95: [number, number];
}

export interface BootstrapOptions {
  /** B, the number of resamples (default 1000). */
  resamples?: number;
  /** Seeds RandomState for the resamples (default 17). */
  seed?: number;
}

export interface CvReport {
  examples: number;
  repeats: number;
  folds: number;
  resamples: number;
  bootstrapSeed: number;
  /** Pooled over every out-of-fold prediction of every repeat. */
  accuracy: number;
  f1Macro: Interval;
  f1Weighted: Interval;
  /** Per class: precision, recall, F1 (with its interval) and support (rows × repeats). */
  classes: (ClassReport & { f1Ci95: [number, number] })[];
  /** confusion[t][p], summed over the repeats. */
  confusion: number[][];
  /** Mean ± sd over repeats of each repeat's pooled scores (sd 0 with one repeat). */
  perRepeat: { f1Macro: MeanSd; f1Weighted: MeanSd };
  /** Each (repeat, fold)'s own scores on its held-out rows: what the paired t-test pairs. */
  perFold: { repeat: number; fold: number; examples: number; f1Macro: number; f1Weighted: number }[];
}

/** Checks the shapes agree; an error names what is wrong. */
export function checkOutOfFold(o: OutOfFold): void {
  const n = o.yTrue.length;
  if (n === 0) throw new Error("cross-validation: no rows");
  if (o.ids.length !== n) throw new Error(`cross-validation: ${o.ids.length} ids but ${n} labels`);
  if (o.folds.length === 0 || o.folds.length !== o.predictions.length)
    throw new Error(`cross-validation: ${o.folds.length} repeats of folds but ${o.predictions.length} of predictions`);
  o.predictions.forEach((p, r) => {
    if (p.length !== n || o.folds[r].length !== n)
      throw new Error(`cross-validation: repeat ${r + 1} covers ${p.length} of ${n} rows`);
    p.forEach((c, i) => {
      if (!Number.isInteger(c) || c < 0 || c >= o.labels.length)
        throw new Error(`cross-validation: row ${i} (id ${o.ids[i]}) has no out-of-fold prediction in repeat ${r + 1}`);
    });
  });
}

/** The B resamples: each a list of n row positions drawn with replacement, as NumPy's randint(0, n, size=n). */
export function bootstrapSamples(n: number, resamples: number, seed: number): number[][] {
  if (!Number.isInteger(resamples) || resamples < 1)
    throw new Error(`bootstrap: resamples must be an integer >= 1, got ${resamples}`);
  const rng = new RandomState(seed);
  return Array.from({ length: resamples }, () => Array.from({ length: n }, () => rng.randomInterval(n - 1)));
}

/** True and predicted labels of the rows `idx` (every repeat's prediction of each), concatenated repeat by repeat. */
function pooled(yTrue: readonly number[], predictions: readonly (readonly number[])[], idx?: readonly number[]) {
  const rows = idx ?? yTrue.map((_, i) => i);
  return {
    t: predictions.flatMap(() => rows.map((i) => yTrue[i])),
    p: predictions.flatMap((pred) => rows.map((i) => pred[i])),
  };
}

const interval = (xs: number[]): [number, number] => [percentile(xs, 2.5), percentile(xs, 97.5)];

/** The pooled report of cross-validation's out-of-fold predictions (see the file comment). Pure. */
export function cvReport(o: OutOfFold, opts: BootstrapOptions = {}): CvReport {
  checkOutOfFold(o);
  const { resamples = 1000, seed = 17 } = opts;
  const all = pooled(o.yTrue, o.predictions);
  const point = scoreAll(all.t, all.p, o.labels, NaN);
  // 1) the bootstrap: macro, weighted and per-class F1 of each resample of the tweets
  const macro: number[] = [], weighted: number[] = [], perClass: number[][] = o.labels.map(() => []);
  for (const idx of bootstrapSamples(o.yTrue.length, resamples, seed)) {
    const { t, p } = pooled(o.yTrue, o.predictions, idx);
    macro.push(f1Macro(t, p));
    weighted.push(f1Weighted(t, p));
    perClassScores(t, p, o.labels.length).forEach((s, c) => perClass[c].push(s.f1));
  }
  // 2) each repeat alone, and each fold alone
  const repeatScores = o.predictions.map((pred) => pooled(o.yTrue, [pred]));
  const k = Math.max(...o.folds.flat()) + 1;
  const perFold = o.folds.flatMap((folds, r) => Array.from({ length: k }, (_, f) => {
    const idx = folds.flatMap((x, i) => (x === f ? [i] : []));
    const { t, p } = pooled(o.yTrue, [o.predictions[r]], idx);
    return { repeat: r, fold: f, examples: idx.length, f1Macro: f1Macro(t, p), f1Weighted: f1Weighted(t, p) };
  }));
  return {
    examples: o.yTrue.length,
    repeats: o.predictions.length,
    folds: k,
    resamples,
    bootstrapSeed: seed,
    accuracy: point.accuracy,
    f1Macro: { value: point.f1Macro, ci95: interval(macro) },
    f1Weighted: { value: point.f1Weighted, ci95: interval(weighted) },
    classes: point.classes.map((c, i) => ({ ...c, f1Ci95: interval(perClass[i]) })),
    confusion: point.confusion,
    perRepeat: {
      f1Macro: meanSd(repeatScores.map(({ t, p }) => f1Macro(t, p))),
      f1Weighted: meanSd(repeatScores.map(({ t, p }) => f1Weighted(t, p))),
    },
    perFold,
  };
}

/** What identifies the folds a run used: two runs compare only when all of it is equal. */
export interface FoldPlan {
  seed: number;
  k: number;
  repeats: number;
}

export interface Difference {
  /** A's pooled score minus B's. */
  value: number;
  /** Percentile interval of the difference over the same resampled tweets for both. */
  ci95: [number, number];
  /** Two-sided bootstrap p-value: 2 × the smaller share of resampled differences on either side of 0 (at most 1). */
  p: number;
  /** Paired t-test over the per-fold scores (k × repeats pairs; folds share training rows, so it is optimistic). */
  perFold: PairedTTest;
}

export interface CvComparison {
  examples: number;
  resamples: number;
  f1Macro: Difference;
  f1Weighted: Difference;
}

/**
 * Refuses two runs that did not use the same folds on the same rows, naming the first difference found
 * (`names` say which run is which in the message).
 */
export function checkSameFolds(
  a: OutOfFold & FoldPlan,
  b: OutOfFold & FoldPlan,
  [na, nb]: [string, string] = ["A", "B"],
): void {
  const differ = (what: string, x: unknown, y: unknown) =>
    new Error(`${na} and ${nb} were not run on the same folds: ${what} ${x} in ${na}, ${y} in ${nb}`);
  for (const key of ["seed", "k", "repeats"] as const) if (a[key] !== b[key]) throw differ(key, a[key], b[key]);
  if (a.ids.length !== b.ids.length) throw differ("rows", a.ids.length, b.ids.length);
  const row = a.ids.findIndex((id, i) => id !== b.ids[i]);
  if (row >= 0) throw differ(`the id of row ${row}:`, JSON.stringify(a.ids[row]), JSON.stringify(b.ids[row]));
  if (a.labels.join("\u0000") !== b.labels.join("\u0000"))
    throw differ("labels", a.labels.join(","), b.labels.join(","));
  const label = a.yTrue.findIndex((y, i) => y !== b.yTrue[i]);
  if (label >= 0)
    throw differ(`the label of row ${label} (id ${a.ids[label]}):`, a.labels[a.yTrue[label]], b.labels[b.yTrue[label]]);
  a.folds.forEach((folds, r) => {
    const i = folds.findIndex((f, j) => f !== b.folds[r][j]);
    if (i >= 0)
      throw differ(`the fold of row ${i} (id ${a.ids[i]}) in repeat ${r + 1}:`, folds[i] + 1, b.folds[r][i] + 1);
  });
}

/** A against B on the same folds: differences of pooled macro and weighted F1 (A − B). Pure. */
export function compareCv(
  a: OutOfFold & FoldPlan,
  b: OutOfFold & FoldPlan,
  opts: BootstrapOptions & { names?: [string, string] } = {},
): CvComparison {
  checkOutOfFold(a);
  checkOutOfFold(b);
  checkSameFolds(a, b, opts.names);
  const { resamples = 1000, seed = 17 } = opts;
  // A's macro and weighted F1 minus B's, on the rows `idx` (default: all)
  const minus = (idx?: number[]) => {
    const x = pooled(a.yTrue, a.predictions, idx), y = pooled(b.yTrue, b.predictions, idx);
    return { f1Macro: f1Macro(x.t, x.p) - f1Macro(y.t, y.p), f1Weighted: f1Weighted(x.t, x.p) - f1Weighted(y.t, y.p) };
  };
  const resampled = bootstrapSamples(a.yTrue.length, resamples, seed).map(minus);
  const ra = cvReport(a, { resamples: 1 }).perFold, rb = cvReport(b, { resamples: 1 }).perFold;
  const diff = (key: "f1Macro" | "f1Weighted"): Difference => {
    const ds = resampled.map((d) => d[key]);
    const perFold = pairedTTest(ra.map((f) => f[key]), rb.map((f) => f[key]));
    return { value: minus()[key], ci95: interval(ds), p: bootstrapP(ds), perFold };
  };
  return { examples: a.yTrue.length, resamples, f1Macro: diff("f1Macro"), f1Weighted: diff("f1Weighted") };
}

/** Two-sided p-value of "no difference" from resampled differences: 2 × min(share ≤ 0, share ≥ 0), at most 1. */
export function bootstrapP(diffs: readonly number[]): number {
  const below = diffs.filter((d) => d <= 0).length / diffs.length;
  const above = diffs.filter((d) => d >= 0).length / diffs.length;
  return Math.min(1, 2 * Math.min(below, above));
}

/** cv.json: the plan, the out-of-fold predictions and the pooled report. */
export type CvFile = OutOfFold & FoldPlan & {
  kind: "bertlab-cv";
  source: string;
  config: TrainConfig;
  report: CvReport;
  seconds: number;
};
