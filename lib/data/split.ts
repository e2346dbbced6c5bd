/**
 * Splits and folds exactly as scikit-learn and iterstrat make them, replayed with NumPy's RandomState
 * (lib/core/random.ts). `stratifiedSplit` is the course's `train_test_split(ids, labels, test_size=0.15,
 * random_state=17, stratify=labels)`: the same ids in the same order; `randomSplit` the unstratified one, to show a
 * rare class going missing (notebooks/02_split.ipynb). `multilabelStratifiedSplit` / `multilabelStratifiedKFold` are
 * iterative stratification for label sets (notebooks/08_multilabel.ipynb); `repeatedStratifiedKFold` /
 * `stratifiedKFold` the folds of cross-validation (lib/analysis/cv.ts).
 *
 *   const s = stratifiedSplit(ids, labels, { validationSize: 0.15, seed: 17 });
 *   s.train.length, s.validation.length   // 1258, 223
 *   s.trainFileOrder[0]                // "614484565059596288" (the order rows have in the CSV)
 */
import { COURSE_SEED, COURSE_VALIDATION_SIZE } from "../config/config";
import { RandomState } from "../core/random";

export interface SplitOptions {
  /** scikit-learn's `test_size`: a fraction in (0, 1) (ceil(fraction × n) samples) or a count. Default 0.15. */
  validationSize?: number;
  /** scikit-learn's `random_state` (an int gives `RandomState(seed)`). Default 17. */
  seed?: number;
}

export interface Split<T> {
  /** Items in scikit-learn's return order (validation is its "test" part). */
  train: T[];
  validation: T[];
  /** The same training items in input (file) order: the order the course feeds to the model. */
  trainFileOrder: T[];
  validationFileOrder: T[];
  /** Positions in the input: `train[k] === items[trainIndex[k]]`. */
  trainIndex: number[];
  validationIndex: number[];
}

type Label = number | string;

/** scikit-learn's `_validate_shuffle_split` for a held-out size alone: [nTrain, nValidation], in its words. */
export function splitSizes(nSamples: number, validationSize: number): [number, number] {
  const isCount = Number.isInteger(validationSize) && validationSize >= 1;
  if (isCount) {
    if (validationSize >= nSamples)
      throw new Error(
        `test_size=${validationSize} should be either positive and smaller than the number of samples ${nSamples} or a float in the (0, 1) range`,
      );
  } else if (!(validationSize > 0 && validationSize < 1)) {
    throw new Error(
      `validationSize must be a fraction in (0, 1) or a whole number of samples in [1, ${nSamples}), got ${validationSize}`,
    );
  }
  const nValidation = isCount ? validationSize : Math.ceil(validationSize * nSamples);
  const nTrain = nSamples - nValidation;
  if (nTrain <= 0) {
    throw new Error(
      `With n_samples=${nSamples}, test_size=${validationSize} and train_size=None, the resulting train set will be empty. Adjust any of the aforementioned parameters.`,
    );
  }
  return [nTrain, nValidation];
}

