/**
 * The training losses, each defined once against a few operations (`Ops`), as lib/nn/bert_def.ts defines the
 * forward pass: run eagerly on the gradient tape (lib/nn/losses.ts's `lossOnTape`) or lowered into the training
 * graph (lib/graph/step_graph.ts). Each gives its value and its gradient with respect to the logits side by side:
 * the graph's backward pass starts from that gradient, and the tape uses it as the loss's custom gradient, so
 * both run the same formula. Three kinds cover every option of TrainConfig:
 *   - "cross_entropy": −Σᵢⱼ Tᵢⱼ·log softmax(zᵢ + o)ⱼ with fed targets T. One-hot rows over N give the
 *     course's mean; class weights, label smoothing (PyTorch's `label_smoothing`) fold into T (`lossFeeds`);
 *     o is the logit adjustment (zeros: none);
 *   - "focal": −Σᵢ aᵢ·(1 − pᵢ)^γ·log pᵢ, pᵢ the true class's probability, aᵢ = w[yᵢ] / Σ w (Lin et al. 2017);
 *   - "bce": s·Σᵢⱼ BCE(zᵢⱼ, yᵢⱼ) over multi-hot rows y, s = 1 / (rows × labels): PyTorch's BCEWithLogitsLoss.
 * R-Drop (`StepLossSpec.rdrop`) adds a consistency term between two dropout passes to either single-label loss.
 * The normaliser (N, Σ w, rows × labels) is fed, so that k micro-batches normalised by their group's total
 * sum to the loss of one batch k× the size (gradient accumulation).
 *
 *   const f = lossFeeds({ kind: "cross_entropy", labelSmoothing: 0.1 }, [0, 1], 2);
 *   f.targets   // [[0.475, 0.025], [0.025, 0.475]]: (0.9·one-hot + 0.1/2) / 2 rows
 */

/**
 * The operations the losses, clipping and AdamW (lib/nn/optim.ts) are written with: tfjs functions (lib/nn/losses.ts's
 * `eagerOps`) or TensorFlow graph nodes (lib/graph/step_graph.ts).
 */
export type Ops<T> = Record<UnaryOp, (x: T) => T> & Record<BinaryOp, (a: T, b: T) => T> & {
  scalar(v: number): T;
  /** Σ over `axis` (kept as size 1), or over everything to a scalar when `axis` is undefined (at most 2-D). */
  sum(x: T, axis?: number): T;
  /** The elementwise sum of same-shaped values. */
  addN(xs: T[]): T;
};

/** Elementwise, but for logSoftmax (over the last axis) and sumAll (Σ over every element, any rank, to a scalar). */
type UnaryOp = "neg" | "exp" | "log1p" | "abs" | "relu" | "sigmoid" | "sqrt" | "square" | "logSoftmax" | "sumAll";
/** Elementwise and broadcasting (pow: x^e), but for matMul, the matrix product a·b (2-D). */
type BinaryOp = "add" | "sub" | "mul" | "div" | "pow" | "maximum" | "matMul";

export type LossKind = "cross_entropy" | "focal" | "bce";

/** What a step minimises (TrainConfig's loss options, resolved for one training set). */
export type LossSpec =
  | {
    kind: "cross_entropy";
    classWeights?: readonly number[];
    labelSmoothing?: number;
    logitOffsets?: readonly number[];
  }
  | { kind: "focal"; gamma: number; classWeights?: readonly number[]; logitOffsets?: readonly number[] }
  | { kind: "bce" };

/**
 * R-Drop (Liang et al., NeurIPS 2021) on top of a single-label loss: every batch runs twice, its rows stacked
 * [x; x] so that dropout masks differ, and the loss adds α × the two passes' symmetric KL divergence to the
 * mean of their losses. The trainer doubles the batch (lib/train/train_graph.ts); the loss sees 2·B rows.
 */
export type StepLossSpec = LossSpec & { rdrop?: number };

/** R-Drop's feeds: which row is whose twin (a permutation matrix), and each row's weight α·w[y]/N. */
export const RDROP_FEEDS: Record<string, (number | null)[]> = { twin: [null, null], klWeights: [null, 1] };

/** A loss's tensors besides the logits, by name, with their shapes ([batch, labels] etc.; null: any size). */
export const LOSS_FEEDS: Record<LossKind, Record<string, (number | null)[]>> = {
  cross_entropy: { offsets: [null], targets: [null, null] },
  focal: { offsets: [null], targets: [null, null], rowWeights: [null, 1], gamma: [] },
  bce: { targets: [null, null], scale: [] },
};

/** A loss's value and its gradient with respect to the logits. */
type LossDef<T> = { value: T; dlogits: T };

/**
 * The value and d value / d logits of loss `kind` at logits `z` [batch, labels], given its feeds; with `rdrop`, plus
 * R-Drop's consistency term (`rdropDef`).
 */
