/**
 * The arithmetic of the bench's ONNX rows (scripts/bench_onnx.ts): inference-only rows in the table,
 * file-size ratio, agreement of int8 with fp32, end-to-end predict against PyTorch's loop, and the rounds the
 * floors are judged on.
 */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { summarise, table, roundRatios, acrossRounds, atBestWait, waitTally } from "../scripts/bench";
import type { Workload, EngineResult } from "../scripts/bench_types";
import { servingLines, ServeResult } from "../scripts/bench_onnx";

const workload: Workload = {
  seed: 17,
  modelDir: "m",
  labels: ["a", "b"],
  train: {
    batchSize: 2,
    optimizer: { lr: 1e-4, eps: 1e-8, betas: [0.9, 0.999], weightDecay: 0, clipNorm: 1 },
    epochBatches: 1,
    warmup: [],
    timed: [{ input_ids: [[1, 2]], labels: [0] }],
  },
  infer: { warmup: [], batch64: [[[1, 2]], [[1], [2], [3]]], batch1: [[1], [2]] },
};
const torch: EngineResult = {
  name: "pytorch",
  engine: "torch",
  threads: 2,
  train: { stepSeconds: [1], losses: [1] },
  infer: { batch64Seconds: [0.2, 0.4], batch1Seconds: [0.01, 0.03] },
  peakRssMB: 1000,
};
const serve = (s: Partial<ServeResult>): ServeResult => ({ modelBytes: 100, e2eSeconds: 1, predictions: [], ...s });
const row = (name: string, s: ServeResult): EngineResult & { serve: ServeResult } => ({
  name,
  engine: name,
  threads: 2,
  train: { stepSeconds: [], losses: [] },
  infer: { batch64Seconds: [0.1, 0.1], batch1Seconds: [0.005, 0.005] },
  peakRssMB: 500,
  serve: s,
});

test("an inference-only row: ratios for inference, dashes for training", () => {
  const s = summarise(workload, row("onnxruntime", serve({})), torch);
  assert.ok(Math.abs(s.vsPytorch!.batch64 - 3) < 1e-12); // (0.2 + 0.4) / (0.1 + 0.1)
  assert.ok(Math.abs(s.vsPytorch!.batch1 - 4) < 1e-12); // median 0.02 / 0.005
  const line = table([s]).split("\n")[2];
  assert.match(line, /^onnxruntime\s+2\s+—\s+—\s+20\.0 \(3\.00×\)/);
});