/** Sorted distinct labels, as `np.unique` (numbers numerically, strings by code unit). */
function uniqueSorted(labels: readonly Label[]): Label[] {
  const kinds = new Set(labels.map((l) => typeof l));
  if (kinds.size > 1) throw new Error("labels mix numbers and strings; use one kind");
  return [...new Set(labels)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Each class's positions in `labels`, in input order (a stable argsort). */
function rowsByClass(labels: readonly Label[], classes: readonly Label[]): number[][] {
  const classOf = new Map(classes.map((c, i) => [c, i]));
  const rows = classes.map((): number[] => []);
  labels.forEach((l, i) => rows[classOf.get(l)!].push(i));
  return rows;
}

/**
 * scikit-learn's `_approximate_mode`: how many of `nDraws` each class gets, proportional to
 * `classCounts`, rounding down, then handing the leftover draws to the largest remainders, with
 * ties broken at random by `rng` (which it consumes even when a tie is not really broken).
 */
export function approximateMode(classCounts: readonly number[], nDraws: number, rng: RandomState): number[] {
  const total = classCounts.reduce((a, b) => a + b, 0);
  // Same floating-point steps as NumPy: (count / total) * nDraws.
  const continuous = classCounts.map((c) => (c / total) * nDraws);
  const floored = continuous.map(Math.floor);
  let needToAdd = Math.trunc(nDraws - floored.reduce((a, b) => a + b, 0));
  if (needToAdd > 0) {
    const remainder = continuous.map((c, i) => c - floored[i]);
    const values = [...new Set(remainder)].sort((a, b) => b - a);
    for (const value of values) {
      const inds = remainder.flatMap((r, i) => (r === value ? [i] : []));
      const addNow = Math.min(inds.length, needToAdd);
      for (const k of rng.choiceWithoutReplacement(inds.length, addNow)) floored[inds[k]] += 1;
      needToAdd -= addNow;
      if (needToAdd === 0) break;
    }
  }
  return floored;
}

function describe(l: Label): string {
  return typeof l === "string" ? `'${l}'` : String(l);
}

function assemble<T>(items: readonly T[], trainIndex: number[], validationIndex: number[]): Split<T> {
  const at = (ix: number[]) => ix.map((i) => items[i]);
  const inFileOrder = (ix: number[]) => at([...ix].sort((a, b) => a - b));
  return {
    train: at(trainIndex),
    validation: at(validationIndex),
    trainFileOrder: inFileOrder(trainIndex),
    validationFileOrder: inFileOrder(validationIndex),
    trainIndex,
    validationIndex,
  };
}

/**
 * `train_test_split(items, test_size, random_state=seed, stratify=labels)`: each class keeps its share on both
 * sides. scikit-learn's errors: a class with one member, a side smaller than the number of classes. Pure.
 */
export function stratifiedSplit<T>(items: readonly T[], labels: readonly Label[], opts: SplitOptions = {}): Split<T> {
  const { validationSize = COURSE_VALIDATION_SIZE, seed = COURSE_SEED } = opts;
  if (items.length !== labels.length)
    throw new Error(`stratifiedSplit: ${items.length} items but ${labels.length} labels`);
  const [nTrain, nTest] = splitSizes(items.length, validationSize);

  // 1) classes in np.unique order, and each class's positions in input order (a stable argsort)
  const classes = uniqueSorted(labels);
  const classIndices = rowsByClass(labels, classes);
  const classCounts = classIndices.map((ix) => ix.length);

  // 2) the same checks, with the same words, as StratifiedShuffleSplit
  const tooFew = classes.filter((_, i) => classCounts[i] < 2);
  if (tooFew.length) {
    throw new Error(
      `The least populated classes in y have only 1 member, which is too few. The minimum number of groups for any class cannot be less than 2. Classes with too few members are: [${
        tooFew.map(describe).join(", ")
      }]`,
    );
  }
  for (const [name, size] of [["train_size", nTrain], ["test_size", nTest]] as const) {
    if (size < classes.length)
      throw new Error(`The ${name} = ${size} should be greater or equal to the number of classes = ${classes.length}`);
  }

  // 3) per-class train and validation ("test") counts, drawn from one RandomState in scikit-learn's order
  const rng = new RandomState(seed);
  const nI = approximateMode(classCounts, nTrain, rng);
  const tI = approximateMode(classCounts.map((c, i) => c - nI[i]), nTest, rng);

  // 4) shuffle each class, take its train part then its validation part
  const train: number[] = [], validation: number[] = [];
  classIndices.forEach((ix, i) => {
    const shuffled = rng.permutation(ix);
    train.push(...shuffled.slice(0, nI[i]));
    validation.push(...shuffled.slice(nI[i], nI[i] + tI[i]));
  });

  // 5) finally shuffle the train and validation sets themselves
  return assemble(items, rng.permutation(train), rng.permutation(validation));
}

/** `train_test_split(items, test_size, random_state=seed)`: a rare class can end up entirely on one side. */
export function randomSplit<T>(items: readonly T[], opts: SplitOptions = {}): Split<T> {
  const { validationSize = COURSE_VALIDATION_SIZE, seed = COURSE_SEED } = opts;
  const [nTrain, nTest] = splitSizes(items.length, validationSize);
  const perm = new RandomState(seed).permutation(items.length);
  return assemble(items, perm.slice(nTest, nTest + nTrain), perm.slice(0, nTest));
}

/** How many of each label a set holds, in the order of `names` (e.g. a label dict's keys). */
export function countLabels(labels: readonly Label[], names: readonly Label[]): number[] {
  return names.map((n) => labels.filter((l) => l === n).length);
}

type LabelMatrix = readonly (readonly number[])[];

/**
 * Iterative stratification (Sechidis et al., 2011) as iterstrat implements it, RandomState calls included: take the
 * label with the fewest examples left (ties at random), give each of its examples to the fold that still wants the
 * most of that label (ties: the fold that wants most examples, then at random), repeat; examples without a label go
 * last. `labelSets` is a 0/1 matrix [examples, labels]; `r` each fold's share. Returns each example's fold.
 */
export function iterativeStratification(labelSets: LabelMatrix, r: readonly number[], rng: RandomState): number[] {
  const n = labelSets.length;
  const k = labelSets[0]?.length ?? 0;
  const folds = new Array<number>(n).fill(0);
  // desired examples per fold, and per fold and label (floats, as NumPy computes them)
  const cFolds = r.map((share) => share * n);
  const totals = Array.from({ length: k }, (_, j) => labelSets.reduce((a, row) => a + (row[j] ? 1 : 0), 0));
  const cFoldsLabels = r.map((share) => totals.map((t) => share * t));
  const pending = new Array<boolean>(n).fill(true);
  const argmaxAll = (xs: number[]) => {
    const m = Math.max(...xs);
    return xs.flatMap((x, i) => (x === m ? [i] : []));
  };
  // NumPy's RandomState.choice(n) draws like randomInterval(n - 1); iterstrat calls it only on a tie
  const pick = (c: number[]) => (c.length > 1 ? c[rng.randomInterval(c.length - 1)] : c[0]);
  const assign = (i: number, f: number) => {
    folds[i] = f;
    pending[i] = false;
    labelSets[i].forEach((v, j) => (cFoldsLabels[f][j] -= v ? 1 : 0));
    cFolds[f] -= 1;
  };
  while (pending.includes(true)) {
    const remaining = totals.map((_, j) => labelSets.reduce((a, row, i) => a + (pending[i] && row[j] ? 1 : 0), 0));
    if (remaining.every((c) => c === 0)) {
      // only examples without labels are left: spread them over the folds that want most examples
      for (let i = 0; i < n; i++) if (pending[i]) assign(i, pick(argmaxAll(cFolds)));
      break;
    }
    // 1) the label with the fewest (but at least one) examples left
    const fewest = Math.min(...remaining.filter((c) => c > 0));
    const label = pick(remaining.flatMap((c, j) => (c === fewest ? [j] : [])));
    // 2) its examples, in order, each to the fold that wants the most of this label
    for (let i = 0; i < n; i++) {
      if (!pending[i] || !labelSets[i][label]) continue;
      let candidates = argmaxAll(cFoldsLabels.map((row) => row[label]));
      if (candidates.length > 1) candidates = argmaxAll(candidates.map((f) => cFolds[f])).map((c) => candidates[c]);
      assign(i, pick(candidates));
    }
  }
  return folds;
}

/** `iterativeStratification` of the examples taken in `order`, each example's fold given back in input order. */
function foldsInInputOrder(labelSets: LabelMatrix, order: number[], r: readonly number[], rng: RandomState): number[] {
  const folds = iterativeStratification(order.map((i) => labelSets[i]), r, rng);
  const out = new Array<number>(order.length);
  order.forEach((i, k) => (out[i] = folds[k]));
  return out;
}

/** iterstrat's `MultilabelStratifiedShuffleSplit(n_splits=1, test_size, random_state=seed)`. Pure. */
export function multilabelStratifiedSplit<T>(
  items: readonly T[],
  labelSets: LabelMatrix,
  opts: SplitOptions = {},
): Split<T> {
  const { validationSize = COURSE_VALIDATION_SIZE, seed = COURSE_SEED } = opts;
  if (items.length !== labelSets.length)
    throw new Error(`multilabelStratifiedSplit: ${items.length} items but ${labelSets.length} label sets`);
  const [nTrain, nValidation] = splitSizes(items.length, validationSize);
  const rng = new RandomState(seed);
  const shares = [nTrain / (nTrain + nValidation), nValidation / (nTrain + nValidation)];
  const folds = foldsInInputOrder(labelSets, rng.permutation(items.length), shares, rng);
  const train: number[] = [], validation: number[] = [];
  items.forEach((_, i) => (folds[i] === 1 ? validation : train).push(i));
  return assemble(items, train, validation);
}

/**
 * iterstrat's `MultilabelStratifiedKFold(n_splits=k, shuffle)`: each example's fold (0..k-1). Ties are broken by
 * RandomState(seed) even without shuffling (where iterstrat draws from NumPy's global one: seeded, the same numbers).
 */
export function multilabelStratifiedKFold(
  labelSets: LabelMatrix,
  k: number,
  opts: { seed: number; shuffle?: boolean },
): number[] {
  if (!Number.isInteger(k) || k < 2) throw new Error(`multilabelStratifiedKFold: k must be an integer >= 2, got ${k}`);
  const rng = new RandomState(opts.seed);
  const order = Array.from({ length: labelSets.length }, (_, i) => i);
  if (opts.shuffle) rng.shuffle(order);
  return foldsInInputOrder(labelSets, order, new Array(k).fill(1 / k), rng);
}

/**
 * scikit-learn's `RepeatedStratifiedKFold(n_splits=k, n_repeats=repeats, random_state=seed)`: each row's fold
 * (0..k-1) in each repeat. One RandomState(seed) runs through all repeats, as in scikit-learn, so repeat 0 is
 * `StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)` and repeat r is not that with seed + r. Where
 * scikit-learn only warns, a class with fewer than k rows is an error: some fold would not hold it. Pure.
 *
 *   repeatedStratifiedKFold(["a", "b", "a", "b", "a", "b"], 3, 1, 0)   // [[2, 2, 1, 0, 0, 1]]
 */
export function repeatedStratifiedKFold(
  labels: readonly Label[],
  k: number,
  repeats: number,
  seed: number,
): number[][] {
  if (!Number.isInteger(k) || k < 2) throw new Error(`folds: k must be an integer >= 2, got ${k}`);
  if (!Number.isInteger(repeats) || repeats < 1)
    throw new Error(`folds: repeats must be an integer >= 1, got ${repeats}`);
  if (labels.length < k) throw new Error(`folds: ${k} folds need at least ${k} rows, got ${labels.length}`);
  uniqueSorted(labels); // one kind of label
  // 1) classes by first appearance, each class's rows and size
  const classes = [...new Set(labels)];
  const rowsOf = rowsByClass(labels, classes);
  const counts = rowsOf.map((rows) => rows.length);
  const rare = classes.flatMap((l, c) => (counts[c] < k ? [`${describe(l)} (${counts[c]} rows)`] : []));
  if (rare.length) {
    const many = rare.length > 1;
    throw new Error(
      `${k} folds need at least ${k} rows of every class, but ${rare.join(", ")} ha${many ? "ve" : "s"}`
        + ` fewer: use at most ${Math.min(...counts)} folds, or drop or merge ${many ? "these classes" : "that class"}`,
    );
  }
  // 2) how many of each class each fold gets: fold f takes the labels sorted by class f, f + k, f + 2k, ...
  const allocation = Array.from({ length: k }, () => new Array<number>(counts.length).fill(0));
  let sorted = 0;
  counts.forEach((n, c) => {
    for (let j = 0; j < n; j++) allocation[sorted++ % k][c]++;
  });
  // 3) per repeat and class: the class's fold numbers in blocks, shuffled, handed to its rows in order
  const rng = new RandomState(seed);
  return Array.from({ length: repeats }, () => {
    const folds = new Array<number>(labels.length);
    rowsOf.forEach((rows, c) => {
      const foldsForClass = allocation.flatMap((a, f) => new Array<number>(a[c]).fill(f));
      rng.shuffle(foldsForClass);
      for (let j = 0; j < rows.length; j++) folds[rows[j]] = foldsForClass[j];
    });
    return folds;
  });
}

/** `StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)`: each row's fold (repeat 0 of the above). */
export function stratifiedKFold(labels: readonly Label[], k: number, seed: number): number[] {
  return repeatedStratifiedKFold(labels, k, 1, seed)[0];
}
