/**
 * The optimizer side of the course's loop: gradient clipping and AdamW, each defined once against a few operations
 * (`Ops`, as lib/nn/loss_def.ts defines the losses) and run in two forms, eagerly on TensorFlow.js tensors
 * (`clipGradNorm`, `AdamW.step`) or lowered into the training graph (lib/graph/step_graph.ts's `addAdamW`), so that
 * a whole step in one TensorFlow call is the eager step's arithmetic in the eager step's order; and the linear
 * schedule with warm-up. Checked step by step against PyTorch in test/optim.wasm.test.ts (fixtures from
 * scripts/make_train_fixtures.py). Notebook 05 writes one AdamW step inline first.
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
 *   const opt = new AdamW(model.params, { lr: 1e-4 });
 *   const { grads: clipped, norm } = clipGradNorm(grads, 1.0);   // norm: 3.81
 *   opt.step(clipped, schedule.lr());  schedule.step();
 *   adamwConstants({ lr: 1e-3, betas: [0.9, 0.999], t: 1, scale: 1, weightDecay: 0.01 })
 *   // { stepSize: 0.00031622776601683816, decay: 0.00001 }
 */
import * as tf from "@tensorflow/tfjs";
import type { Ops } from "./loss_def";
import { eagerOps } from "./losses";

/** The operations clipping's factor is written with: host numbers (eager) or TensorFlow graph nodes. */
export type ScalarOps<T> = Pick<Ops<T>, "scalar" | "add" | "div"> & {
  minimum(a: T, b: T): T;
  /** `a` where `c` > 0, else `b`. */
  wherePositive(c: T, a: T, b: T): T;
};

/** ScalarOps as host numbers: the clip factor of a norm read back, in double precision. */
const hostOps: ScalarOps<number> = {
  scalar: (v) => v,
  add: (a, b) => a + b,
  div: (a, b) => a / b,
  minimum: (a, b) => Math.min(a, b),
  wherePositive: (c, a, b) => (c > 0 ? a : b),
};

