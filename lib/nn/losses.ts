/**
 * The training losses on the gradient tape, each the lib/nn/loss_def.ts definition that the training graph also
 * lowers (its value, and its gradient with respect to the logits as the custom gradient), and each equal to
 * PyTorch's within 1e-5, gradients included (test/losses.wasm.test.ts, fixtures from
 * scripts/make_label_fixtures.py):
 *   - class-weighted cross-entropy: `F.cross_entropy(logits, y, weight=w)`, i.e. Σ w[yᵢ]·nllᵢ / Σ w[yᵢ];
 *   - label smoothing: `F.cross_entropy(logits, y, weight=w, label_smoothing=ε)` (Hugging Face's
 *     `label_smoothing_factor` without weights): the target is (1 − ε)·one-hot + ε/classes;
 *   - focal loss (Lin et al. 2017), multi-class: Σ w[yᵢ]·(1 − pᵢ)^γ·nllᵢ / Σ w[yᵢ], where pᵢ is the
 *     probability of the true class (γ = 0 gives the weighted cross-entropy back; no weights: w = 1);
 *   - binary cross-entropy on logits for multi-label heads: `F.binary_cross_entropy_with_logits`
 *     (the mean over every example and label), as Hugging Face uses for
 *     problem_type "multi_label_classification".
 * Taught in notebooks/07_imbalance.ipynb and 08_multilabel.ipynb.
 *
 *   weightedCrossEntropyLoss(tf.tensor2d([[2, 0], [0, 2]]), [0, 1], [1, 3]).dataSync()[0]   // 0.12693
 *   focalLoss(tf.tensor2d([[2, 0], [0, 2]]), [0, 0], 2).dataSync()[0]                         // 0.82594
 *   smoothedCrossEntropyLoss(tf.tensor2d([[2, 0], [0, 2]]), [0, 1], 0.1).dataSync()[0]        // 0.22693
 */
import * as tf from "@tensorflow/tfjs";
import { LossOps, LossSpec, StepLossSpec, Targets, lossDef, lossFeeds } from "./loss_def";

/** LossOps as tfjs functions. */
const eagerOps: LossOps<tf.Tensor> = {
  scalar: (v) => tf.scalar(v),
  add: tf.add,
  sub: tf.sub,
  mul: tf.mul,
  pow: tf.pow,
  maximum: tf.maximum,
  neg: tf.neg,
  exp: tf.exp,
  log1p: tf.log1p,
  abs: tf.abs,
  relu: tf.relu,
  sigmoid: tf.sigmoid,
  logSoftmax: (x) => tf.logSoftmax(x),
  sum: (x, axis) => (axis === undefined ? tf.sum(x) : tf.sum(x, axis, true)),
  matMul: (a, b) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
};

/**
 * Loss `spec` of logits [batch, labels] against one batch's `targets` (label ids, or multi-hot rows for "bce"),
 * normalised by `norm` (default the batch's own; see lossNorm), with the definition's gradient.
 */
export function lossOnTape(
  spec: StepLossSpec,
  targets: Targets,
  numLabels: number,
  norm?: number,
): (logits: tf.Tensor2D) => tf.Scalar {
  const fed = lossFeeds(spec, targets, numLabels, norm);
  return (logits) => {
    const [n, c] = logits.shape;
    if (c !== numLabels) throw new Error(`${spec.kind}: logits have ${c} columns for ${numLabels} labels`);
    if (n !== targets.length) throw new Error(`${spec.kind}: ${n} rows of logits but ${targets.length} labels`);
    const f = tf.customGrad(
      ((z: tf.Tensor, save: tf.GradSaveFunc) => {
        save([z]);
        const feeds = () => Object.fromEntries(Object.entries(fed).map(([k, v]) => [k, tf.tensor(v as number)]));
        const def = (x: tf.Tensor) => lossDef(spec.kind, eagerOps, x, feeds(), Boolean(spec.rdrop));
        return { value: def(z).value, gradFunc: (dy: tf.Tensor, [sz]: tf.Tensor[]) => tf.mul(dy, def(sz).dlogits) };
      }) as never,
    ) as unknown as (z: tf.Tensor) => tf.Scalar;
    return tf.tidy(() => f(logits));
  };
}

/** Label ids from a tensor or an array (a tensor is read back: a batch's worth of integers). */
function idsOf(labels: tf.Tensor1D | number[]): number[] {
  return Array.isArray(labels) ? labels : (labels.arraySync() as number[]);
}

/**
 * Focal loss of `logits` [batch, classes] against integer `labels`, with optional class `weights`;
 * gamma 0 is (weighted) cross-entropy.
 */
export function focalLoss(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D | number[],
  gamma: number,
  weights?: readonly number[],
): tf.Scalar {
  const spec: LossSpec = { kind: "focal", gamma, classWeights: weights };
  return lossOnTape(spec, idsOf(labels).map(checkLabel("focalLoss", logits.shape[1])), logits.shape[1])(logits);
}

/** PyTorch's `F.cross_entropy(logits, labels, weight=weights)` (mean reduction: divided by the weights' sum). */
export function weightedCrossEntropyLoss(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D | number[],
  weights: readonly number[],
): tf.Scalar {
  return focalLoss(logits, labels, 0, weights);
}

/** PyTorch's `F.cross_entropy(logits, labels, weight=weights, label_smoothing=epsilon)`. */
export function smoothedCrossEntropyLoss(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D | number[],
  epsilon: number,
  weights?: readonly number[],
): tf.Scalar {
  const spec: LossSpec = { kind: "cross_entropy", labelSmoothing: epsilon, classWeights: weights };
  return lossOnTape(spec, idsOf(labels), logits.shape[1])(logits);
}

/**
 * PyTorch's `F.binary_cross_entropy_with_logits(logits, targets)`: one sigmoid per label, mean over
 * [batch, labels]. Written as max(x, 0) − x·y + log(1 + e^−|x|) (never overflows) with its exact
 * gradient (σ(x) − y) / count, which automatic differentiation of |x| would get wrong at x = 0.
 */
export function bceWithLogitsLoss(logits: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar {
  if (logits.shape.join() !== targets.shape.join())
    throw new Error(`bceWithLogitsLoss: logits [${logits.shape}] but targets [${targets.shape}]`);
  const y = targets.arraySync() as number[][];
  return lossOnTape({ kind: "bce" }, y, logits.shape[1])(logits);
}

/** A label check that names the function, as PyTorch names the failing call. */
function checkLabel(what: string, c: number) {
  return (y: number) => {
    if (!Number.isInteger(y) || y < 0 || y >= c) throw new Error(`${what}: label ${y} is not a class id in [0, ${c})`);
    return y;
  };
}
