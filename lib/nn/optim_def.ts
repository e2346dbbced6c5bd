/**
 * Gradient clipping and AdamW, each defined once against a few operations, as lib/nn/loss_def.ts defines the losses:
 * run eagerly on TensorFlow.js tensors (lib/nn/optim.ts's `clipGradNorm` and `AdamW.step`) or lowered into the
 * training graph (lib/graph/optim_graph.ts's `addAdamW`), so that a whole step in one TensorFlow call is the eager
 * step's arithmetic in the eager step's order.
 *   1) clipping, as torch's clip_grad_norm_: the global norm ‖g‖ = √Σᵢ‖gᵢ‖², and the factor every gradient is
 *      multiplied by, min(1, maxNorm / (‖g‖ + 1e-6)) where maxNorm > 0, else 1;
 *   2) AdamW, as transformers v4's (correct_bias=True), for each weight p with gradient g at step t:
 *        m = b1·m + (1 − b1)·g;  v = b2·v + (1 − b2)·g²
 *        p −= stepSize · m / (√v + eps)    stepSize = lr·scale·√(1 − b2ᵗ)/(1 − b1ᵗ): eps after the square root
 *        p −= decay · p                    decay = lr·scale·wd: decoupled, after the update
 *      (torch.optim.AdamW decays first and adds eps after the bias correction: differences ~1e-5.)
 * A step's constants are plain numbers worked out on the host in double precision (`adamwConstants`), 1 − b1 and
 * 1 − b2 included, and reach both forms as the same float32 values.
 *
 *   adamwConstants({ lr: 1e-3, betas: [0.9, 0.999], t: 1, scale: 1, weightDecay: 0.01 })
 *   // { stepSize: 0.00031622776601683816, decay: 0.00001 }
 */

/** The operations clipping's factor is written with: host numbers (eager) or TensorFlow graph nodes. */
export interface ScalarOps<T> {
  scalar(v: number): T;
  add(a: T, b: T): T;
  div(a: T, b: T): T;
  minimum(a: T, b: T): T;
  /** `a` where `c` > 0, else `b`. */
  wherePositive(c: T, a: T, b: T): T;
}

/** The operations the norm and the update are written with: TensorFlow.js tensors (eager) or graph nodes. */
export interface TensorOps<T> {
  add(a: T, b: T): T;
  sub(a: T, b: T): T;
  mul(a: T, b: T): T;
  div(a: T, b: T): T;
  sqrt(x: T): T;
  square(x: T): T;
  /** Σ over every element, to a scalar. */
  sumAll(x: T): T;
  /** The elementwise sum of same-shaped values. */
  addN(xs: T[]): T;
}

/** The global L2 norm over all gradients: √Σᵢ‖gᵢ‖². */
export function gradNorm<T>(o: TensorOps<T>, grads: T[]): T {
  return o.sqrt(o.addN(grads.map((g) => o.sumAll(o.square(g)))));
}

/** clip_grad_norm_'s factor for a global `norm`: min(1, maxNorm / (norm + 1e-6)), or 1 where maxNorm is 0 (off). */
export function clipFactor<T>(o: ScalarOps<T>, norm: T, maxNorm: T): T {
  const one = o.scalar(1);
  return o.wherePositive(maxNorm, o.minimum(one, o.div(maxNorm, o.add(norm, o.scalar(1e-6)))), one);
}

/** One weight's AdamW constants for a step (see the file comment); weights without decay pass weightDecay 0. */
export function adamwConstants(
  s: { lr: number; betas: readonly [number, number]; t: number; scale: number; weightDecay: number },
): { stepSize: number; decay: number } {
  const [b1, b2] = s.betas;
  const stepSize = (s.lr * Math.sqrt(1 - b2 ** s.t)) / (1 - b1 ** s.t);
  return { stepSize: stepSize * s.scale, decay: s.weightDecay > 0 ? s.lr * s.scale * s.weightDecay : 0 };
}

/** What one weight's update reads besides its values: the optimizer's betas and eps, the weight's step constants. */
export interface AdamWStep<T> {
  b1: T;
  /** 1 − b1, worked out on the host. */
  oneMinusB1: T;
  b2: T;
  oneMinusB2: T;
  eps: T;
  stepSize: T;
  /** None: the decay step is left out (the graph, fed one value for every weight, multiplies by 0 instead). */
  decay?: T;
}

/** AdamW's update of weight `p` with (clipped) gradient `g` and moments `m`, `v`: the new weight and moments. */
export function adamwUpdate<T>(o: TensorOps<T>, w: { p: T; g: T; m: T; v: T }, k: AdamWStep<T>): { p: T; m: T; v: T } {
  const m = o.add(o.mul(w.m, k.b1), o.mul(w.g, k.oneMinusB1));
  const v = o.add(o.mul(w.v, k.b2), o.mul(o.square(w.g), k.oneMinusB2));
  const stepped = o.sub(w.p, o.mul(o.div(m, o.add(o.sqrt(v), k.eps)), k.stepSize));
  const p = k.decay === undefined ? stepped : o.sub(stepped, o.mul(stepped, k.decay));
  return { p, m, v };
}
