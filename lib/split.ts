/**
 * The course's train/validation split, exactly as scikit-learn makes it:
 * `train_test_split(ids, labels, test_size=0.15, random_state=17, stratify=labels)` gives 1258
 * training and 223 validation ids of the SMILE rows, and `stratifiedSplit` gives the same ids in
 * the same order (it replays StratifiedShuffleSplit with NumPy's RandomState from lib/random.ts).
 * `randomSplit` is the unstratified version, to show a rare class going missing.
 * Taught in notebooks/02_split.ipynb.
 *
 *   const s = stratifiedSplit(ids, labels, { validationSize: 0.15, seed: 17 });
 *   s.train.length, s.validation.length   // 1258, 223
 *   s.trainFileOrder[0]                // "614484565059596288" (the order rows have in the CSV)
 */
import { RandomState } from "./random";

export interface SplitOptions {
  /**
   * The held-out share: scikit-learn's `test_size`. A fraction in (0, 1) (validation gets
   * ceil(fraction × n) samples, as scikit-learn), or a whole number of samples (1 means one sample,
   * as scikit-learn's int 1). Default 0.15, the course's.
   */
  validationSize?: number;
  /** The seed: scikit-learn's `random_state` (an int gives `RandomState(seed)`). Default 17. */
  seed?: number;
}

export interface Split<T> {
  /** Training items in scikit-learn's return order. */
  train: T[];
  /** Validation items in scikit-learn's return order (its "test" part). */
  validation: T[];
  /** The same training items in input (file) order: the order the course feeds to the model. */
  trainFileOrder: T[];
  validationFileOrder: T[];
  /** Positions in the input: `train[k] === items[trainIndex[k]]`. */
  trainIndex: number[];
  validationIndex: number[];
}

type Label = number | string;

/**
 * scikit-learn's `_validate_shuffle_split` for a held-out size alone: [nTrain, nValidation]
 * (the errors keep scikit-learn's words, where the held-out part is `test_size`).
 */
export function splitSizes(nSamples: number, validationSize: number): [number, number] {
  const isCount = Number.isInteger(validationSize) && validationSize >= 1;
  if (isCount) {
    if (validationSize >= nSamples) throw new Error(`test_size=${validationSize} should be either positive and smaller than the number of samples ${nSamples} or a float in the (0, 1) range`);
  } else if (!(validationSize > 0 && validationSize < 1)) {
    throw new Error(`validationSize must be a fraction in (0, 1) or a whole number of samples in [1, ${nSamples}), got ${validationSize}`);
  }
  const nValidation = isCount ? validationSize : Math.ceil(validationSize * nSamples);
  const nTrain = nSamples - nValidation;
  if (nTrain <= 0) {
    throw new Error(`With n_samples=${nSamples}, test_size=${validationSize} and train_size=None, the resulting train set will be empty. Adjust any of the aforementioned parameters.`);
  }
  return [nTrain, nValidation];
}

/** Sorted distinct labels, as `np.unique` (numbers numerically, strings by code unit). */
function uniqueSorted(labels: readonly Label[]): Label[] {
  const kinds = new Set(labels.map((l) => typeof l));
  if (kinds.size > 1) throw new Error("labels mix numbers and strings; use one kind");
  const u = [...new Set(labels)];
  return u.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
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
      const inds: number[] = [];
      remainder.forEach((r, i) => { if (r === value) inds.push(i); });
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
  const byPosition = (a: number, b: number) => a - b;
  const trainSorted = [...trainIndex].sort(byPosition);
  const validationSorted = [...validationIndex].sort(byPosition);
  return {
    train: trainIndex.map((i) => items[i]),
    validation: validationIndex.map((i) => items[i]),
    trainFileOrder: trainSorted.map((i) => items[i]),
    validationFileOrder: validationSorted.map((i) => items[i]),
    trainIndex,
    validationIndex,
  };
}

/**
 * Splits `items` into train and validation so that each class keeps its share in both, reproducing
 * `train_test_split(items, test_size, random_state=seed, stratify=labels)` exactly.
 * Throws scikit-learn's errors: a class with a single member, or a validation/train set smaller than
 * the number of classes. Pure: the inputs are not changed.
 */
export function stratifiedSplit<T>(items: readonly T[], labels: readonly Label[], opts: SplitOptions = {}): Split<T> {
  const { validationSize = 0.15, seed = 17 } = opts;
  if (items.length !== labels.length) throw new Error(`stratifiedSplit: ${items.length} items but ${labels.length} labels`);
  const [nTrain, nTest] = splitSizes(items.length, validationSize);

  // 1) classes in np.unique order, and each class's positions in input order (a stable argsort)
  const classes = uniqueSorted(labels);
  const classOf = new Map<Label, number>(classes.map((c, i) => [c, i]));
  const classIndices: number[][] = classes.map(() => []);
  labels.forEach((l, i) => classIndices[classOf.get(l)!].push(i));
  const classCounts = classIndices.map((ix) => ix.length);

  // 2) the same checks, with the same words, as StratifiedShuffleSplit
  const tooFew = classes.filter((_, i) => classCounts[i] < 2);
  if (tooFew.length) {
    throw new Error(`The least populated classes in y have only 1 member, which is too few. The minimum number of groups for any class cannot be less than 2. Classes with too few members are: [${tooFew.map(describe).join(", ")}]`);
  }
  if (nTrain < classes.length) throw new Error(`The train_size = ${nTrain} should be greater or equal to the number of classes = ${classes.length}`);
  if (nTest < classes.length) throw new Error(`The test_size = ${nTest} should be greater or equal to the number of classes = ${classes.length}`);

  // 3) per-class train and validation ("test") counts, drawn from one RandomState in scikit-learn's order
  const rng = new RandomState(seed);
  const nI = approximateMode(classCounts, nTrain, rng);
  const tI = approximateMode(classCounts.map((c, i) => c - nI[i]), nTest, rng);

  // 4) shuffle each class, take its train part then its validation part
  const train: number[] = [];
  const validation: number[] = [];
  classes.forEach((_, i) => {
    const perm = rng.permutation(classCounts[i]);
    const shuffled = perm.map((p) => classIndices[i][p]);
    train.push(...shuffled.slice(0, nI[i]));
    validation.push(...shuffled.slice(nI[i], nI[i] + tI[i]));
  });

  // 5) finally shuffle the train and validation sets themselves
  return assemble(items, rng.permutation(train), rng.permutation(validation));
}

/**
 * An unstratified split, `train_test_split(items, test_size, random_state=seed)`: one permutation,
 * the first nTest positions are validation. A rare class can end up entirely on one side.
 */
export function randomSplit<T>(items: readonly T[], opts: SplitOptions = {}): Split<T> {
  const { validationSize = 0.15, seed = 17 } = opts;
  const [nTrain, nTest] = splitSizes(items.length, validationSize);
  const perm = new RandomState(seed).permutation(items.length);
  return assemble(items, perm.slice(nTest, nTest + nTrain), perm.slice(0, nTest));
}

/** How many of each label a set holds, in the order of `names` (e.g. a label dict's keys). */
export function countLabels(labels: readonly Label[], names: readonly Label[]): number[] {
  return names.map((n) => labels.filter((l) => l === n).length);
}
