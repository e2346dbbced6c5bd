/**
 * Tests for the arithmetic of scripts/bench.ts (the timings themselves are machine-dependent and
 * live in out/bench): tokens per second, the per-epoch estimate from fewer steps, and ratios to
 * PyTorch taken over exactly the same batches.
 */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { summarise, table } from "../scripts/bench";
import type { Workload, EngineResult } from "../scripts/bench_types";

// Two training batches: 2 rows of 3 and 5 tokens (padded 10, real 8), then 2 rows of 2 tokens (4 / 4).
const workload: Workload = {
  seed: 17,
  modelDir: "m",
  labels: ["a", "b"],
  train: {
    batchSize: 2,
    optimizer: { lr: 1e-4, eps: 1e-8, betas: [0.9, 0.999], weightDecay: 0, clipNorm: 1 },
    epochBatches: 2,
    warmup: [],
    timed: [
      { input_ids: [[1, 2, 3], [1, 2, 3, 4, 5]], labels: [0, 1] },
      { input_ids: [[1, 2], [3, 4]], labels: [1, 0] },
    ],
  },
  infer: { warmup: [], batch64: [[[1, 2]], [[1], [2], [3]]], batch1: [[1], [2], [3]] },
};

const torch: EngineResult = {
  name: "pytorch",
  engine: "torch",
  threads: 2,
  train: { stepSeconds: [1, 0.5], losses: [1.8, 1.6] },
  infer: { batch64Seconds: [0.1, 0.2], batch1Seconds: [0.01, 0.03, 0.02] },
  peakRssMB: 1000,
};

test("rates and ratios over the same batches", () => {
  const before = JSON.stringify([workload, torch]);
  const tfjs: EngineResult = {
    ...torch,
    name: "tensorflow",
    train: { stepSeconds: [2], losses: [1.7] },
    infer: { batch64Seconds: [0.05], batch1Seconds: [0.01, 0.01] },
  };
  const s = summarise(workload, tfjs, torch);
  assert.equal(s.trainSteps, 1);
  assert.equal(s.realTokensPerSec, 8 / 2);
  assert.equal(s.paddedTokensPerSec, 10 / 2);
  // One of two batches ran: the epoch (14 padded tokens) is scaled from 10 padded tokens in 2 s.
  assert.equal(s.secondsPerEpoch, (2 * 14) / 10);
  // Against PyTorch's first batch only (1 s), its first inference batch, its first two latencies.
  assert.deepEqual(s.vsPytorch, { train: 1 / 2, batch64: 0.1 / 0.05, batch1: 0.02 / 0.01 });
  assert.equal(s.batch64TweetsPerSec, 1 / 0.05);
  assert.equal(s.batch1MedianMs, 10);
  assert.equal(JSON.stringify([workload, torch]), before, "summarise must not change its inputs");
});

test("a full run is measured, not scaled; the reference has no ratio", () => {
  const s = summarise(workload, torch);
  assert.equal(s.secondsPerEpoch, 1.5);
  assert.equal(s.paddedTokensPerSec, 14 / 1.5);
  assert.ok(Math.abs(s.batch64TweetsPerSec - 4 / 0.3) < 1e-9);
  assert.equal(s.batch1MedianMs, 20);
  assert.equal(s.vsPytorch, undefined);
});

test("the table flags a busy machine and partial runs", () => {
  const busy = summarise(
    workload,
    { ...torch, name: "wasm", loadBefore: 99, train: { stepSeconds: [4], losses: [2] } },
    torch,
  );
  const out = table([summarise(workload, torch), busy]);
  assert.match(out, /wasm \(busy machine!\)/);
  assert.match(out, /\(0\.25×\) \[1 steps\]/);
  assert.equal(out.split("\n").length, 4);
});

test("busy means other processes' CPU use while the engine ran, when measured; else the load before", () => {
  const s = (r: Partial<EngineResult>) => summarise(workload, { ...torch, ...r }).busy;
  assert.equal(
    s({ loadBefore: 99, otherCores: 0.1 }),
    false,
    "a high load from the previous engine is not others' work",
  );
  assert.equal(s({ loadBefore: 0, otherCores: 0.6 }), true);
  assert.equal(s({ loadBefore: 99 }), true, "no /proc: the load average decides");
  assert.equal(s({ loadBefore: 0.2 }), false);
});

test("the grouped row: its own batches, real tokens/s against PyTorch's whole epoch, no inference columns", () => {
  // The same 4 tweets in grouped order (12 real tokens, as in the random epoch), the longest first.
  const w: Workload = {
    ...workload,
    train: {
      ...workload.train,
      grouped: [
        { input_ids: [[1, 2, 3, 4, 5], [1, 2, 3]], labels: [1, 0] },
        { input_ids: [[1, 2], [3, 4]], labels: [1, 0] },
      ],
    },
  };
  const g: EngineResult = {
    ...torch,
    name: "tensorflow-grouped",
    batches: "grouped",
    train: { stepSeconds: [0.5, 0.25], losses: [1, 1] },
    infer: { batch64Seconds: [], batch1Seconds: [] },
  };
  const s = summarise(w, g, torch);
  assert.equal(s.realTokensPerSec, 12 / 0.75);
  assert.equal(s.secondsPerEpoch, 0.75);
  // PyTorch: 12 real tokens in 1.5 s → 8/s; grouped 16/s → 2×.
  assert.equal(s.vsPytorch?.train, 2);
  const row = table([s]).split("\n")[2].trim();
  assert.match(row, /^tensorflow-grouped +2 +16 \/ 19 \(2\.00×\) real +0\.8 +— +— +— +1000$/);
  assert.throws(() => summarise(workload, g, torch), /no grouped batches/);
});
