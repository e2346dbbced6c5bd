/**
 * The building blocks of BERT in TensorFlow.js, written to be fast on the native (tensorflow) backend
 * AND trainable on wasm. Taught in notebooks/04_model.ipynb; lib/model/bert.ts assembles them.
 *
 * Why not plain tfjs ops everywhere? Two facts about wasm:
 *  - `matMul` with a transpose flag is an order of magnitude slower there than transposing first, and the
 *    automatic gradient of `matMul` uses the flags. So `linear` and `bmm` carry their own gradient
 *    (`tf.customGrad`) that transposes explicitly;
 *  - wasm has no `UnsortedSegmentSum`, the gradient of `gather`. So `embedding` writes its gradient
 *    with `scatterND` (which sums repeated ids).
 * On native TensorFlow the flags are free, so "auto" mode uses the built-in gradients there.
 * `setGradMode("explicit")` forces our own everywhere (the tests check both give the same numbers).
 *
 * When no gradient tape records (`recording()` false), the ops take shorter paths: on native every kernel pays a
 * fixed call whatever its size, so a batch-1 forward is bound by its kernel count, which these paths (3-D/4-D
 * matMuls without reshapes, LayerNorm without tf.moments, the id check and mask in JavaScript) cut by a third.
 *
 * Weights keep Hugging Face's layout: a linear layer's weight is [out, in], as `nn.Linear` stores it.
 *
 *   linear(tf.ones([2, 3]), tf.ones([4, 3]), tf.zeros([4])).shape  // [2, 4]
 *   gelu(tf.tensor([-1, 0, 1])).arraySync()                        // [-0.15866, 0, 0.84134]
 */
import * as tf from "@tensorflow/tfjs";

export type GradMode = "auto" | "explicit" | "builtin";
let gradMode: GradMode = "auto";

/** Chooses how gradients are computed: "auto" (explicit on wasm, built-in elsewhere), or forces one. */
export function setGradMode(mode: GradMode): void {
  gradMode = mode;
}
function explicit(): boolean {
  return gradMode === "explicit" || (gradMode === "auto" && tf.getBackend() === "wasm");
}

/**
 * True while a gradient tape records (inside tf.grads / tf.variableGrads); when none does, the ops take their
 * shorter paths. (The tape is what matters, not `training`: tests take gradients of eval-mode forwards.)
 */
export function recording(): boolean {
  // tfjs keeps no public flag for this; the engine's gradientDepth is what its own isTapeOn() reads.
  return ((tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth ?? 0) > 0;
}

/** Native inference: no tape and the built-in kernels (flags free, broadcast matMul). */
export function fastInference(): boolean {
  return !explicit() && !recording();
}

type Saver = (tensors: tf.Tensor[]) => void;
// tf.customGrad's typings want (...args: (Tensor | GradSaveFunc)[]); ours name their arguments.
const customGrad = (
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  f: (...args: any[]) => { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[] },
) => tf.customGrad(f as never) as unknown as (...inputs: tf.Tensor[]) => tf.Tensor;

/** x [N, in] @ w[out, in]ᵀ + b, gradient with explicit transposes (no matMul flags). */
const linearExplicit = customGrad((x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, save: Saver) => {
  save([x, w]);
  return {
    value: tf.add(tf.matMul(x, tf.transpose(w)), b),
    gradFunc: (dy, [x, w]) => [tf.matMul(dy, w), tf.matMul(tf.transpose(dy), x), tf.sum(dy, 0)],
  };
});

/**
 * A fully connected layer as Hugging Face's `nn.Linear`: y = x wᵀ + b, with x [..., in], w [out, in],
 * b [out]. Leading dimensions are kept: [batch, seq, in] → [batch, seq, out].
 */
export function linear(x: tf.Tensor, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor {
  const [out, inF] = w.shape;
  const last = x.shape[x.rank - 1];
  if (last !== inF)
    throw new Error(`linear: input's last dimension is ${last} but the weight [${w.shape}] expects ${inF}`);
  // [b, s, in] × [out, in]ᵀ as one broadcast BatchMatMul: the two reshapes around a 2-D product cost
  // as much as the product at batch 1. Not under a tape: tfjs's gradient of a broadcast BatchMatMul
  // gives dw the batch's shape, [b, out, in], and fails.
  if (x.rank === 3 && fastInference()) return tf.tidy(() => tf.add(tf.matMul(x as tf.Tensor3D, w, false, true), b));
  return tf.tidy(() => {
    const x2 = x.rank === 2 ? (x as tf.Tensor2D) : tf.reshape(x, [-1, inF]) as tf.Tensor2D;
    const y = explicit() ? linearExplicit(x2, w, b) : tf.add(tf.matMul(x2, w, false, true), b);
    return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), out]);
  });
}

