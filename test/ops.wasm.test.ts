// Tests for lib/nn/ops.ts on the default backend and, via `npm run test:wasm`, on wasm.
// Values are checked against plain tfjs ops (autodiff) or numbers worked out by hand.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/runtime/backend";
import {
  linear,
  bmm,
  embedding,
  gelu,
  layerNorm,
  dropout,
  attention,
  additiveMask,
  crossEntropyLoss,
  setGradMode,
  MASK_MIN,
} from "../lib/nn/ops";

before(async () => {
  await initBackend();
});
after(() => setGradMode("auto"));

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= tol * (1 + Math.abs(expected[i])),
      `${what}[${i}]: ${actual[i]} vs ${expected[i]}`,
    );
  }
}
const vals = (t: tf.Tensor) => Array.from(t.dataSync());

/** Runs `fn`, checks it leaves no tensors behind but the one it returns. */
function noLeak<T>(fn: () => T): T {
  const before = tf.memory().numTensors;
  const out = fn();
  assert.equal(tf.memory().numTensors, before + (out instanceof tf.Tensor ? 1 : 0), "tensors leaked");
  return out;
}

/** Gradients of sum(f(xs) * w) for a fixed random w, in each grad mode. */
function gradsIn(mode: "explicit" | "builtin", xs: tf.Tensor[], f: (...xs: tf.Tensor[]) => tf.Tensor): number[][] {
  setGradMode(mode);
  try {
    return tf.tidy(() => {
      const g = tf.grads((...a: tf.Tensor[]) => {
        const y = f(...a);
        return tf.sum(tf.mul(y, tf.randomNormal(y.shape, 0, 1, "float32", 5)));
      })(xs);
      return g.map(vals);
    });
  } finally {
    setGradMode("auto");
  }
}

test("linear: y = x wᵀ + b on literal numbers, any leading shape", () => {
  const x = tf.tensor3d([[[1, 2], [3, 4]]]); // [1, 2, 2]
  const w = tf.tensor2d([[1, 0], [0, 1], [1, 1]]); // [3 out, 2 in]
  const b = tf.tensor1d([0.5, 0, -1]);
  const y = noLeak(() => linear(x, w, b));
  assert.deepEqual(y.shape, [1, 2, 3]);
  assertClose(vals(y), [1.5, 2, 2, 3.5, 4, 6], 1e-6, "y");
  assert.throws(() => linear(x, tf.zeros([3, 5]) as tf.Tensor2D, b), /last dimension is 2.*expects 5/);
  assertClose(vals(x), [1, 2, 3, 4], 0, "input unchanged");
  tf.dispose([x, w, b, y]);
});

test("linear and bmm: explicit-transpose gradients equal autodiff's", () => {
  const x = tf.randomNormal([2, 3, 4], 0, 1, "float32", 1);
  const w = tf.randomNormal([5, 4], 0, 1, "float32", 2);
  const b = tf.randomNormal([5], 0, 1, "float32", 3);
  const a = tf.randomNormal([3, 2, 4], 0, 1, "float32", 4), c = tf.randomNormal([3, 5, 4], 0, 1, "float32", 6);
  const f = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => linear(x, w as tf.Tensor2D, b as tf.Tensor1D);
  const before = tf.memory().numTensors;
  const ge = gradsIn("explicit", [x, w, b], f), gb = gradsIn("builtin", [x, w, b], f);
  ge.forEach((g, i) => assertClose(g, gb[i], 1e-5, `linear grad ${i}`));
  const h = (a: tf.Tensor, c: tf.Tensor) => bmm(a as tf.Tensor3D, c as tf.Tensor3D, true);
  const he = gradsIn("explicit", [a, c], h), hb = gradsIn("builtin", [a, c], h);
  he.forEach((g, i) => assertClose(g, hb[i], 1e-5, `bmm grad ${i}`));
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
  tf.dispose([x, w, b, a, c]);
});