export function lossDef<T>(kind: LossKind, o: Ops<T>, z: T, f: Record<string, T>, rdrop = false): LossDef<T> {
  const base = baseLossDef(kind, o, z, f);
  if (!rdrop) return base;
  const kl = rdropDef(o, z, f);
  return { value: o.add(base.value, kl.value), dlogits: o.add(base.dlogits, kl.dlogits) };
}

/**
 * R-Drop's term Σᵣ kᵣ·KL(pᵣ ‖ p_twin(r)), p = softmax(z), kᵣ = α·w[yᵣ]/N (fed "klWeights"), twins by the fed
 * permutation matrix "twin" (P·x puts each row's twin in its place). Summed over both rows of a pair it is α × the
 * mean symmetric KL ½(KL(p‖q) + KL(q‖p)) over the pairs. Row a meets z_a in its own term,
 * d KL(pₐ‖q)/d zₐ = pₐ·(log pₐ − log q − KLₐ), and in its twin's, d KL(q‖pₐ)/d zₐ = pₐ − q.
 */
function rdropDef<T>(o: Ops<T>, z: T, f: Record<string, T>): LossDef<T> {
  const logp = o.logSoftmax(z);
  const p = o.exp(logp);
  const logq = o.matMul(f.twin, logp);
  const diff = o.sub(logp, logq);
  const kl = o.sum(o.mul(p, diff), 1);
  const value = o.sum(o.mul(f.klWeights, kl));
  const own = o.mul(f.klWeights, o.mul(p, o.sub(diff, kl)));
  const twins = o.mul(o.matMul(f.twin, f.klWeights), o.sub(p, o.matMul(f.twin, p)));
  return { value, dlogits: o.add(own, twins) };
}

function baseLossDef<T>(kind: LossKind, o: Ops<T>, z: T, f: Record<string, T>): LossDef<T> {
  switch (kind) {
    case "cross_entropy": {
      // value = −Σ T·log p, p = softmax(z + o); d/dz = p·Σⱼ Tᵢⱼ − T, row by row.
      const logp = o.logSoftmax(o.add(z, f.offsets));
      const value = o.neg(o.sum(o.mul(f.targets, logp)));
      return { value, dlogits: o.sub(o.mul(o.exp(logp), o.sum(f.targets, 1)), f.targets) };
    }
    case "focal": {
      // value = −Σ a·q^γ·log p (q = 1 − p, p = the true class's probability, one-hot rows H);
      // d/dz = a·(q^γ − γ·p·q^(γ−1)·log p)·(softmax − H). q is floored at 1e-30 in q^(γ−1): at p = 1 exactly
      // the term is γ·0·∞, whose limit is 0 (as PyTorch's), and 1e-30^(γ−1)·0 gives that 0 for any γ ≥ 0.
      const logp = o.logSoftmax(o.add(z, f.offsets));
      const logpTrue = o.sum(o.mul(f.targets, logp), 1);
      const p = o.exp(logpTrue);
      const q = o.sub(o.scalar(1), p);
      const qg = o.pow(q, f.gamma);
      const value = o.neg(o.sum(o.mul(f.rowWeights, o.mul(qg, logpTrue))));
      const qFloor = o.maximum(q, o.scalar(1e-30));
      const slope = o.mul(o.mul(f.gamma, o.mul(p, logpTrue)), o.pow(qFloor, o.sub(f.gamma, o.scalar(1))));
      const coef = o.mul(f.rowWeights, o.sub(qg, slope));
      return { value, dlogits: o.mul(coef, o.sub(o.exp(logp), f.targets)) };
    }
    case "bce": {
      // value = s·Σ max(z, 0) − z·y + log(1 + e^−|z|) (never overflows); d/dz = s·(σ(z) − y).
      const y = f.targets;
      const terms = o.add(o.sub(o.relu(z), o.mul(z, y)), o.log1p(o.exp(o.neg(o.abs(z)))));
      return { value: o.mul(f.scale, o.sum(terms)), dlogits: o.mul(f.scale, o.sub(o.sigmoid(z), y)) };
    }
  }
}

/** Label ids (single-label) or multi-hot rows (multi-label) of one batch. */
export type Targets = number[] | number[][];

/** A loss's feeds by name (LOSS_FEEDS, RDROP_FEEDS), as plain numbers. */
export type LossFeeds = Record<string, number[][] | number[] | number>;

function ids(targets: Targets, c: number, what: string): number[] {
  return (targets as unknown[]).map((y, i) => {
    if (typeof y !== "number" || !Number.isInteger(y) || y < 0 || y >= c)
      throw new Error(`${what}: label ${JSON.stringify(y)} is not a class id in [0, ${c}) (row ${i})`);
    return y;
  });
}

function rows(targets: Targets, c: number, what: string): number[][] {
  return (targets as unknown[]).map((r, i) => {
    if (!Array.isArray(r) || r.length !== c || r.some((v) => v !== 0 && v !== 1))
      throw new Error(`${what}: row ${i} of the targets is not ${c} values of 0 or 1`);
    return r as number[];
  });
}