/** The global L2 norm over all gradients: √Σᵢ‖gᵢ‖². */
export function gradNorm<T>(o: Ops<T>, grads: T[]): T {
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
export function adamwUpdate<T>(o: Ops<T>, w: { p: T; g: T; m: T; v: T }, k: AdamWStep<T>): { p: T; m: T; v: T } {
  const m = o.add(o.mul(w.m, k.b1), o.mul(w.g, k.oneMinusB1));
  const v = o.add(o.mul(w.v, k.b2), o.mul(o.square(w.g), k.oneMinusB2));
  const stepped = o.sub(w.p, o.mul(o.div(m, o.add(o.sqrt(v), k.eps)), k.stepSize));
  const p = k.decay === undefined ? stepped : o.sub(stepped, o.mul(stepped, k.decay));
  return { p, m, v };
}

/** The course's no_decay list: names containing "bias" or "LayerNorm.weight" get no weight decay. */
export function defaultNoDecay(name: string): boolean {
  return ["bias", "LayerNorm.weight"].some((nd) => name.includes(nd));
}

export interface AdamWOptions {
  lr: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /** Parameters excluded from weight decay (default: biases and LayerNorm weights). */
  noDecay?: (name: string) => boolean;
  /** A per-parameter learning-rate multiplier (default 1 for all): PyTorch's param groups with their own lr. */
  lrScale?: (name: string) => number;
}

/** Optimizer state as plain data, for checkpoints: step count and both moments per parameter. */
export interface AdamWState {
  step: number;
  names: string[];
  shapes: number[][];
  /** exp_avg then exp_avg_sq per name, in `names` order. */
  moments: { m: Float32Array; v: Float32Array }[];
}

/** AdamW (see the file comment), with a moment pair per parameter and a learning-rate scale per parameter. */
export class AdamW {
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  lr: number;
  private t = 0;
  private m = new Map<string, tf.Variable>();
  private v = new Map<string, tf.Variable>();
  private decays: Map<string, boolean>;
  private scales: Map<string, number>;

  constructor(readonly params: Map<string, tf.Variable>, opts: AdamWOptions) {
    this.lr = opts.lr;
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    const noDecay = opts.noDecay ?? defaultNoDecay;
    this.decays = new Map([...params.keys()].map((k) => [k, !noDecay(k)]));
    this.scales = new Map([...params.keys()].map((k) => [k, opts.lrScale ? opts.lrScale(k) : 1]));
  }

  get stepCount(): number {
    return this.t;
  }

  /** Names of the parameters that get weight decay (for the notebook's look at the two groups). */
  decayed(): string[] {
    return [...this.decays].filter(([, d]) => d).map(([k]) => k);
  }

  /**
   * One update from `grads` (name → gradient; parameters without a gradient are left alone, as
   * PyTorch skips p.grad None). `lr` overrides the current learning rate (the scheduler's value).
   */
  step(grads: Record<string, tf.Tensor>, lr = this.lr): void {
    const unknown = Object.keys(grads).find((name) => !this.params.has(name));
    if (unknown !== undefined) throw new Error(`AdamW.step: gradient for unknown parameter "${unknown}"`);
    const [b1, b2] = this.betas;
    for (const [name, { stepSize, decay }] of this.beginStep(lr)) {
      const g = grads[name];
      if (!g) continue;
      const p = this.params.get(name)!, [m, v] = this.moments(name);
      tf.tidy(() => {
        const k = {
          b1: tf.scalar(b1),
          oneMinusB1: tf.scalar(1 - b1),
          b2: tf.scalar(b2),
          oneMinusB2: tf.scalar(1 - b2),
          eps: tf.scalar(this.eps),
          stepSize: tf.scalar(stepSize),
          decay: decay ? tf.scalar(decay) : undefined,
        };
        const next = adamwUpdate(eagerOps, { p, g, m, v }, k);
        m.assign(next.m);
        v.assign(next.v);
        p.assign(next.p);
      });
    }
  }

  /** Counts one step and returns each parameter's `adamwConstants` for it: what `step` and the training graph use. */
  beginStep(lr = this.lr): Map<string, { stepSize: number; decay: number }> {
    this.t++;
    return new Map([...this.params.keys()].map((name) => {
      const weightDecay = this.decays.get(name) ? this.weightDecay : 0;
      const scale = this.scales.get(name)!;
      return [name, adamwConstants({ lr, betas: this.betas, t: this.t, scale, weightDecay })];
    }));
  }

  /** A parameter's first and second moments (zeros before its first update), as variables the caller may assign. */
  moments(name: string): [tf.Variable, tf.Variable] {
    const p = this.params.get(name);
    if (!p) throw new Error(`AdamW: unknown parameter "${name}"`);
    if (!this.m.has(name)) {
      this.m.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
      this.v.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
    }
    return [this.m.get(name)!, this.v.get(name)!];
  }

  getState(): AdamWState {
    const names = [...this.m.keys()];
    return {
      step: this.t,
      names,
      shapes: names.map((n) => this.m.get(n)!.shape),
      moments: names.map((n) => ({
        m: this.m.get(n)!.dataSync() as Float32Array,
        v: this.v.get(n)!.dataSync() as Float32Array,
      })),
    };
  }

  setState(s: AdamWState): void {
    this.dispose();
    this.t = s.step;
    s.names.forEach((name, i) => {
      const p = this.params.get(name);
      if (!p) throw new Error(`optimizer state has parameter "${name}" that the model does not have`);
      if (p.size !== s.moments[i].m.length)
        throw new Error(`optimizer state for "${name}" has ${s.moments[i].m.length} values, parameter has ${p.size}`);
      // tidy frees the temporary tensors; the variables keep the data.
      this.m.set(name, tf.tidy(() => tf.variable(tf.tensor(s.moments[i].m, p.shape), false)));
      this.v.set(name, tf.tidy(() => tf.variable(tf.tensor(s.moments[i].v, p.shape), false)));
    });
  }

  /** Frees the moment tensors (not the parameters). */
  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}

/**
 * transformers' get_linear_schedule_with_warmup as a function of the step: rises linearly from
 * 0 to 1 over `warmup` steps, then falls linearly to 0 at `total`.
 *   linearWarmupFactor(1, 3, 10) // 0.333...;  linearWarmupFactor(4, 3, 10) // 0.857...
 */
export function linearWarmupFactor(step: number, warmup: number, total: number): number {
  if (step < warmup) return step / Math.max(1, warmup);
  return Math.max(0, (total - step) / Math.max(1, total - warmup));
}

export interface ScheduleState {
  step: number;
}

/** The scheduler object of the loop: lr() is the rate for the next optimizer step; step() advances. */
export class LinearScheduleWithWarmup {
  private t = 0;
  constructor(readonly baseLr: number, readonly warmupSteps: number, readonly totalSteps: number) {
    if (!(totalSteps >= 1)) throw new Error(`scheduler needs at least one training step, got totalSteps=${totalSteps}`);
  }
  lr(): number {
    return this.baseLr * linearWarmupFactor(this.t, this.warmupSteps, this.totalSteps);
  }
  step(): void {
    this.t++;
  }
  getState(): ScheduleState {
    return { step: this.t };
  }
  setState(s: ScheduleState): void {
    this.t = s.step;
  }
}

/** Warm-up steps from a config: explicit steps win, else a ratio of the total. */
export function warmupStepsFor(total: number, warmupSteps: number, warmupRatio: number): number {
  return warmupSteps > 0 ? warmupSteps : Math.ceil(total * warmupRatio);
}

/**
 * torch.nn.utils.clip_grad_norm_ as a pure function: the global L2 norm over all gradients; if
 * it exceeds maxNorm every gradient is scaled by maxNorm / (norm + 1e-6). Returns new tensors
 * (the caller disposes them and its own) and the norm before clipping. maxNorm 0 = no clipping.
 */
export function clipGradNorm(
  grads: Record<string, tf.Tensor>,
  maxNorm: number,
): { grads: Record<string, tf.Tensor>; norm: number } {
  const names = Object.keys(grads);
  const norm = tf.tidy(() => gradNorm(eagerOps, names.map((n) => grads[n])).dataSync()[0]);
  const coef = clipFactor(hostOps, norm, maxNorm);
  const out: Record<string, tf.Tensor> = {};
  for (const n of names) out[n] = tf.tidy(() => (coef < 1 ? grads[n].mul(coef) : grads[n].clone()));
  return { grads: out, norm };
}
