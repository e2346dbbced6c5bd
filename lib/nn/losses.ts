/**
 * The training losses on the gradient tape: lib/nn/loss_def.ts's definitions, which the training graph also lowers
 * (the value, and the gradient with respect to the logits as the custom gradient). The named losses below are
 * PyTorch's within 1e-5, gradients included (test/losses.wasm.test.ts, fixtures from
 * scripts/make_label_fixtures.py). Taught in notebooks/07_imbalance.ipynb and 08_multilabel.ipynb.
 *
 *   weightedCrossEntropyLoss(tf.tensor2d([[2, 0], [0, 2]]), [0, 1], [1, 3]).dataSync()[0]   // 0.12693
 *   focalLoss(tf.tensor2d([[2, 0], [0, 2]]), [0, 0], 2).dataSync()[0]                         // 0.82594
 *   smoothedCrossEntropyLoss(tf.tensor2d([[2, 0], [0, 2]]), [0, 1], 0.1).dataSync()[0]        // 0.22693
 */
import * as tf from "@tensorflow/tfjs";
import { Ops, StepLossSpec, Targets, lossDef, lossFeeds } from "./loss_def";

/** Ops as tfjs functions: the losses here, and clipping and AdamW in lib/nn/optim.ts. */
export const eagerOps: Ops<tf.Tensor> = {
  scalar: (v) => tf.scalar(v),
  add: tf.add,
  sub: tf.sub,
  mul: tf.mul,
  div: tf.div,
  pow: tf.pow,
  maximum: tf.maximum,
  neg: tf.neg,
  exp: tf.exp,
  log1p: tf.log1p,
  abs: tf.abs,
  relu: tf.relu,
  sigmoid: tf.sigmoid,
  sqrt: tf.sqrt,
  square: tf.square,
  logSoftmax: (x) => tf.logSoftmax(x),
  sum: (x, axis) => (axis === undefined ? tf.sum(x) : tf.sum(x, axis, true)),
  sumAll: (x) => tf.sum(x),
  addN: (xs) => tf.addN(xs),
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
 * Focal loss (Lin et al. 2017) of `logits` [batch, classes] against integer `labels`, with optional class `weights`:
 * Σ w[yᵢ]·(1 − pᵢ)^γ·nllᵢ / Σ w[yᵢ], pᵢ the true class's probability; gamma 0 is (weighted) cross-entropy.
 */
export function focalLoss(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D | number[],
  gamma: number,
  weights?: readonly number[],
): tf.Scalar {
  return lossOnTape({ kind: "focal", gamma, classWeights: weights }, idsOf(labels), logits.shape[1])(logits);
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
  const spec = { kind: "cross_entropy", labelSmoothing: epsilon, classWeights: weights } as const;
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
  return lossOnTape({ kind: "bce" }, targets.arraySync() as number[][], logits.shape[1])(logits);
}