/** Checks a loss's settings against `c` labels; throws naming the first problem. */
export function checkLossSpec(spec: StepLossSpec, c: number): void {
  const a = spec.rdrop ?? 0;
  if (!(a >= 0) || !Number.isFinite(a)) throw new Error(`rdrop: alpha must be a number >= 0, got ${a}`);
  if (a > 0 && spec.kind === "bce") throw new Error("rdrop: R-Drop is for single-label losses, not bce");
  if (spec.kind === "bce") return;
  const w = spec.classWeights;
  if (w && w.length !== c) throw new Error(`${spec.kind}: ${w.length} class weights for ${c} classes`);
  const bad = w?.find((v) => !(v >= 0) || !Number.isFinite(v));
  if (bad !== undefined) throw new Error(`${spec.kind}: class weight ${bad} is not a finite number >= 0`);
  if (spec.logitOffsets && spec.logitOffsets.length !== c)
    throw new Error(`${spec.kind}: ${spec.logitOffsets.length} logit offsets for ${c} classes`);
  if (spec.kind === "focal" && (!(spec.gamma >= 0) || !Number.isFinite(spec.gamma)))
    throw new Error(`focalLoss: gamma must be a number >= 0, got ${spec.gamma}`);
  const eps = spec.kind === "cross_entropy" ? spec.labelSmoothing ?? 0 : 0;
  if (!(eps >= 0 && eps <= 1)) throw new Error(`cross_entropy: label smoothing must be in [0, 1], got ${eps}`);
}

/**
 * What the loss of one batch divides by: the number of rows (class-weighted: Σ w[yᵢ]; bce: rows × labels).
 * Summed over a group of micro-batches, it makes their losses add up to one large batch's.
 */
export function lossNorm(spec: LossSpec, targets: Targets, c: number): number {
  if (spec.kind === "bce") return rows(targets, c, "bce").length * c;
  const w = spec.classWeights;
  return ids(targets, c, spec.kind).reduce((s, y) => s + (w ? w[y] : 1), 0);
}

/**
 * The feeds of loss `spec` for one batch's targets over `c` labels, normalised by `norm` (default: this batch's own
 * lossNorm). Cross-entropy with class weights w and label smoothing ε, as PyTorch's
 * `cross_entropy(weight=w, label_smoothing=ε)`: Tᵢⱼ = ((1 − ε)·w[yᵢ]·[j = yᵢ] + ε/C·wⱼ) / Σᵢ w[yᵢ].
 */
export function lossFeeds(spec: StepLossSpec, targets: Targets, c: number, norm?: number): LossFeeds {
  checkLossSpec(spec, c);
  const n = norm ?? lossNorm(spec, targets, c);
  return { ...baseFeeds(spec, targets, c, n), ...(spec.rdrop ? rdropFeeds(spec, targets as number[], c, n) : {}) };
}

/** R-Drop's feeds for rows [x; x] (the first half's twins are the second half, in order). */
function rdropFeeds(spec: StepLossSpec, targets: number[], c: number, n: number) {
  const rows = targets.length, half = rows / 2;
  if (rows % 2) throw new Error(`rdrop: ${rows} rows, not a batch stacked twice`);
  const w = spec.kind === "bce" ? undefined : spec.classWeights;
  const twin = targets.map((_, r) => oneHot((r + half) % rows, rows, 1));
  return { twin, klWeights: ids(targets, c, "rdrop").map((y) => [(spec.rdrop! * (w ? w[y] : 1)) / n]) };
}

function baseFeeds(spec: LossSpec, targets: Targets, c: number, n: number): LossFeeds {
  if (spec.kind === "bce") return { targets: rows(targets, c, "bce"), scale: 1 / n };
  const y = ids(targets, c, spec.kind);
  const w = spec.classWeights ?? new Array<number>(c).fill(1);
  const offsets = spec.logitOffsets ? [...spec.logitOffsets] : new Array<number>(c).fill(0);
  if (spec.kind === "focal")
    return { offsets, targets: y.map((t) => oneHot(t, c, 1)), rowWeights: y.map((t) => [w[t] / n]), gamma: spec.gamma };
  const eps = spec.labelSmoothing ?? 0;
  // Without smoothing, exactly the one-hot row scaled by w[yᵢ] / N (the course's targets).
  const smoothed = (yi: number) => w.map((wj, j) => ((j === yi ? (1 - eps) * w[yi] : 0) + (eps / c) * wj) / n);
  return { offsets, targets: y.map((yi) => (eps === 0 ? oneHot(yi, c, w[yi] / n) : smoothed(yi))) };
}

function oneHot(y: number, c: number, v: number): number[] {
  const r = new Array<number>(c).fill(0);
  r[y] = v;
  return r;
}
