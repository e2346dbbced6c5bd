// AdamW, schedule and clipping against PyTorch (fixtures: scripts/make_train_fixtures.py).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/runtime/backend";
import {
  AdamW,
  LinearScheduleWithWarmup,
  clipGradNorm,
  linearWarmupFactor,
  defaultNoDecay,
  warmupStepsFor,
} from "../lib/nn/optim";

const fx = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures/train/optim.json"), "utf8"));

function close(actual: number[], expected: number[], rel: number, what: string) {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((a, i) => {
    const e = expected[i];
    assert.ok(Math.abs(a - e) <= rel * Math.max(1, Math.abs(e)), `${what}[${i}]: ${a} vs ${e}`);
  });
}

test("linear schedule with warm-up matches transformers", () => {
  const lrs = Array.from({ length: 12 }, (_, s) => linearWarmupFactor(s, 3, 10));
  close(lrs, fx.schedule_warmup3_total10_lr1, 1e-12, "lr");
  const sched = new LinearScheduleWithWarmup(0.01, 2, 6);
  const seen: number[] = [];
  for (let s = 0; s < 6; s++) {
    seen.push(sched.lr());
    sched.step();
  }
  close(seen, fx.steps_record.map((r: any) => r.lr), 1e-12, "scheduler lr");
  assert.equal(warmupStepsFor(100, 0, 0.1), 10);
  assert.equal(warmupStepsFor(100, 7, 0.1), 7);
});

test("no_decay groups: biases and LayerNorm weights", () => {
  assert.deepEqual(Object.keys(fx.decay).map(defaultNoDecay), Object.values(fx.decay).map((d) => !d));
});

test("AdamW + clip_grad_norm_ match PyTorch for 6 steps within 1e-6", async () => {
  await initBackend();
  const before = tf.memory().numTensors;
  const params = new Map<string, tf.Variable>();
  for (const [k, v] of Object.entries(fx.initial as Record<string, number[]>))
    params.set(k, tf.tidy(() => tf.variable(tf.tensor(v, fx.shapes[k]), true, `t.${k}`)));
  const opt = new AdamW(params, { lr: fx.base_lr, weightDecay: fx.weight_decay, eps: 1e-8 });
  const sched = new LinearScheduleWithWarmup(fx.base_lr, fx.warmup, fx.steps);
  for (let s = 0; s < fx.steps; s++) {
    const grads: Record<string, tf.Tensor> = {};
    for (const [k, g] of Object.entries(fx.grads[s] as Record<string, number[]>)) grads[k] = tf.tensor(g, fx.shapes[k]);
    const { grads: clipped, norm } = clipGradNorm(grads, fx.max_norm);
    close([norm], [fx.steps_record[s].grad_norm], 1e-6, `norm step ${s}`);
    opt.step(clipped, sched.lr());
    sched.step();
    tf.dispose(Object.values(grads));
    tf.dispose(Object.values(clipped));
    for (const [k, p] of params)
      close(Array.from(p.dataSync()), fx.steps_record[s].params[k], 1e-6, `${k} after step ${s + 1}`);
  }
  // Save / restore the state into a fresh optimizer: the next step must be identical.
  const state = opt.getState();
  assert.equal(state.step, fx.steps);
  const copy = new Map([...params].map(([k, p]) => [k, tf.tidy(() => tf.variable(p.clone(), true, `c.${k}`))]));
  const opt2 = new AdamW(copy, { lr: fx.base_lr, weightDecay: fx.weight_decay });
  opt2.setState(state);
  const g = Object.fromEntries([...params].map(([k, p]) => [k, tf.onesLike(p)]));
  opt.step(g, 1e-3);
  opt2.step(g, 1e-3);
  for (const [k, p] of params) assert.deepEqual(Array.from(p.dataSync()), Array.from(copy.get(k)!.dataSync()));
  tf.dispose(Object.values(g));
  opt.dispose();
  opt2.dispose();
  for (const v of [...params.values(), ...copy.values()]) v.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test("clipGradNorm is pure and leaks nothing; unknown gradient names are rejected", async () => {
  await initBackend();
  const before = tf.memory().numTensors;
  const g = { a: tf.tensor([3, 4]), b: tf.tensor([0]) };
  const { grads, norm } = clipGradNorm(g, 1);
  assert.equal(norm, 5);
  assert.deepEqual(Array.from(g.a.dataSync()), [3, 4]); // input untouched
  close(Array.from(grads.a.dataSync()), [0.6, 0.8], 1e-6, "clipped");
  const { grads: same } = clipGradNorm(g, 10);
  assert.deepEqual(Array.from(same.a.dataSync()), [3, 4]);
  tf.dispose([...Object.values(g), ...Object.values(grads), ...Object.values(same)]);
  const p = new Map([["w", tf.tidy(() => tf.variable(tf.zeros([2]), true, "w.unknown"))]]);
  const opt = new AdamW(p, { lr: 1 });
  const bad = { nope: tf.zeros([2]) };
  assert.throws(() => opt.step(bad), /unknown parameter "nope"/);
  bad.nope.dispose();
  p.get("w")!.dispose();
  opt.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test("lrScale: a parameter scaled by k moves exactly as with lr·k (param groups with their own lr)", async () => {
  await initBackend();
  const before = tf.memory().numTensors;
  const make = () => {
    const w = tf.tensor1d([0.5, -1, 2]), b = tf.tensor1d([0.1]);
    const params = new Map([["w", tf.variable(w)], ["b.bias", tf.variable(b)]]); // variables copy their values
    tf.dispose([w, b]);
    return params;
  };
  const scaled = make(), plain = make();
  const a = new AdamW(scaled, { lr: 1e-2, weightDecay: 0.1, lrScale: (n) => (n === "w" ? 10 : 1) });
  const b = new AdamW(plain, { lr: 1e-1, weightDecay: 0.1 });
  for (let i = 0; i < 3; i++) {
    const g = { w: tf.tensor1d([0.3, -0.2, 0.1 * (i + 1)]), "b.bias": tf.tensor1d([0.05]) };
    a.step(g);
    b.step({ w: g.w });
    tf.dispose(Object.values(g));
  }
  const w1 = scaled.get("w")!.arraySync() as number[], w2 = plain.get("w")!.arraySync() as number[];
  w1.forEach((x, i) => assert.ok(Math.abs(x - w2[i]) < 1e-6, `w[${i}]: ${x} vs ${w2[i]}`));
  assert.notDeepEqual(scaled.get("b.bias")!.arraySync(), [0.1]); // the unscaled one still moved, at lr 1e-2
  a.dispose();
  b.dispose();
  tf.dispose([...scaled.values(), ...plain.values()]);
  assert.equal(tf.memory().numTensors, before);
});
