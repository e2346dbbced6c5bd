/**
 * The optimizer side of the course's loop: AdamW as `transformers.AdamW` (correct_bias=True),
 * the linear schedule with warm-up, and global gradient-norm clipping, on TensorFlow.js tensors. The clipping
 * and the update are lib/nn/optim_def.ts's, which the training graph runs too. Checked step by step
 * against PyTorch in test/optim.wasm.test.ts (fixtures from scripts/make_train_fixtures.py).
 * Notebook 05 writes one AdamW step inline first.
 *
 *   const opt = new AdamW(model.params, { lr: 1e-4 });
 *   const { grads: clipped, norm } = clipGradNorm(grads, 1.0);   // norm: 3.81
 *   opt.step(clipped, schedule.lr());  schedule.step();
 */
import * as tf from "@tensorflow/tfjs";
import { ScalarOps, TensorOps, adamwConstants, adamwUpdate, clipFactor, gradNorm } from "./optim_def";

/** TensorOps as TensorFlow.js functions. */
const tensorOps: TensorOps<tf.Tensor> = {
  add: tf.add,
  sub: tf.sub,
  mul: tf.mul,
  div: tf.div,
  sqrt: tf.sqrt,
  square: tf.square,
  sumAll: (x) => tf.sum(x),
  addN: (xs) => tf.addN(xs),
};

/** ScalarOps as host numbers: the clip factor of a norm read back, in double precision. */
const hostOps: ScalarOps<number> = {
  scalar: (v) => v,
  add: (a, b) => a + b,
  div: (a, b) => a / b,
  minimum: (a, b) => Math.min(a, b),
  wherePositive: (c, a, b) => (c > 0 ? a : b),
};

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

/**
 * AdamW, transformers v4's update for each parameter p with gradient g at step t (lib/nn/optim_def.ts):
 *   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g²
 *   p -= lr * sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + eps)   // eps added after the square root
 *   p -= lr * wd * p                                          // decoupled decay, after the update
 * (torch.optim.AdamW decays first and adds eps after the bias correction: differences ~1e-5.)
 */
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
    for (const name of Object.keys(grads)) {
      if (!this.params.has(name)) throw new Error(`AdamW.step: gradient for unknown parameter "${name}"`);
    }
    const [b1, b2] = this.betas;
    const k = this.beginStep(lr);
    for (const [name, p] of this.params) {
      const g = grads[name];
      if (!g) continue;
      const [m, v] = this.moments(name);
      const { stepSize, decay } = k.get(name)!;
      tf.tidy(() => {
        const next = adamwUpdate(
          tensorOps,
          { p, g, m, v },
          {
            b1: tf.scalar(b1),
            oneMinusB1: tf.scalar(1 - b1),
            b2: tf.scalar(b2),
            oneMinusB2: tf.scalar(1 - b2),
            eps: tf.scalar(this.eps),
            stepSize: tf.scalar(stepSize),
            decay: decay ? tf.scalar(decay) : undefined,
          },
        );
        m.assign(next.m);
        v.assign(next.v);
        p.assign(next.p);
      });
    }
  }

  /**
   * Counts one step and returns each parameter's constants for it (optim_def.ts's `adamwConstants`): the
   * bias-corrected step size lr·√(1−b2ᵗ)/(1−b1ᵗ)·scale and the decoupled decay lr·scale·wd (0 where none). `step`
   * uses them, and so does the training graph (lib/train/train_graph.ts), which runs the same update inside
   * TensorFlow.
   */
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
    this.disposeMoments();
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

  private disposeMoments(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }

  /** Frees the moment tensors (not the parameters). */
  dispose(): void {
    this.disposeMoments();
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
  const normT = tf.tidy(() => gradNorm(tensorOps, names.map((n) => grads[n])));
  const norm = (normT.dataSync() as Float32Array)[0];
  normT.dispose();
  const coef = clipFactor(hostOps, norm, maxNorm);
  const out: Record<string, tf.Tensor> = {};
  for (const n of names) out[n] = tf.tidy(() => (coef < 1 ? grads[n].mul(coef) : grads[n].clone()));
  return { grads: out, norm };
}