/** Batched a [B, m, k] @ b [B, k, n], gradient with explicit transposes. */
const bmmExplicit = customGrad((a: tf.Tensor3D, b: tf.Tensor3D, save: Saver) => {
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy, [a, b]) => [tf.matMul(dy, tf.transpose(b, [0, 2, 1])), tf.matMul(tf.transpose(a, [0, 2, 1]), dy)],
  };
});

/** Batched matrix product a [B, m, k] @ b [B, k, n] (or bᵀ when `transposeB`, b [B, n, k]). */
export function bmm(a: tf.Tensor3D, b: tf.Tensor3D, transposeB = false): tf.Tensor3D {
  if (!explicit()) return tf.matMul(a, b, false, transposeB);
  return tf.tidy(() => bmmExplicit(a, transposeB ? tf.transpose(b, [0, 2, 1]) : b) as tf.Tensor3D);
}

/**
 * Throws unless every id is in [0, rows): out-of-range ids would silently give zeros (native) or
 * garbage. Checked in JavaScript: input ids come from JavaScript, so reading them back copies a few
 * hundred ints and runs no kernel (a tf.min/tf.max check cost two kernels and two round trips).
 */
export function checkIds(ids: tf.Tensor, rows: number, what: string): void {
  const bad = ids.dataSync().find((v) => !(v >= 0 && v < rows));
  if (bad !== undefined) throw new Error(`${what}: id ${bad} is outside the table's ${rows} rows`);
}

/** Rows `idx` of table `t`, gradient by scatterND. */
const gatherExplicit = customGrad((t: tf.Tensor2D, idx: tf.Tensor1D, save: Saver) => {
  save([idx]);
  return {
    value: tf.gather(t, idx),
    // ids get no gradient, but customGrad wants a float32 one for every input.
    gradFunc: (dy, [idx]) => [tf.scatterND(tf.reshape(idx, [-1, 1]), dy, t.shape), tf.zeros(idx.shape)],
  };
});

/**
 * Embedding lookup: rows of `table` [vocab, dim] for integer `ids` of any shape → [...ids.shape, dim].
 * Its gradient is a scatterND (repeated ids add up), which wasm has, where `gather`'s is missing.
 */
export function embedding(table: tf.Tensor2D, ids: tf.Tensor): tf.Tensor {
  if (ids.dtype !== "int32") throw new Error(`embedding: ids must be int32, got ${ids.dtype}`);
  const [vocab, dim] = table.shape;
  checkIds(ids, vocab, "embedding");
  if (!recording()) return tf.gather(table, ids); // any shape of ids, no reshapes, when no gradient is wanted
  return tf.tidy(() => {
    const flat = tf.reshape(ids, [-1]) as tf.Tensor1D;
    const rows = explicit() ? gatherExplicit(table, flat) : tf.gather(table, flat);
    return tf.reshape(rows, [...ids.shape, dim]);
  });
}

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** 0.5·x·(1 + erf(x/√2)), as 0.5x + 0.5x·erf(x/√2): five kernels. */
const geluValue = (x: tf.Tensor) => tf.tidy(() => {
  const half = tf.mul(x, 0.5);
  return tf.add(half, tf.mul(half, tf.erf(tf.mul(x, Math.SQRT1_2))));
});

/** Exact GELU as Hugging Face's "gelu": x·Φ(x) = 0.5·x·(1 + erf(x/√2)); gradient Φ(x) + x·φ(x). */
export function gelu(x: tf.Tensor): tf.Tensor {
  return recording() ? geluGrad(x) : geluValue(x);
}

const geluGrad = customGrad((x: tf.Tensor, save: Saver) => {
  save([x]);
  return {
    value: geluValue(x),
    gradFunc: (dy, [x]) => tf.tidy(() => {
      const cdf = tf.mul(0.5, tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
      const pdf = tf.mul(INV_SQRT_2PI, tf.exp(tf.mul(tf.square(x), -0.5)));
      return tf.mul(dy, tf.add(cdf, tf.mul(x, pdf)));
    }),
  };
}) as (x: tf.Tensor) => tf.Tensor;

/**
 * [x̂, 1/σ] over the last axis: x̂ = (x − mean)·rsqrt(var + eps). Written out rather than with
 * tf.moments, whose float32 Casts and keep-dims reshapes made 14 kernels of a LayerNorm's 17.
 */
function normalize(x: tf.Tensor, eps: number): [tf.Tensor, tf.Tensor] {
  const axis = x.rank - 1;
  const xc = tf.sub(x, tf.mean(x, axis, true));
  const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(xc), axis, true), eps));
  return [tf.mul(xc, rstd), rstd];
}