test("embedding: looks rows up; its gradient sums repeated ids (works on wasm)", () => {
  const table = tf.tensor2d([[0, 1], [10, 11], [20, 21]]);
  const ids = tf.tensor2d([[2, 0], [2, 2]], undefined, "int32");
  const y = noLeak(() => embedding(table, ids));
  assert.deepEqual(y.shape, [2, 2, 2]);
  assert.deepEqual(vals(y), [20, 21, 0, 1, 20, 21, 20, 21]);
  for (const mode of ["explicit", "auto"] as const) {
    setGradMode(mode);
    const g = noLeak(() =>
      tf.tidy(() =>
        vals(tf.grad((t: tf.Tensor) => tf.sum(tf.mul(embedding(t as tf.Tensor2D, ids), tf.tensor([1, 2]))))(table))
      )
    );
    // row 0 used once, row 1 never, row 2 three times; weights 1 and 2 on the two columns
    assert.deepEqual(g, [1, 2, 0, 0, 3, 6], `mode ${mode}`);
  }
  setGradMode("auto");
  assert.throws(() => embedding(table, tf.tensor2d([[3]], undefined, "int32")), /id 3 is outside the table's 3 rows/);
  assert.throws(() => embedding(table, tf.tensor2d([[1]])), /ids must be int32/);
  tf.dispose([table, ids, y]);
});

test("gelu: exact (erf) values and gradient", () => {
  const x = tf.tensor1d([-3, -1, 0, 0.5, 2]);
  const y = noLeak(() => gelu(x));
  // torch.nn.functional.gelu(torch.tensor([-3., -1., 0., .5, 2.]))
  assertClose(vals(y), [-0.0040496, -0.1586553, 0, 0.3457312, 1.9544997], 1e-5, "gelu");
  const g = noLeak(() => tf.tidy(() => vals(tf.grad((t: tf.Tensor) => tf.sum(gelu(t)))(x))));
  // autodiff of the erf formula, by finite differences in float64 here:
  const phi = (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2));
  const fd = [-3, -1, 0, 0.5, 2].map((v) => (phi(v + 1e-6) - phi(v - 1e-6)) / 2e-6);
  assertClose(g, fd, 1e-4, "gelu'");
  tf.dispose([x, y]);
});

/** erf to 1e-7 (Abramowitz–Stegun 7.1.26 is too coarse; use a series/continued fraction). */
function erf(x: number): number {
  // Taylor series converges fast for |x| < 3.
  let sum = x, term = x;
  for (let n = 1; n < 100; n++) {
    term *= -x * x / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

test("layerNorm: matches the moments formula, and so does its gradient", () => {
  const x = tf.randomNormal([2, 3, 8], 1, 2, "float32", 7);
  const g = tf.randomNormal([8], 1, 0.1, "float32", 8), b = tf.randomNormal([8], 0, 0.1, "float32", 9);
  const ref = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), g), b);
  });
  const ours = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => layerNorm(x, g as tf.Tensor1D, b as tf.Tensor1D, 1e-5);
  noLeak(() => tf.tidy(() => assertClose(vals(ours(x, g, b)), vals(ref(x, g, b)), 1e-5, "value")));
  const before = tf.memory().numTensors;
  const go = tf.tidy(() => tf.grads((x, g, b) => tf.sum(tf.mul(ours(x, g, b), tf.range(0, 8))))([x, g, b]).map(vals));
  const gr = tf.tidy(() => tf.grads((x, g, b) => tf.sum(tf.mul(ref(x, g, b), tf.range(0, 8))))([x, g, b]).map(vals));
  go.forEach((v, i) => assertClose(v, gr[i], 1e-4, `grad ${i}`));
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
  tf.dispose([x, g, b]);
});

test("dropout: seeded masks repeat, rate is respected, kept values are scaled", () => {
  const ones = tf.ones([100, 100]),
    mask = (seed: number) => noLeak(() => tf.tidy(() => vals(dropout(ones, 0.1, seed))));
  const m1 = mask(42), m2 = mask(42), m3 = mask(43);
  ones.dispose();
  assert.deepEqual(m1, m2, "same seed, same mask");
  assert.notDeepEqual(m1, m3, "another seed, another mask");
  const dropped = m1.filter((v) => v === 0).length / m1.length;
  assert.ok(Math.abs(dropped - 0.1) < 0.015, `dropped fraction ${dropped}`);
  assert.ok(m1.every((v) => v === 0 || Math.abs(v - 1 / 0.9) < 1e-6));
  const x = tf.ones([4, 5]);
  assert.equal(dropout(x, 0, 1), x, "rate 0 is the identity");
  const y = noLeak(() => dropout(x, 0.5, 3));
  assert.ok(vals(y).every((v) => v === 0 || v === 2));
  assert.deepEqual(vals(x), new Array(20).fill(1), "input unchanged");
  assert.throws(() => dropout(x, 1, 0), /rate must be in \[0, 1\)/);
  // its gradient is the mask
  const g = noLeak(() => tf.tidy(() => vals(tf.grad((t: tf.Tensor) => tf.sum(dropout(t, 0.5, 3)))(x))));
  assert.deepEqual(g, vals(y));
  tf.dispose([x, y]);
});

