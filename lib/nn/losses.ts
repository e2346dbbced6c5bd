/**
 * The losses beyond the course's plain cross-entropy (lib/nn/ops.ts `crossEntropyLoss`), each equal to
 * PyTorch's within 1e-5, gradients included (test/losses.test.ts, fixtures from
 * scripts/make_label_fixtures.py):
 *   - class-weighted cross-entropy: `F.cross_entropy(logits, y, weight=w)`, i.e. Σ w[yᵢ]·nllᵢ / Σ w[yᵢ];
 *   - focal loss (Lin et al. 2017), multi-class: Σ w[yᵢ]·(1 − pᵢ)^γ·nllᵢ / Σ w[yᵢ], where pᵢ is the
 *     probability of the true class (γ = 0 gives the weighted cross-entropy back; no weights: w = 1);
 *   - binary cross-entropy on logits for multi-label heads: `F.binary_cross_entropy_with_logits`
 *     (the mean over every example and label), as Hugging Face uses for
 *     problem_type "multi_label_classification".
 * Taught in notebooks/07_imbalance.ipynb and 08_multilabel.ipynb.
 *
 *   weightedCrossEntropyLoss(tf.tensor2d([[2, 0], [0, 2]]), [0, 1], [1, 3]).dataSync()[0]   // 0.12693
 *   focalLoss(tf.tensor2d([[2, 0], [0, 2]]), [0, 0], 2).dataSync()[0]                         // 0.82594
 */
import * as tf from "@tensorflow/tfjs";

/** int32 labels as a tensor, checked against the number of classes (by value when given as numbers). */
function labelTensor(labels: tf.Tensor1D | number[], n: number, c: number, what: string): tf.Tensor1D {
  if (Array.isArray(labels)) {
    const bad = labels.find((l) => !Number.isInteger(l) || l < 0 || l >= c);
    if (bad !== undefined) throw new Error(`${what}: label ${bad} is not a class id in [0, ${c})`);
  }
  const lab = (Array.isArray(labels) ? tf.tensor1d(labels, "int32") : tf.cast(labels, "int32")) as tf.Tensor1D;
  if (lab.shape[0] !== n) throw new Error(`${what}: ${n} rows of logits but ${lab.shape[0]} labels`);
  return lab;
}

function checkWeights(weights: readonly number[] | undefined, c: number, what: string): void {
  if (!weights) return;
  if (weights.length !== c) throw new Error(`${what}: ${weights.length} class weights for ${c} classes`);
  const bad = weights.find((w) => !(w >= 0) || !Number.isFinite(w));
  if (bad !== undefined) throw new Error(`${what}: class weight ${bad} is not a finite number >= 0`);
}

/**
 * Focal loss of `logits` [batch, classes] against integer `labels`, with optional class `weights`;
 * gamma 0 is (weighted) cross-entropy. One-hot products rather than gather, so the gradient exists on wasm.
 */
export function focalLoss(
  logits: tf.Tensor2D, labels: tf.Tensor1D | number[], gamma: number, weights?: readonly number[],
): tf.Scalar {
  const [n, c] = logits.shape;
  if (!(gamma >= 0) || !Number.isFinite(gamma)) throw new Error(`focalLoss: gamma must be a number >= 0, got ${gamma}`);
  checkWeights(weights, c, "focalLoss");
  return tf.tidy(() => {
    const onehot = tf.oneHot(labelTensor(labels, n, c, "focalLoss"), c);
    const logpTrue = tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), 1);                     // log pᵢ, [batch]
    const w = weights ? tf.sum(tf.mul(onehot, tf.tensor1d(weights as number[])), 1) : tf.onesLike(logpTrue);
    // (1 - p)^γ: the easier an example (p near 1), the less it counts.
    const scaled = gamma > 0 ? tf.mul(tf.pow(tf.sub(1, tf.exp(logpTrue)), gamma), logpTrue) : logpTrue;
    return tf.div(tf.neg(tf.sum(tf.mul(w, scaled))), tf.sum(w)) as tf.Scalar;
  });
}

/** PyTorch's `F.cross_entropy(logits, labels, weight=weights)` (mean reduction: divided by the weights' sum). */
export function weightedCrossEntropyLoss(
  logits: tf.Tensor2D, labels: tf.Tensor1D | number[], weights: readonly number[],
): tf.Scalar {
  return focalLoss(logits, labels, 0, weights);
}

/**
 * PyTorch's `F.binary_cross_entropy_with_logits(logits, targets)`: one sigmoid per label, mean over
 * [batch, labels]. Written as max(x, 0) − x·y + log(1 + e^−|x|) (never overflows) with its exact
 * gradient (σ(x) − y) / count, which automatic differentiation of |x| would get wrong at x = 0.
 */
export function bceWithLogitsLoss(logits: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar {
  if (logits.shape.join() !== targets.shape.join()) {
    throw new Error(`bceWithLogitsLoss: logits [${logits.shape}] but targets [${targets.shape}]`);
  }
  const count = logits.size;
  // tf.customGrad's typings want (...args: (Tensor | GradSaveFunc)[]); this one names its arguments.
  const f = tf.customGrad(((x: tf.Tensor2D, y: tf.Tensor2D, save: tf.GradSaveFunc) => {
    save([x, y]);
    return {
      value: tf.div(tf.sum(tf.add(tf.sub(tf.relu(x), tf.mul(x, y)), tf.log1p(tf.exp(tf.neg(tf.abs(x)))))), count),
      gradFunc: (dy: tf.Tensor, [sx, sy]: tf.Tensor[]) => [
        tf.mul(dy, tf.div(tf.sub(tf.sigmoid(sx), sy), count)), tf.zerosLike(sy),
      ],
    };
  }) as never) as unknown as (x: tf.Tensor, y: tf.Tensor) => tf.Scalar;
  return tf.tidy(() => f(logits, tf.cast(targets, "float32")));
}