/**
 * LayerNorm over the last axis, as `nn.LayerNorm(hidden, eps)`: (x − mean)/√(var + eps)·γ + β.
 * Its gradient is written out (fewer kernels than autodiff through `moments`).
 */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps = 1e-12): tf.Tensor {
  const d = x.shape[x.rank - 1];
  if (gamma.shape[0] !== d || beta.shape[0] !== d)
    throw new Error(`layerNorm: input's last dimension ${d} ≠ γ [${gamma.shape}] / β [${beta.shape}]`);
  if (!recording()) return tf.tidy(() => tf.add(tf.mul(normalize(x, eps)[0], gamma), beta));
  const f = customGrad((x: tf.Tensor, g: tf.Tensor1D, b: tf.Tensor1D, save: Saver) => {
    const axis = x.rank - 1;
    const [xhat, rstd] = tf.tidy(() => normalize(x, eps));
    save([xhat, rstd, g]);
    const value = tf.tidy(() => tf.add(tf.mul(xhat, g), b));
    return {
      value,
      gradFunc: (dy, [xhat, rstd, g]) => tf.tidy(() => {
        const lead = Array.from({ length: dy.rank - 1 }, (_, i) => i);
        const dxhat = tf.mul(dy, g);
        const m1 = tf.mean(dxhat, axis, true);
        const m2 = tf.mean(tf.mul(dxhat, xhat), axis, true);
        const dx = tf.mul(rstd, tf.sub(tf.sub(dxhat, m1), tf.mul(xhat, m2)));
        return [dx, tf.sum(tf.mul(dy, xhat), lead), tf.sum(dy, lead)];
      }),
    };
  });
  return f(x, gamma, beta);
}

/**
 * Which of `n` elements a seeded dropout keeps (1) or drops (0, with probability `rate`), made in
 * JavaScript with a small fast generator (xorshift32). tf.randomUniform draws through seedrandom, several
 * times slower, and BERT needs ~17 million draws per training step at batch 32 × 58. Bytes, not floats:
 * the training graph is fed these (a quarter of the memory) and scales them itself.
 */
export function dropoutKeep(n: number, rate: number, seed: number): Uint8Array {
  const threshold = Math.floor(rate * 4294967296); // drop when the u32 draw < rate·2³²
  const out = new Uint8Array(n);
  // Mix the seed (splitmix-style) so that seeds 1, 2, 3 give unrelated streams; never 0.
  let s = (Math.imul((seed | 0) ^ 0x9e3779b9, 0x85ebca6b) ^ 0xc2b2ae35) | 0 || 0x6d2b79f5;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) >= threshold) as unknown as number; // branch-free: faster than a conditional
  }
  return out;
}

/**
 * A 32-bit mix of two integers (murmur3's finaliser): distinct, unrelated seeds per dropout site (the
 * model's dropout calls, counted in order) and per initialised weight, all from one run seed.
 */