/** Attention in plain JS loops, the reference. q,k,v: [b][s][h]. */
function naiveAttention(q: number[][][], k: number[][][], v: number[][][], mask: number[][], heads: number): number[] {
  const out: number[] = [];
  const dh = q[0][0].length / heads;
  for (let b = 0; b < q.length; b++)
    for (let i = 0; i < q[b].length; i++)
      for (let hd = 0; hd < heads; hd++) {
        const sc = k[b].map((kr, j) => {
          let d = 0;
          for (let t = 0; t < dh; t++) d += q[b][i][hd * dh + t] * kr[hd * dh + t];
          return mask[b][j] ? d / Math.sqrt(dh) : -Infinity;
        });
        const mx = Math.max(...sc);
        const e = sc.map((s) => Math.exp(s - mx));
        const z = e.reduce((a, c) => a + c, 0);
        for (let t = 0; t < dh; t++) out.push(e.reduce((a, p, j) => a + (p / z) * v[b][j][hd * dh + t], 0));
      }
  // out is ordered [b][i][head][t] = [b][i][h]
  return out;
}

test("attention: masked multi-head attention equals the naive loops; padded keys get no weight", () => {
  const [B, S, H, NH] = [2, 4, 6, 2];
  const q = tf.randomNormal([B, S, H], 0, 1, "float32", 11) as tf.Tensor3D;
  const k = tf.randomNormal([B, S, H], 0, 1, "float32", 12) as tf.Tensor3D;
  const v = tf.randomNormal([B, S, H], 0, 1, "float32", 13) as tf.Tensor3D;
  const am = tf.tensor2d([[1, 1, 1, 1], [1, 1, 0, 0]], undefined, "int32");
  const mask = noLeak(() => additiveMask(am));
  assert.deepEqual(mask.shape, [B, 1, 1, S]);
  assertClose(vals(mask), [0, 0, 0, 0, 0, 0, MASK_MIN, MASK_MIN], 1e-6, "mask");
  const ctx = noLeak(() => attention(q, k, v, mask, NH));
  const expected = naiveAttention(q.arraySync(), k.arraySync(), v.arraySync(), am.arraySync(), NH);
  assertClose(vals(ctx), expected, 1e-5, "context");
  const f = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) =>
    attention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, mask, NH);
  const before = tf.memory().numTensors;
  const ge = gradsIn("explicit", [q, k, v], f), gb = gradsIn("builtin", [q, k, v], f);
  ge.forEach((g, i) => assertClose(g, gb[i], 1e-4, `grad ${i}`));
  // padded key positions (batch 1, positions 2-3) get zero gradient
  const gk = ge[1];
  for (const pos of [2, 3]) for (let t = 0; t < H; t++) assert.equal(gk[(1 * S + pos) * H + t], 0);
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
  tf.dispose([q, k, v, am, mask, ctx]);
});

test("crossEntropyLoss: value and gradient (softmax − one-hot)/n", () => {
  const logits = tf.tensor2d([[2, 0, 0], [0, 1, 3]]);
  const loss = noLeak(() => crossEntropyLoss(logits, [0, 2]));
  const lse = (r: number[]) => Math.log(r.reduce((a, x) => a + Math.exp(x), 0));
  const expected = ((lse([2, 0, 0]) - 2) + (lse([0, 1, 3]) - 3)) / 2;
  assertClose(vals(loss), [expected], 1e-6, "loss");
  const labels = tf.tensor1d([0, 2], "int32");
  const g = noLeak(() =>
    tf.tidy(() => vals(tf.grad((l: tf.Tensor) => crossEntropyLoss(l as tf.Tensor2D, labels))(logits)))
  );
  const sm = (r: number[]) => {
    const z = Math.exp(lse(r));
    return r.map((x) => Math.exp(x) / z);
  };
  const exp = [
    ...sm([2, 0, 0]).map((p, j) => (p - (j === 0 ? 1 : 0)) / 2),
    ...sm([0, 1, 3]).map((p, j) => (p - (j === 2 ? 1 : 0)) / 2),
  ];
  assertClose(g, exp, 1e-5, "grad");
  assert.throws(() => crossEntropyLoss(logits, [0]), /2 rows of logits but 1 labels/);
  assert.throws(() => crossEntropyLoss(logits, [0, 3]), /label 3 is not a class id/);
  tf.dispose([logits, loss, labels]);
});
