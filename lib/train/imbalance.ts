/**
 * Remedies for a rare class (SMILE's validation split holds 171 `happy` tweets and 1 `disgust`): scikit-learn's
 * balanced class weights, PyTorch's weighted random sampler, the training loss a config asks for (lib/nn/loss_def.ts),
 * and logit adjustment by τ·log(class frequency) (Menon et al. 2021), in the loss or after training in the classifier's
 * bias. Taught in notebooks/07_imbalance.ipynb; checked against scikit-learn and by a chi-square test.
 *
 *   computeClassWeight([0, 0, 0, 1])           // [0.6667, 2]
 *   const s = new WeightedRandomSampler(balancedSampleWeights([0, 0, 0, 1]), 4, { seed: 17 });
 *   s.epochIndices()                           // 4 indices; index 3 comes up about half of the time
 */
import * as tf from "@tensorflow/tfjs";
import { RandomSampler } from "../data/loader";
import { LossSpec } from "../nn/loss_def";
import { TrainConfig } from "../config/config";

/**
 * `compute_class_weight("balanced", classes=0..numClasses-1, y)`: n_samples / (n_classes × count).
 * A class without examples is an error, as in scikit-learn (its weight would be infinite).
 */
export function computeClassWeight(
  y: readonly number[],
  numClasses = Math.max(...y) + 1,
  names?: readonly string[],
): number[] {
  if (y.length === 0) throw new Error("computeClassWeight: no labels");
  const counts = new Array<number>(numClasses).fill(0);
  y.forEach((c, i) => {
    if (!Number.isInteger(c) || c < 0 || c >= numClasses)
      throw new Error(`computeClassWeight: label at position ${i} is ${c}, not a class id in [0, ${numClasses})`);
    counts[c]++;
  });
  const missing = counts.findIndex((n) => n === 0);
  if (missing >= 0) {
    throw new Error(
      `class ${names?.[missing] ?? missing} has no training examples: `
        + `"balanced" weights need every class in the training data`,
    );
  }
  return counts.map((n) => y.length / (numClasses * n));
}

/** One weight per example, 1 / its class's count: every class is drawn equally often by a weighted sampler. */
export function balancedSampleWeights(y: readonly number[]): number[] {
  const counts = new Map<number, number>();
  for (const c of y) counts.set(c, (counts.get(c) ?? 0) + 1);
  return y.map((c) => 1 / counts.get(c)!);
}

/**
 * PyTorch's `WeightedRandomSampler(weights, num_samples, replacement=True)`: each epoch yields
 * `numSamples` indices, index i with probability weights[i] / Σ weights (torch.multinomial); without
 * replacement, each draw removes its index. Torch's checks and errors. Seeded (not torch's
 * generator: the draws differ, the distribution is the same) and resumable like RandomSampler.
 */
export class WeightedRandomSampler extends RandomSampler {
  private readonly cumulative: Float64Array;
  readonly weights: number[];
  readonly replacement: boolean;

  constructor(weights: readonly number[], readonly numSamples: number, opts: { replacement?: boolean; seed: number }) {
    // PyTorch's checks, in PyTorch's words (WeightedRandomSampler, then torch.multinomial)
    if (!Number.isInteger(numSamples) || numSamples <= 0)
      throw new Error(`num_samples should be a positive integer value, but got num_samples=${numSamples}`);
    if (!Array.isArray(weights) || weights.some((w) => typeof w !== "number"))
      throw new Error("weights should be a 1d sequence of numbers");
    if (weights.some((w) => !Number.isFinite(w) || w < 0))
      throw new Error("probability tensor contains either `inf`, `nan` or element < 0");
    super(numSamples, opts.seed);
    this.weights = [...weights];
    this.replacement = opts.replacement ?? true;
    const positive = weights.filter((w) => w > 0).length;
    if (positive === 0) throw new Error("invalid multinomial distribution (sum of probabilities <= 0)");
    if (!this.replacement && numSamples > weights.length)
      throw new Error("cannot sample n_sample > prob_dist.size(-1) samples without replacement");
    if (!this.replacement && numSamples > positive) {
      throw new Error(
        "invalid multinomial distribution (with replacement=False, not enough non-negative category to sample)",
      );
    }
    let sum = 0;
    this.cumulative = Float64Array.from(weights, (w) => (sum += w));
  }