export function siteSeed(seed: number, site: number): number {
  let h = (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(site + 1, 0x85ebca77)) | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

/**
 * Dropout as in training: zero each element with probability `rate` and scale the rest by 1/(1−rate).
 * The same `seed` gives the same mask. Rate 0 returns `x` itself.
 */
export function dropout(x: tf.Tensor, rate: number, seed: number): tf.Tensor {
  if (!(rate >= 0 && rate < 1)) throw new Error(`dropout: rate must be in [0, 1), got ${rate}`);
  if (rate === 0) return x;
  const keep = dropoutKeep(x.size, rate, seed), scale = Math.fround(1 / (1 - rate));
  const mask = new Float32Array(keep.length);
  for (let i = 0; i < keep.length; i++) mask[i] = keep[i] * scale;
  return tf.tidy(() => tf.mul(x, tf.tensor(mask, x.shape)));
}

/** Smallest float32, the value Hugging Face adds to masked attention scores (torch.finfo(float32).min). */
export const MASK_MIN = -3.4028234663852886e38;

/**
 * The additive attention mask: attention_mask [batch, seq] of 1/0 → [batch, 1, 1, seq] of 0 / MASK_MIN,
 * broadcast over heads and query positions (HF's `get_extended_attention_mask`).
 */
export function additiveMask(attentionMask: tf.Tensor2D): tf.Tensor4D {
  // Built in JavaScript from the mask's values (a copy of batch × seq numbers, no kernels).
  const [b, s] = attentionMask.shape;
  const m = attentionMask.dataSync();
  const out = new Float32Array(m.length);
  for (let i = 0; i < m.length; i++) out[i] = (1 - m[i]) * MASK_MIN;
  return tf.tensor4d(out, [b, 1, 1, s]);
}

/** [batch, seq, hidden] → per-head [batch, heads, seq, head size] (4-D: native without a tape) or [batch·heads, seq, head size]. */
function splitHeads(t: tf.Tensor, numHeads: number, flat: boolean): tf.Tensor {
  const [b, s, h] = t.shape;
  if (h % numHeads !== 0) throw new Error(`attention: hidden size ${h} is not a multiple of ${numHeads} heads`);
  const perHead = tf.transpose(tf.reshape(t, [b, s, numHeads, h / numHeads]), [0, 2, 1, 3]);
  return flat ? tf.reshape(perHead, [b * numHeads, s, h / numHeads]) : perHead;
}

/**
 * Masked multi-head attention probabilities softmax(q kᵀ/√dh + mask): q, k [batch, seq, hidden] (already
 * projected), `mask` from `additiveMask` → [batch, heads, seq, seq]. Padding columns get exactly 0.
 */
export function attentionProbs(q: tf.Tensor3D, k: tf.Tensor3D, mask: tf.Tensor4D, numHeads: number): tf.Tensor4D {
  const [b, s, h] = q.shape;
  return tf.tidy(() => {
    const qs = tf.mul(q, 1 / Math.sqrt(h / numHeads));
    // Native, no tape: BatchMatMul takes [b, heads, s, dh] as it is (3 reshapes fewer per q/k/v/ctx).
    // (TensorFlow's Einsum would also drop the transposes, but is slower at batch 1.)
    const fast = fastInference(), [qh, kh] = [qs, k].map((t) => splitHeads(t, numHeads, !fast));
    const scores = fast
      ? tf.matMul(qh, kh, false, true)
      : tf.reshape(bmm(qh as tf.Tensor3D, kh as tf.Tensor3D, true), [b, numHeads, s, s]);
    return tf.softmax(tf.add(scores, mask)) as tf.Tensor4D;
  });
}

/** The attention's output: probs [batch, heads, seq, seq] @ v per head, heads concatenated → [batch, seq, hidden]. */
export function attentionContext(probs: tf.Tensor4D, v: tf.Tensor3D, numHeads: number): tf.Tensor3D {
  const [b, s, h] = v.shape;
  const dh = h / numHeads;
  return tf.tidy(() => {
    const ctx = fastInference()
      ? tf.matMul(probs, splitHeads(v, numHeads, false))
      : tf.reshape(
        bmm(tf.reshape(probs, [b * numHeads, s, s]) as tf.Tensor3D, splitHeads(v, numHeads, true) as tf.Tensor3D),
        [b, numHeads, s, dh],
      );
    return tf.reshape(tf.transpose(ctx, [0, 2, 1, 3]), [b, s, h]) as tf.Tensor3D;
  });
}

/** Masked multi-head scaled dot-product attention, both steps: q, k, v [batch, seq, hidden] → [batch, seq, hidden]. */
export function attention(
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  mask: tf.Tensor4D,
  numHeads: number,
): tf.Tensor3D {
  return tf.tidy(() => attentionContext(attentionProbs(q, k, mask, numHeads), v, numHeads));
}

/**
 * Mean cross-entropy of `logits` [batch, classes] against integer `labels` (as `nn.CrossEntropyLoss`).
 * Uses a one-hot product rather than `gather`, so its gradient exists on wasm too.
 *
 *   crossEntropyLoss(tf.tensor2d([[2, 0], [0, 2]]), [0, 1]).dataSync()[0]  // 0.12693
 */
export function crossEntropyLoss(logits: tf.Tensor2D, labels: tf.Tensor1D | number[]): tf.Scalar {
  const [n, c] = logits.shape;
  return tf.tidy(() => {
    const lab = Array.isArray(labels) ? tf.tensor1d(labels, "int32") : tf.cast(labels, "int32");
    if (lab.shape[0] !== n) throw new Error(`crossEntropyLoss: ${n} rows of logits but ${lab.shape[0]} labels`);
    if (Array.isArray(labels)) {
      const bad = labels.find((l) => !Number.isInteger(l) || l < 0 || l >= c);
      if (bad !== undefined) throw new Error(`crossEntropyLoss: label ${bad} is not a class id in [0, ${c})`);
    }
    const logp = tf.logSoftmax(logits);
    return tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(lab as tf.Tensor1D, c), logp), 1))) as tf.Scalar;
  });
}