test("serving lines: size ratio, F1 and agreement, end to end against PyTorch's loop", () => {
  const fp = row(
    "onnxruntime",
    serve({ modelBytes: 90e6, e2eSeconds: 0.2, predictions: [0, 1, 1, 0], f1Weighted: 0.87, f1Macro: 0.52 }),
  );
  const q = row(
    "onnxruntime-int8",
    serve({ modelBytes: 23e6, e2eSeconds: 0.1, predictions: [0, 1, 0, 0], f1Weighted: 0.86, f1Macro: 0.51 }),
  );
  const { lines, summary } = servingLines([torch, fp, q], torch, true);
  assert.ok(Math.abs(summary.int8SizeRatio! - 23 / 90) < 1e-12);
  assert.equal(summary.int8Agreement, 0.75);
  assert.ok(Math.abs(summary.e2eFp32VsPytorch! - 0.6 / 0.2) < 1e-12);
  assert.ok(Math.abs(summary.e2eInt8VsPytorch! - 0.6 / 0.1) < 1e-12);
  assert.match(lines[0], /fp32 90\.0 MB, int8 23\.0 MB \(25\.6%/);
  assert.match(lines[1], /F1 weighted fp32 0\.8700 \/ int8 0\.8600.*75\.0% of 4 tweets/);
  // without a fine-tuned model there is no F1 to report, only agreement
  assert.match(servingLines([fp, q], torch, false).lines[1], /75\.0% of 4 tweets \(F1: no fine-tuned model/);
  // PyTorch's repeated loop, where there is one, counts by its median pass, as predict does (not the timed batches)
  const repeated = { ...torch, infer: { ...torch.infer, loopSeconds: [0.9, 0.5, 0.7] } };
  const fpRuns = row("onnxruntime", serve({ ...fp.serve, e2eRuns: [0.2, 0.25, 0.15] }));
  const r = servingLines([repeated, fpRuns, q], repeated, true);
  assert.ok(Math.abs(r.summary.e2eFp32VsPytorch! - 0.7 / 0.2) < 1e-12);
  assert.match(r.lines[2], /PyTorch's batch-64 loop in file order 0\.700 s \(medians of 3 and 3 runs\) → 3\.50×/);
});

test("rounds: each round's ratios against its own PyTorch; a floor is judged on the median over the rounds", () => {
  const fp = row("onnxruntime", serve({ e2eSeconds: 0.2, predictions: [0] }));
  const q = row("onnxruntime-int8", serve({ e2eSeconds: 0.1, predictions: [0] }));
  const one = roundRatios(workload, [torch, fp, q], torch, true);
  assert.deepEqual(Object.keys(one).sort(), [
    "e2eFp32VsPytorch",
    "e2eInt8VsPytorch",
    "fp32Batch1",
    "int8Batch1",
    "int8Batch64",
  ]);
  assert.ok(Math.abs(one.int8Batch64 - 3) < 1e-12 && Math.abs(one.fp32Batch1 - 4) < 1e-12);
  assert.ok(Math.abs(one.e2eFp32VsPytorch - 0.6 / 0.2) < 1e-12);
  // a slower PyTorch process in the next round: every ratio of that round grows with it
  const slowTorch = { ...torch, infer: { batch64Seconds: [0.4, 0.8], batch1Seconds: [0.02, 0.06] } };
  const two = roundRatios(workload, [fp, q], slowTorch, true);
  assert.ok(Math.abs(two.int8Batch64 - 6) < 1e-12);
  // no int8 row: no int8 ratios, rather than NaN
  assert.deepEqual(Object.keys(roundRatios(workload, [fp], torch, true)).sort(), ["e2eFp32VsPytorch", "fp32Batch1"]);
  const across = acrossRounds([one, two, { ...one, int8Batch64: 2 }]);
  assert.deepEqual(across.int8Batch64.rounds.map((x) => +x.toFixed(9)), [3, 6, 2]);
  assert.equal(across.int8Batch64.median, one.int8Batch64);
});

test("thread-wait policies: each engine at its faster one, measure by measure, and which it was", () => {
  const spinning = { batch64Seconds: [0.12, 0.1], batch1Seconds: [0.002, 0.003, 0.004] };
  const ort = {
    ...row("onnxruntime", serve({ e2eSeconds: 0.2 })),
    wait: "threads sleep",
    otherWait: { wait: "threads spin", infer: spinning },
  };
  const best = atBestWait([ort]);
  assert.deepEqual(best.waits, { batch64: "threads sleep", batch1: "threads spin" }); // 0.2 < 0.22; 0.003 < 0.005
  assert.deepEqual(best.infer, { batch64Seconds: [0.1, 0.1], batch1Seconds: [0.002, 0.003, 0.004] });
  assert.equal(best.serve?.e2eSeconds, 0.2); // predict end to end stays as run (the library's policy)
  assert.equal(best.otherWait, undefined);
  // PyTorch: two processes, OpenMP's default and PASSIVE; the loop by its median pass
  const dflt = { ...torch, wait: "OMP_WAIT_POLICY=default", infer: { ...torch.infer, loopSeconds: [0.5, 0.9, 0.8] } };
  const passive = {
    ...torch,
    wait: "OMP_WAIT_POLICY=PASSIVE",
    infer: { batch64Seconds: [0.3, 0.4], batch1Seconds: [0.02, 0.02], loopSeconds: [0.7, 0.7, 0.6] },
  };
  const t = atBestWait([dflt, passive]);
  assert.deepEqual(t.waits, {
    batch64: "OMP_WAIT_POLICY=default",
    batch1: "OMP_WAIT_POLICY=default",
    loop: "OMP_WAIT_POLICY=PASSIVE",
  });
  assert.deepEqual(t.infer.loopSeconds, [0.7, 0.7, 0.6]); // median 0.7 < 0.8
  // the floors compare them so: fp32 batch 1 is 0.02 / 0.003
  const ratios = roundRatios(workload, [best], t, true);
  assert.ok(Math.abs(ratios.fp32Batch1 - 0.02 / 0.003) < 1e-12);
  assert.deepEqual(
    waitTally([
      { pytorch: t.waits },
      { pytorch: { ...t.waits, batch1: "OMP_WAIT_POLICY=PASSIVE" } },
      { pytorch: t.waits },
    ]),
    [
      "pytorch batch64: OMP_WAIT_POLICY=default 3",
      "pytorch batch1: OMP_WAIT_POLICY=default 2, OMP_WAIT_POLICY=PASSIVE 1",
      "pytorch loop: OMP_WAIT_POLICY=PASSIVE 3",
    ],
  );
});