  /** The next epoch's indices (advances the generator: call once per epoch). */
  override epochIndices(): number[] {
    this.epochs++;
    return this.replacement ? this.withReplacement() : this.withoutReplacement();
  }

  private withReplacement(): number[] {
    const c = this.cumulative, total = c[c.length - 1];
    const out: number[] = [];
    for (let k = 0; k < this.numSamples; k++) {
      // the first index whose cumulative weight exceeds u·total (binary search); zero weights are never hit
      const u = this.rng.next() * total;
      let lo = 0, hi = c.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (c[mid] > u) hi = mid; else lo = mid + 1;
      }
      out.push(lo);
    }
    return out;
  }

  private withoutReplacement(): number[] {
    const w = [...this.weights];
    const out: number[] = [];
    for (let k = 0; k < this.numSamples; k++) {
      const total = w.reduce((a, b) => a + b, 0);
      let u = this.rng.next() * total, i = 0;
      while (i < w.length - 1 && u >= w[i]) {
        u -= w[i];
        i++;
      }
      while (w[i] === 0) i--; // rounding ran past the last positive weight
      out.push(i);
      w[i] = 0;
    }
    return out;
  }
}

/** τ·log(count / n) per class of training label ids `y`: the logit adjustment of Menon et al. (2021). */
export function logitOffsets(
  y: readonly number[],
  numClasses: number,
  tau: number,
  names?: readonly string[],
): number[] {
  // computeClassWeight checks the ids and that every class occurs; its weight n / (classes × count) gives count / n.
  return computeClassWeight(y, numClasses, names).map((w) => tau * Math.log(1 / (numClasses * w)));
}

/**
 * What a config's remedies amount to for training label ids `trainY` over `labels`: the loss `spec` the step runs
 * (lib/nn/loss_def.ts) and the sampler; and, undefined where off, the class weights and the τ·log(class frequency)
 * offsets that the loss adds to the logits (logitOffsets) or the kept model subtracts (posthocOffsets). Validation
 * always reports the plain loss, so runs compare.
 */
export function remedies(cfg: TrainConfig, trainY: readonly number[], labels: readonly string[]) {
  const classWeights = cfg.classWeights === "balanced" ? computeClassWeight(trainY, labels.length, labels) : undefined;
  const offsetsFor = (tau: number) => (tau > 0 ? logitOffsets(trainY, labels.length, tau, labels) : undefined);
  const offsets = offsetsFor(cfg.logitAdjustment);
  const posthoc = offsetsFor(cfg.posthocAdjustment);
  const spec: LossSpec = cfg.loss === "focal"
    ? { kind: "focal", gamma: cfg.focalGamma, classWeights, logitOffsets: offsets }
    : { kind: "cross_entropy", classWeights, labelSmoothing: cfg.labelSmoothing, logitOffsets: offsets };
  const sampler = cfg.sampler === "weighted"
    ? new WeightedRandomSampler(balancedSampleWeights(trainY), trainY.length, { seed: cfg.seed })
    : new RandomSampler(trainY.length, cfg.seed);
  return { spec, sampler, classWeights, logitOffsets: offsets, posthocOffsets: posthoc };
}

/**
 * Post-hoc logit adjustment as a change of weights: classifier.bias −= sign × offsets (sign 1 applies
 * τ·log(class frequency) offsets, −1 takes them back off). Softmax(logits − offsets) is then what the
 * model outputs, in bertlab, in an ONNX export and in Python `transformers` alike.
 */
export function shiftClassifierBias(
  model: { params: Map<string, tf.Variable> },
  offsets: readonly number[],
  sign: 1 | -1 = 1,
): void {
  const bias = model.params.get("classifier.bias");
  if (!bias || bias.shape[0] !== offsets.length)
    throw new Error(`post-hoc adjustment: the model has no classifier.bias of ${offsets.length} classes`);
  tf.tidy(() => bias.assign(tf.sub(bias, tf.mul(tf.tensor1d(offsets as number[]), sign))));
}
