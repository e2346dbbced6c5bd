/**
 * bertlab's speed, measured against PyTorch: `npm run bench` (about 10 minutes on 2 cores, 3 rounds).
 *
 * One workload for everyone: all-MiniLM-L6-v2 with a 6-label head, the SMILE course split, the
 * training order of lib/data/loader.ts's RandomSampler (seed 17) cut into batches of 32, validation
 * tweets for inference; each batch padded to its longest row. This file writes it once as token
 * ids (out/bench/workload.json); then each tfjs backend (in its own child process, as a process
 * keeps one backend) and PyTorch + transformers (scripts/bench_torch.py) run the same batches:
 *   - training: the full step of lib/train/train.ts (forward + backward + clipping + AdamW), dropout on
 *   - inference: eval mode, no gradients, batch 64 and batch 1, logits read back (on native: one
 *     TensorFlow graph per batch, lib/graph/bert_graph.ts; "tensorflow-ops" runs it op by op instead)
 *   - "tensorflow-grouped" trains on the same epoch in `--group-by-length` order (lib/data/loader.ts's
 *     LengthGroupedSampler): its real tokens/s against PyTorch's, padded to the longest of each
 *     random batch, is the group-by-length floor
 * The machine is named in the output: CPU model, cores, vector extensions, and the TensorFlow,
 * oneDNN and PyTorch builds (lib/runtime/machine.ts; scripts/bench_torch.py reports PyTorch's).
 * Ratios compare the same batches (a slow backend runs only the first few: see LIMITS).
 * Results: a table on stdout and out/bench/bench-<time>.json.
 *
 *   npm run bench                          # pytorch, tensorflow (native), tensorflow-ops, wasm, onnxruntime(-int8)
 *   npm run bench -- --backends tensorflow # just one tfjs backend (PyTorch always runs)
 *   npm run bench -- --backends onnxruntime,onnxruntime-int8 --checkpoint runs/course  # scripts/bench_onnx.ts
 *   npm run bench -- --no-train            # inference only (PyTorch and tfjs skip their timed training)
 *   npm run bench -- --rounds 5            # PyTorch's and the ONNX rows' inference in 5 rounds (default 3)
 *   npm run bench -- --only precision      # the bf16 rows and their fp32 references only, on the first batches
 *   npm run bench -- --losses              # only the training options' rows (scripts/bench_losses.ts)
 *
 * bf16 (TrainConfig.precision, lib/graph/precision.ts): "tensorflow-bf16" runs the graph with its matrix products in
 * bfloat16, training and batch 64, beside "tensorflow" (fp32) on the same batches; "pytorch-bf16" is PyTorch under
 * torch.autocast("cpu", dtype=torch.bfloat16), the same step otherwise. The precision floors: graph bf16 training
 * ≥ 1.4× graph fp32 and ≥ 1.0× PyTorch bf16 (padded tokens/s), bf16 batch 64 ≥ 1.4× fp32. bfloat16 is fast only on
 * CPUs that multiply it in hardware (avx512_bf16, amx_bf16): the output names the ones this CPU has.
 *
 * A process on this kind of VM runs fast or slow as a whole (the same ONNX Runtime predict takes a quarter longer
 * in some fresh processes than in others; docs/serving.md), so one PyTorch process against one ONNX Runtime process can
 * decide a floor by luck. The ONNX floors therefore come from rounds: each round starts PyTorch (inference
 * only) and then each ONNX row in fresh processes, one after the other, takes each ratio against that
 * round's PyTorch, and a floor is judged on the median over the rounds (the first round is the table's run).
 * Each engine runs with its threads waiting both ways: PyTorch with OpenMP's default and OMP_WAIT_POLICY=PASSIVE
 * (two processes), ONNX Runtime sleeping (bertlab's default) and spinning (ONNX Runtime's, BERTLAB_ORT_SPIN=1; one
 * process, one session after the other); each ratio takes each engine at its faster policy for that measure
 * (atBestWait) and the output tallies which policy won. `predict` end to end runs bertlab's default only.
 *
 * Timings mean something only on a quiet machine: the CPU time other processes used while each
 * engine ran is recorded (from /proc), and a busy machine is flagged in the table. On a shared
 * machine, `nice -n -15 npm run bench` (root) gives the benchmark the CPUs first; the niceness is
 * recorded too.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/runtime/backend";
import { loadBertForSequenceClassification, graphInference } from "../lib/model/bert";
import { makeBatch } from "../lib/data/loader";
import { RandomSampler, LengthGroupedSampler } from "../lib/data/loader";
import { cpuInfo, tensorflowBuild, describeMachine } from "../lib/runtime/machine";
import { AdamW } from "../lib/nn/optim";
import { trainStep } from "../lib/train/train_graph";
import { DEFAULT_CONFIG } from "../lib/config/config";
import { loadCourseData } from "../lib/data/smile";
import { loadTokenizer } from "../lib/data/tokenize";
import { OUT_DIR, ROOT, VENV_PYTHON } from "../lib/core/paths";
import { DEFAULT_MODEL_DIR } from "../lib/model/models";
import { writeJsonAtomic } from "../lib/core/fsutil";
import { median } from "../lib/core/stats";
import { ONNX_ROWS, prepareOnnx, runOnnx, servingLines, timePredict, ServeResult } from "./bench_onnx";
import { BF16_FEATURES, bf16Support, Bf16Support } from "../lib/graph/precision";
import type { GraphPrecision } from "../lib/graph/lowering";
import { loadClassifier, chooseEngine } from "../lib/serve/engine";
import { benchLosses } from "./bench_losses";
import type { Workload, EngineResult, Rows } from "./bench_types";

/**
 * The engines besides PyTorch: a tfjs backend, or "tensorflow-ops", native TensorFlow with graph
 * inference off (BERTLAB_GRAPH=0), to show what lib/graph/bert_graph.ts gains over running op by op.
 */
interface Variant {
  backend: string;
  env: Record<string, string>;
  batches?: "grouped";
  precision?: GraphPrecision;
}
const VARIANTS: Record<string, Variant> = {
  "tensorflow-ops": { backend: "tensorflow", env: { BERTLAB_GRAPH: "0" } },
  "tensorflow-grouped": { backend: "tensorflow", env: {}, batches: "grouped" },
  "tensorflow-bf16": { backend: "tensorflow", env: {}, precision: "bf16" },
};
const variant = (name: string) => VARIANTS[name] ?? { backend: name, env: {} };

/** How much of the workload a backend runs: wasm is ~10-50× slower than native. */
let LIMITS: Record<string, { trainSteps: number; batch64: number; batch1: number }> = {
  tensorflow: { trainSteps: Infinity, batch64: Infinity, batch1: Infinity },
  // training is the same code as "tensorflow" (graphs are for inference): a few steps suffice
  "tensorflow-ops": { trainSteps: 3, batch64: Infinity, batch1: Infinity },
  // inference is the "tensorflow" row's: this one only trains, on the grouped epoch
  "tensorflow-grouped": { trainSteps: Infinity, batch64: 0, batch1: 0 },
  "tensorflow-bf16": { trainSteps: Infinity, batch64: Infinity, batch1: Infinity },
  wasm: { trainSteps: 3, batch64: 1, batch1: 16 },
  // inference only (scripts/bench_onnx.ts): ONNX Runtime does not train
  onnxruntime: { trainSteps: 0, batch64: Infinity, batch1: Infinity },
  "onnxruntime-int8": { trainSteps: 0, batch64: Infinity, batch1: Infinity },
  cpu: { trainSteps: 1, batch64: 1, batch1: 4 },
};

const QUICK = { trainSteps: 2, batch64: 1, batch1: 4 };
/** `--only precision`: the first batches of the epoch and of the validation set, for every row. */
const PRECISION = { trainSteps: 12, batch64: 4, batch1: 8 };
const MODEL_DIR = DEFAULT_MODEL_DIR;
const BENCH_DIR = path.join(OUT_DIR, "bench");

async function makeWorkload(): Promise<Workload> {
  const data = loadCourseData();
  const tok = await loadTokenizer(MODEL_DIR);
  const cfg = DEFAULT_CONFIG;
  const enc = (rows: { text: string }[]) =>
    tok.encode(rows.map((r) => r.text), { padding: false, truncation: true, maxLength: cfg.maxLength }).input_ids;
  const trainIds = enc(data.train);
  const cut = (order: number[]): Rows[] => {
    const rows: Rows[] = [];
    for (let s = 0; s < order.length; s += cfg.batchSize) {
      const idx = order.slice(s, s + cfg.batchSize);
      rows.push({ input_ids: idx.map((i) => trainIds[i]), labels: idx.map((i) => data.train[i].label) });
    }
    return rows;
  };
  const timed = cut(new RandomSampler(trainIds.length, cfg.seed).epochIndices());
  const grouped = cut(new LengthGroupedSampler(trainIds.map((r) => r.length), cfg.batchSize, cfg.seed).epochIndices());
  const valIds = enc(data.validation);
  const batch64: number[][][] = [];
  for (let s = 0; s < valIds.length; s += 64) batch64.push(valIds.slice(s, s + 64));
  return {
    seed: cfg.seed,
    modelDir: MODEL_DIR,
    labels: data.labels,
    train: {
      batchSize: cfg.batchSize,
      optimizer: { lr: cfg.lr, eps: cfg.eps, betas: cfg.betas, weightDecay: cfg.weightDecay, clipNorm: cfg.clipNorm },
      epochBatches: timed.length,
      warmup: timed.slice(-2), // the epoch's last batches: short enough to be cheap, real all the same
      timed,
      grouped,
    },
    infer: {
      warmup: [valIds.slice(0, 64), valIds.slice(0, 1), valIds.slice(1, 2)],
      batch64,
      batch1: valIds.slice(0, 64),
    },
    serve: { texts: data.validation.map((r) => r.text), labels: data.validation.map((r) => r.label) },
  };
}

/** One tfjs backend, in this (child) process. */
async function runTfjs(w: Workload, name: string, serveDir?: string): Promise<EngineResult> {
  const info = await initBackend(variant(name).backend);
  const batches = variant(name).batches;
  const precision = variant(name).precision ?? "fp32";
  const lim = LIMITS[name] ?? LIMITS.cpu;
  const model = await loadBertForSequenceClassification(w.modelDir, { labels: w.labels, seed: w.seed });
  const o = w.train.optimizer;
  const opt = new AdamW(model.params, { lr: o.lr, eps: o.eps, betas: o.betas, weightDecay: o.weightDecay });
  const batchOf = (rows: number[][], labels?: number[]) =>
    makeBatch({ input_ids: rows }, labels, rows.map((_, i) => i), {
      batchSize: rows.length,
      padding: "longest",
      padTokenId: 0,
    });

  // The step of lib/train/train.ts (lib/train/train_graph.ts's trainStep: one graph call on native), without logging.
  let seed = 0;
  const step = (r: Rows): number => {
    const b = batchOf(r.input_ids, r.labels);
    const micro = [{ inputs: b, targets: r.labels, seed: seed++ }];
    const { loss } = trainStep(model, opt, micro, { lr: o.lr, clipNorm: o.clipNorm, precision });
    b.dispose();
    return loss;
  };
  const predict = (rows: number[][]): void => {
    const b = batchOf(rows);
    const logits = tf.tidy(() => model.forward(b, { training: false, precision }));
    logits.dataSync();
    logits.dispose();
    b.dispose();
  };

  if (lim.trainSteps > 0) { for (const r of w.train.warmup) step(r); }
  const tensorsBefore = tf.memory().numTensors;
  const stepSeconds: number[] = [], losses: number[] = [];
  for (const r of trainRows(w, batches).slice(0, lim.trainSteps)) {
    const t0 = process.hrtime.bigint();
    losses.push(step(r));
    stepSeconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  if (lim.batch64 + lim.batch1 > 0) { for (const rows of w.infer.warmup) predict(rows); }
  const batch64Seconds: number[] = [];
  for (const rows of w.infer.batch64.slice(0, lim.batch64)) {
    const t0 = process.hrtime.bigint();
    predict(rows);
    batch64Seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  const batch1Seconds: number[] = [];
  for (const row of w.infer.batch1.slice(0, lim.batch1)) {
    const t0 = process.hrtime.bigint();
    predict([row]);
    batch1Seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  const tensorLeak = tf.memory().numTensors - tensorsBefore;
  opt.dispose();
  model.dispose();
  // predict end to end on `serveDir` as `bertlab predict --checkpoint` runs it here (lib/serve/engine.ts: length-sorted batches).
  let serve: ServeResult | undefined;
  if (serveDir && w.serve) {
    const clf = await loadClassifier(serveDir, chooseEngine("tfjs"), () => {});
    const opts = { maxLength: DEFAULT_CONFIG.maxLength, batchSize: 64 };
    serve = await timePredict(
      (texts) => clf.predict(texts, opts),
      w,
      fs.statSync(path.join(serveDir, "model.safetensors")).size,
    );
    await clf.release();
  }
  const tfjsVersion = tf.version_core;
  const how = info.name !== "tensorflow" ? "" : graphInference() ? ", graph inference" : ", op-by-op inference";
  return {
    name,
    engine: `tfjs ${tfjsVersion} ${info.package ?? name}${how}${precision === "bf16" ? ", bf16 products" : ""}`,
    threads: info.threads ?? 1,
    reason: info.reason,
    ...(precision === "bf16" ? { bf16: bf16Support() } : {}),
    train: { stepSeconds, losses },
    infer: { batch64Seconds, batch1Seconds },
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    tensorLeak,
    batches,
    ...(serve ? { serve } : {}),
  };
}

/** The training batches an engine ran: the random epoch, or the same tweets grouped by length. */
function trainRows(w: Workload, batches?: "grouped"): Rows[] {
  if (batches !== "grouped") return w.train.timed;
  if (!w.train.grouped) throw new Error("the workload has no grouped batches: rerun the whole bench to remake it");
  return w.train.grouped;
}

/**
 * One round's ratios against that round's PyTorch: the ONNX floors (batch 64 and batch 1) and predict end
 * to end (servingLines), with each engine as given (the bench gives each at its faster thread-wait policy:
 * atBestWait). Keys: int8Batch64, int8Batch1, fp32Batch1, e2eFp32VsPytorch, e2eInt8VsPytorch.
 */
export function roundRatios(
  w: Workload,
  results: (EngineResult & { serve?: ServeResult })[],
  torch: EngineResult,
  fineTuned: boolean,
): Record<string, number> {
  const vs = (n: string) => {
    const r = results.find((x) => x.name === n);
    return r ? summarise(w, r, torch).vsPytorch : undefined;
  };
  const fp = vs("onnxruntime"), q = vs("onnxruntime-int8");
  const e2e = servingLines(results, torch, fineTuned).summary;
  const all: Record<string, number | undefined> = {
    int8Batch64: q?.batch64,
    int8Batch1: q?.batch1,
    fp32Batch1: fp?.batch1,
    e2eFp32VsPytorch: e2e.e2eFp32VsPytorch,
    e2eInt8VsPytorch: e2e.e2eInt8VsPytorch,
  };
  return Object.fromEntries(Object.entries(all).filter((e): e is [string, number] => Number.isFinite(e[1])));
}

/** Which thread-wait policy gave an engine's time, per measure (atBestWait). */
export interface Waits {
  batch64: string;
  batch1: string;
  loop?: string;
}

/**
 * An engine at its faster thread-wait policy, measure by measure: batch 64 by the least total, batch 1 and the
 * file-order loop by the least median. Spinning threads answer a batch-1 call sooner on an idle machine and
 * lose on a busy one; which wins differs by engine, measure and machine, so each engine (PyTorch with and
 * without OMP_WAIT_POLICY=PASSIVE, ONNX Runtime with and without spinning) is compared at its better one, and
 * `waits` says which. `runs`: one engine's results, or one result with `otherWait`. Pure.
 */
export function atBestWait<R extends EngineResult>(runs: readonly R[]): R & { waits: Waits } {
  const all: EngineResult[] = runs.flatMap((
    r,
  ) => [r, ...(r.otherWait ? [{ ...r, wait: r.otherWait.wait, infer: r.otherWait.infer }] : [])]);
  const best = (score: (r: EngineResult) => number, among = all) =>
    among.reduce((a, b) => (score(b) < score(a) ? b : a));
  const b64 = best((r) => sum(r.infer.batch64Seconds)), b1 = best((r) => median(r.infer.batch1Seconds));
  const loops = all.filter((r) => r.infer.loopSeconds?.length);
  const loop = loops.length ? best((r) => median(r.infer.loopSeconds!), loops) : undefined;
  const label = (r: EngineResult) => r.wait ?? r.name;
  return {
    ...runs[0],
    otherWait: undefined,
    infer: {
      batch64Seconds: b64.infer.batch64Seconds,
      batch1Seconds: b1.infer.batch1Seconds,
      ...(loop && { loopSeconds: loop.infer.loopSeconds }),
    },
    waits: { batch64: label(b64), batch1: label(b1), ...(loop && { loop: label(loop) }) },
  };
}

/** "pytorch batch1: OMP_WAIT_POLICY=PASSIVE 3, OMP_WAIT_POLICY=default 2", engine by engine and measure by measure. */
export function waitTally(rounds: readonly Record<string, Waits>[]): string[] {
  const lines: string[] = [];
  for (const engine of [...new Set(rounds.flatMap((r) => Object.keys(r)))]) {
    for (const measure of ["batch64", "batch1", "loop"] as const) {
      const count = new Map<string, number>();
      for (const r of rounds) {
        const w = r[engine]?.[measure];
        if (w) count.set(w, (count.get(w) ?? 0) + 1);
      }
      if (count.size)
        lines.push(
          `${engine} ${measure}: ${[...count].sort((a, b) => b[1] - a[1]).map(([w, n]) => `${w} ${n}`).join(", ")}`,
        );
    }
  }
  return lines;
}

/** Each ratio over the rounds, in round order, and its median (what a floor is judged on). */
export function acrossRounds(
  rounds: readonly Record<string, number>[],
): Record<string, { rounds: number[]; median: number }> {
  const keys = [...new Set(rounds.flatMap((r) => Object.keys(r)))];
  return Object.fromEntries(keys.map((k) => {
    const xs = rounds.map((r) => r[k]).filter((x) => x !== undefined);
    return [k, { rounds: xs, median: median(xs) }];
  }));
}

/** The ONNX serving targets, on the rounds' medians. */
export const ONNX_FLOORS: Record<string, number> = {
  int8Batch64: 1.8,
  int8Batch1: 3,
  fp32Batch1: 2,
  e2eFp32VsPytorch: 2.5,
};

// ---------------------------------------------------------------- the parent: run, compare, print

const sum = (a: number[]) => a.reduce((s, x) => s + x, 0);
const tokens = (rows: number[][]) => ({
  real: sum(rows.map((r) => r.length)),
  padded: rows.length * Math.max(...rows.map((r) => r.length)),
});

export interface Summary {
  name: string;
  engine: string;
  threads: number;
  busy: boolean;
  loadBefore?: number;
  otherCores?: number;
  trainSteps: number;
  epochSteps: number;
  realTokensPerSec: number;
  paddedTokensPerSec: number;
  secondsPerEpoch: number;
  meanLoss: number;
  batch64TweetsPerSec: number;
  batch1TweetsPerSec: number;
  batch1MedianMs: number;
  peakRssMB: number;
  /** "grouped": trained in --group-by-length order; its train ratio compares real tokens/s. */
  batches?: "grouped";
  /** Speed relative to PyTorch on exactly the same batches, grouped rows on real tokens/s (> 1: faster). */
  vsPytorch?: { train: number; batch64: number; batch1: number };
  tensorLeak?: number;
}

export function summarise(w: Workload, r: EngineResult, torch?: EngineResult): Summary {
  const n = r.train.stepSeconds.length;
  const rows = trainRows(w, r.batches);
  const tb = rows.slice(0, n).map((b) => tokens(b.input_ids));
  const secs = sum(r.train.stepSeconds);
  const real = sum(tb.map((t) => t.real)), padded = sum(tb.map((t) => t.padded));
  const epochPadded = sum(rows.map((b) => tokens(b.input_ids).padded));
  const n64 = r.infer.batch64Seconds.length, n1 = r.infer.batch1Seconds.length;
  const tweets64 = sum(w.infer.batch64.slice(0, n64).map((b) => b.length));
  const s: Summary = {
    name: r.name,
    engine: r.engine,
    threads: r.threads,
    loadBefore: r.loadBefore,
    otherCores: r.otherCores,
    // Busy: others used over a quarter of a core meanwhile. Without /proc, the load average before
    // the run decides (it also counts the engine that ran just before, so it errs towards "busy").
    busy: r.otherCores !== undefined ? r.otherCores > 0.25 : (r.loadBefore ?? 0) > 0.5 * os.cpus().length,
    trainSteps: n,
    epochSteps: rows.length,
    realTokensPerSec: real / secs,
    paddedTokensPerSec: padded / secs,
    // Measured when every batch ran; else scaled by padded tokens (step time ∝ padded tokens).
    secondsPerEpoch: n === rows.length ? secs : (secs * epochPadded) / padded,
    batches: r.batches,
    meanLoss: sum(r.train.losses) / n,
    batch64TweetsPerSec: tweets64 / sum(r.infer.batch64Seconds),
    batch1TweetsPerSec: n1 / sum(r.infer.batch1Seconds),
    batch1MedianMs: median(r.infer.batch1Seconds) * 1000,
    peakRssMB: r.peakRssMB,
    tensorLeak: r.tensorLeak,
  };
  if (torch) {
    // Grouped batches are other batches than PyTorch's: compare real tokens/s over whole epochs
    // (the same tweets, so the same real tokens) rather than time on the same batches.
    const torchReal = sum(w.train.timed.slice(0, torch.train.stepSeconds.length).map((b) => tokens(b.input_ids).real));
    s.vsPytorch = {
      train: r.batches === "grouped" ?
        (real / secs) / (torchReal / sum(torch.train.stepSeconds))
        : sum(torch.train.stepSeconds.slice(0, n)) / secs,
      batch64: sum(torch.infer.batch64Seconds.slice(0, n64)) / sum(r.infer.batch64Seconds),
      batch1: median(torch.infer.batch1Seconds.slice(0, n1)) / median(r.infer.batch1Seconds),
    };
  }
  return s;
}

export function table(rows: Summary[]): string {
  // "—" where an engine did not run that part (the ONNX rows do not train; the grouped row only trains)
  const f = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : "—");
  const ratio = (x?: number) => (x === undefined || !Number.isFinite(x) ? "" : ` (${x.toFixed(2)}×)`);
  const head = [
    "engine",
    "threads",
    "train tok/s real / padded",
    "s/epoch",
    "infer b64 tweets/s",
    "b1 tweets/s",
    "b1 median ms",
    "peak RSS MB",
  ];
  const body = rows.map((
    s,
  ) => [
    `${s.name}${s.busy ? " (busy machine!)" : ""}`,
    String(s.threads),
    s.trainSteps === 0 ?
      "—" :
      `${f(s.realTokensPerSec)} / ${f(s.paddedTokensPerSec)}${ratio(s.vsPytorch?.train)}` +
      `${s.batches === "grouped" ? " real" : ""}` +
      `${s.trainSteps < s.epochSteps ? ` [${s.trainSteps} steps]` : ""}`,
    f(s.secondsPerEpoch, 1),
    `${f(s.batch64TweetsPerSec, 1)}${ratio(s.vsPytorch?.batch64)}`,
    f(s.batch1TweetsPerSec, 1),
    `${f(s.batch1MedianMs, 1)}${ratio(s.vsPytorch?.batch1)}`,
    f(s.peakRssMB),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join("  ");
  return [line(head), widths.map((n) => "-".repeat(n)).join("  "), ...body.map(line)].join("\n");
}

/**
 * CPU time so far, in clock ticks: all CPUs' busy and total time (/proc/stat) and that of this
 * process's finished children (/proc/self/stat's cutime + cstime). Undefined off Linux.
 */
function cpuTicks(): { busy: number; total: number; children: number } | undefined {
  try {
    const cpu = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1, 9).map(Number);
    const [user, nice, system, idle, iowait, irq, softirq, steal] = cpu;
    const self = fs.readFileSync("/proc/self/stat", "utf8");
    const f = self.slice(self.lastIndexOf(")") + 2).split(" ").map(Number); // f[0] is field 3 (state)
    return {
      busy: user + nice + system + irq + softirq + steal,
      total: user + nice + system + idle + iowait + irq + softirq + steal,
      children: f[13] + f[14],
    };
  } catch {
    return undefined;
  }
}

function runChild(cmd: string, args: string[], env: NodeJS.ProcessEnv, out: string): EngineResult {
  fs.rmSync(out, { force: true });
  const loadBefore = os.loadavg()[0];
  const t0 = cpuTicks();
  const r = spawnSync(cmd, args, {
    cwd: ROOT,
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: "2", ...env },
    stdio: ["ignore", "inherit", "pipe"],
    encoding: "utf8",
    timeout: 30 * 60_000,
  });
  if (r.status !== 0 || !fs.existsSync(out)) {
    const err = (r.stderr ?? "").split("\n").filter((l) => l && !/^(WARNING|I0000|W0000)/.test(l)).slice(-5).join("\n");
    throw new Error(`${[cmd, ...args].join(" ")} failed (exit ${r.status ?? r.signal}):\n${err}`);
  }
  const t1 = cpuTicks();
  // Everything the CPUs did meanwhile, less the engine's own work, in cores.
  const otherCores = t0 && t1 && t1.total > t0.total
    ? Math.max(0, ((t1.busy - t0.busy) - (t1.children - t0.children)) / (t1.total - t0.total)) * os.cpus().length
    : undefined;
  return { ...(JSON.parse(fs.readFileSync(out, "utf8")) as EngineResult), loadBefore, otherCores };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (n: string) => {
    const i = args.indexOf(n);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const child = opt("--child");
  // --quick: a smoke test of the harness (2 steps, 1 batch, 4 tweets each); not a measurement.
  const quick = args.includes("--quick");
  // --no-train: inference rows only (the ONNX rows do not train), every engine on its full inference workload.
  const noTrain = args.includes("--no-train");
  // --rounds N: PyTorch's and the ONNX rows' inference N times in fresh processes (see the file comment).
  const rounds = Number(opt("--rounds") ?? (quick ? 1 : 3));
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new Error(`--rounds wants a positive integer, got ${opt("--rounds")}`);
  if (quick) {
    LIMITS = {
      tensorflow: QUICK,
      "tensorflow-ops": QUICK,
      wasm: QUICK,
      cpu: { ...QUICK, trainSteps: 1 },
      pytorch: QUICK,
      onnxruntime: QUICK,
      "onnxruntime-int8": QUICK,
      "tensorflow-grouped": { ...QUICK, batch64: 0, batch1: 0 },
    };
  }
  // --only precision: the bf16 rows and their fp32 references (graph and PyTorch), the first batches only.
  const only = opt("--only");
  if (only !== undefined && only !== "precision") throw new Error(`--only wants precision, got ${only}`);
  const onlyPrecision = only === "precision";
  if (onlyPrecision) LIMITS = Object.fromEntries([...Object.keys(LIMITS), "pytorch"].map((k) => [k, PRECISION]));
  if (noTrain) LIMITS = Object.fromEntries(Object.entries(LIMITS).map(([k, v]) => [k, { ...v, trainSteps: 0 }]));
  if (child) {
    const w = JSON.parse(fs.readFileSync(opt("--workload")!, "utf8")) as Workload;
    const r = ONNX_ROWS.includes(child)
      ? await runOnnx(w, child, opt("--onnx-dir")!, LIMITS[child]) :
      await runTfjs(w, child, opt("--serve-dir"));
    writeJsonAtomic(opt("--out")!, r);
    return;
  }
  if (!fs.existsSync(path.join(MODEL_DIR, "model.safetensors")))
    throw new Error(`${MODEL_DIR}/model.safetensors is missing: run \`npm run setup\` first`);
  if (args.includes("--losses")) return benchLosses(args, await makeWorkload(), runChild);
  const all = "tensorflow,tensorflow-bf16,tensorflow-grouped,tensorflow-ops,wasm,onnxruntime,onnxruntime-int8";
  const backends = onlyPrecision ?
    ["tensorflow", "tensorflow-bf16"]
    : (opt("--backends") ?? all).split(",").filter(Boolean);
  const python = opt("--python") ?? VENV_PYTHON;
  const w = await makeWorkload();
  const wfile = path.join(BENCH_DIR, "workload.json");
  writeJsonAtomic(wfile, w);
  const nice = os.getPriority();
  console.log(
    `workload: ${w.train.timed.length} training batches of ${w.train.batchSize} (${
      sum(w.train.timed.map((b) => b.labels.length))
    } tweets), ` +
      `${w.infer.batch64.length} inference batches of ≤64, ${w.infer.batch1.length} single tweets; ${os.cpus().length} CPUs, load ${
        os.loadavg()[0].toFixed(2)
      }, niceness ${nice}`,
  );
  // The machine, named: ratios to PyTorch differ from one CPU to the next (lib/runtime/machine.ts).
  const cpu = cpuInfo(), tfBuild = tensorflowBuild();
  console.log(`machine: ${describeMachine(cpu, tfBuild)}`);

  const results: EngineResult[] = [];
  const errors: string[] = [];
  const trainSteps = noTrain ? 0 : QUICK.trainSteps;
  const limited = (
    l: typeof QUICK,
  ) => ["--train-steps", String(l.trainSteps), "--batch64", String(l.batch64), "--batch1", String(l.batch1)];
  const precisionSteps = noTrain ? 0 : PRECISION.trainSteps;
  const limitArgs = quick ?
    limited({ ...QUICK, trainSteps })
    : onlyPrecision ?
    [...limited({ ...PRECISION, trainSteps: precisionSteps }), "--loop-repeats", "0"]
    : noTrain
    ? ["--train-steps", "0"]
    : [];
  // PyTorch twice: as installed, and with OpenMP threads that sleep instead of spinning. When
  // anything else runs, spinning threads wait on each other and a batch-1 forward gets many times slower.
  const torchOut = path.join(BENCH_DIR, "pytorch.json");
  const runTorch = (env: Record<string, string>, args: string[]) =>
    runChild(
      python,
      [path.join(ROOT, "scripts", "bench_torch.py"), "--workload", wfile, "--out", torchOut, ...args],
      env,
      torchOut,
    );
  const torchWaits = ([["pytorch", {}], ["pytorch OMP passive", { OMP_WAIT_POLICY: "PASSIVE" }]] as const).filter((
    [label],
  ) => !process.env.OMP_WAIT_POLICY || label === "pytorch") // else the user chose one
    // the precision rows compare precisions, not thread policies: PyTorch's threads sleep (on a shared machine,
    // spinning threads wait on each other)
    .filter(([label]) => !onlyPrecision || label !== "pytorch" || process.env.OMP_WAIT_POLICY);
  const torchOnce = (label: string, env: Record<string, string>, args: string[]): EngineResult => {
    const r = runTorch(env, args);
    const policy = "OMP_WAIT_POLICY" in env ? "PASSIVE" : process.env.OMP_WAIT_POLICY;
    return {
      ...r,
      name: policy && label === "pytorch" ? `pytorch OMP ${policy.toLowerCase()}` : label,
      engine: `${r.engine}${policy ? ` (OMP_WAIT_POLICY=${policy})` : ""}`,
      wait: `OMP_WAIT_POLICY=${policy ?? "default"}`,
    };
  };
  const torchRuns = torchWaits.map(([label, env]) => {
    console.log(`${label} ...`);
    return torchOnce(label, env, limitArgs);
  });
  const seconds = (r: EngineResult) => sum(r.train.stepSeconds) + sum(r.infer.batch64Seconds);
  // The reference of the table and the training floors: the faster PyTorch run over training and batch 64.
  const torch = torchRuns.reduce((a, b) => (seconds(b) < seconds(a) ? b : a));
  const tb = torch.build;
  if (tb) {
    console.log(
      `PyTorch: ${torch.engine.split(" + ")[0]}, BLAS ${tb.blas} ${tb.mkl ?? ""}, oneDNN ${tb.onednn}, ` +
        `CPU capability ${tb.cpuCapability}, ${tb.threads} threads`,
    );
  }
  results.push(...torchRuns);
  // PyTorch under bf16 autocast, the reference of the graph's bf16 rows, with the fp32 reference's thread policy.
  if (backends.includes("tensorflow-bf16")) {
    console.log("pytorch-bf16 ...");
    const env: Record<string, string> = torch.wait === "OMP_WAIT_POLICY=PASSIVE" ? { OMP_WAIT_POLICY: "PASSIVE" } : {};
    try {
      results.push({ ...runTorch(env, [...limitArgs, "--autocast", "bf16"]), wait: torch.wait });
    } catch (e) {
      errors.push(`pytorch-bf16: ${(e as Error).message}`);
    }
  }
  // The ONNX rows' model: an export made (or given) once, before any row is timed.
  let onnx: Awaited<ReturnType<typeof prepareOnnx>> | undefined;
  if (backends.some((b) => ONNX_ROWS.includes(b))) {
    try {
      onnx = await prepareOnnx({ onnx: opt("--onnx"), checkpoint: opt("--checkpoint"), workload: w });
      console.log(`ONNX rows run ${onnx.dir} (from ${onnx.from})`);
    } catch (e) {
      const why = (e as Error).message.split("\n")[0];
      errors.push(`onnxruntime: no ONNX model (${why}); pass --onnx DIR (bertlab export)`);
    }
  }
  // A child bench process for row `b` (this file with --child), writing its result to `out`.
  const childArgs = (
    b: string,
    out: string,
  ) => [
    "--import",
    "tsx",
    path.join(ROOT, "scripts", "bench.ts"),
    "--child",
    b,
    "--workload",
    wfile,
    "--out",
    out,
    ...(quick ? ["--quick"] : []),
    ...(noTrain ? ["--no-train"] : []),
    ...(onlyPrecision ? ["--only", "precision"] : []),
    ...(ONNX_ROWS.includes(b) ? ["--onnx-dir", onnx!.dir] : []),
    ...(b === "tensorflow" && onnx?.modelDir ? ["--serve-dir", onnx.modelDir] : []),
  ];
  for (const b of backends) {
    console.log(`${b} ...`);
    const out = path.join(BENCH_DIR, `${b}.json`);
    try {
      const isOnnx = ONNX_ROWS.includes(b);
      if (isOnnx && !onnx) continue;
      const env = isOnnx ? {} : { BERTLAB_BACKEND: variant(b).backend, ...variant(b).env };
      results.push(runChild(process.execPath, childArgs(b, out), env, out));
    } catch (e) {
      errors.push(`${b}: ${(e as Error).message}`);
      console.log(`  ${b} failed: ${(e as Error).message.split("\n").slice(-1)[0]}`);
    }
  }
  // Rounds 2..N: PyTorch (inference only, both OpenMP policies), then each ONNX row, fresh processes. Every
  // ratio takes each engine at its faster thread-wait policy for that measure (atBestWait), recorded per round.
  const onnxRows = backends.filter((b) => ONNX_ROWS.includes(b) && results.some((r) => r.name === b));
  const perRound: Record<string, number>[] = [];
  const roundWaits: Record<string, Waits>[] = [];
  const addRound = (torchRound: EngineResult[], rows: EngineResult[]) => {
    const t = atBestWait(torchRound), best = rows.map((r) => atBestWait([r]));
    perRound.push(roundRatios(w, best, t, onnx!.fineTuned));
    roundWaits.push(Object.fromEntries([["pytorch", t.waits], ...best.map((r) => [r.name, r.waits])]));
  };
  if (onnx && onnxRows.length) {
    addRound(torchRuns, results.filter((r) => onnxRows.includes(r.name)));
    for (let round = 2; round <= rounds; round++) {
      console.log(
        `round ${round}/${rounds}: pytorch (inference, ${torchWaits.length} thread-wait policies), ${
          onnxRows.join(", ")
        } ...`,
      );
      try {
        const inferOnly = [
          "--train-steps",
          "0",
          ...(quick ? ["--batch64", String(QUICK.batch64), "--batch1", String(QUICK.batch1)] : []),
        ];
        const t = torchWaits.map(([label, env]) => torchOnce(label, env, inferOnly));
        const rowResults = onnxRows.map((b) => {
          const out = path.join(BENCH_DIR, `${b}.json`);
          return runChild(process.execPath, childArgs(b, out), {}, out);
        });
        addRound(t, rowResults);
      } catch (e) {
        errors.push(`round ${round}: ${(e as Error).message}`);
        console.log(`  round ${round} failed: ${(e as Error).message.split("\n").slice(-1)[0]}`);
      }
    }
  }
  const byRound = acrossRounds(perRound);
  const summaries = results.map((r) => summarise(w, r, r === torch ? undefined : torch));
  console.log(
    `\nratios (×) are against ${torch.name}, the faster PyTorch run, on the same batches; > 1 means faster than PyTorch`,
  );
  console.log("\n" + table(summaries));
  const native = summaries.find((s) => s.name === "tensorflow");
  const floors = native?.vsPytorch && {
    // the training target: PyTorch's speed or better (padded tokens/s, same batches), on whatever CPU this runs on
    train: { floor: 1, ratio: native.vsPytorch.train, ok: native.vsPytorch.train >= 1 },
    batch64: { floor: 1, ratio: native.vsPytorch.batch64, ok: native.vsPytorch.batch64 >= 1 },
    batch1: { floor: 1, ratio: native.vsPytorch.batch1, ok: native.vsPytorch.batch1 >= 1 },
  };
  // --group-by-length: real tokens/s against PyTorch's, whose batches are padded to their longest.
  const grouped = summaries.find((s) => s.name === "tensorflow-grouped");
  const gRatio = grouped?.vsPytorch?.train;
  const groupFloor = gRatio !== undefined ? { floor: 1.5, ratio: gRatio, ok: gRatio >= 1.5 } : undefined;
  if (groupFloor) {
    console.log(
      `\ngroup-by-length floor: real tokens/s ${groupFloor.ratio.toFixed(2)}× PyTorch's ` +
        `(random batches padded to their longest; ≥1.5: ${groupFloor.ok ? "met" : "NOT met"})`,
    );
  }
  if (floors) {
    const train = Number.isFinite(floors.train.ratio)
      ? `${floors.train.ratio.toFixed(2)}× (≥1: ${floors.train.ok ? "met" : "NOT met"})` :
      "not run";
    console.log(
      `\nfloors (native vs PyTorch): training ${train}, ` +
        `inference batch 64 ${floors.batch64.ratio.toFixed(2)}× and batch 1 ${floors.batch1.ratio.toFixed(2)}× (≥1: ${
          floors.batch64.ok && floors.batch1.ok ? "met" : "NOT met"
        })`,
    );
  }
  const precisionFloors = precisionLines(summaries, cpu.extensions, results.find((r) => r.bf16)?.bf16);
  const serving = onnx ? servingLines(results, atBestWait(torchRuns), onnx.fineTuned) : undefined;
  if (serving) console.log(["", `serving (${onnx!.from}):`, ...serving.lines.map((l) => "  " + l)].join("\n"));
  const onnxFloors = Object.keys(ONNX_FLOORS).every((k) => byRound[k]) ?
    Object.fromEntries(
      Object.entries(ONNX_FLOORS).map((
        [k, floor],
      ) => [k, { floor, ratio: byRound[k].median, rounds: byRound[k].rounds, ok: byRound[k].median >= floor }]),
    ) :
    undefined;
  if (onnxFloors) {
    const each = Object.entries(onnxFloors).map(([k, v]) =>
      `  ${k.padEnd(17)} ${v.rounds.map((x) => x.toFixed(2)).join(" · ")} → median ${
        v.ratio.toFixed(2)
      }× (≥${v.floor}: ${v.ok ? "met" : "NOT met"})`
    );
    const int8e2e = byRound.e2eInt8VsPytorch;
    if (int8e2e)
      each.push(
        `  ${"e2eInt8VsPytorch".padEnd(17)} ${int8e2e.rounds.map((x) => x.toFixed(2)).join(" · ")} → median ${
          int8e2e.median.toFixed(2)
        }×`,
      );
    console.log(
      `\nfloors (ONNX Runtime vs PyTorch), ratio in each of ${perRound.length} rounds of fresh processes:\n${
        each.join("\n")
      }`,
    );
    console.log(
      `each engine at its faster thread-wait policy per measure; the winners over the rounds:\n${
        waitTally(roundWaits).map((l) => "  " + l).join("\n")
      }`,
    );
  }
  for (const s of summaries)
    if (s.tensorLeak) console.log(`warning: ${s.name} leaked ${s.tensorLeak} tensors during the timed part`);
  for (const e of errors) console.log(`error: ${e}`);
  const stamp = new Date().toISOString().replace(/:/g, "-").replace(/\.\d+Z$/, "Z");
  const file = path.join(BENCH_DIR, `bench-${stamp}.json`);
  writeJsonAtomic(file, {
    date: new Date().toISOString(),
    host: {
      niceness: nice,
      cpus: os.cpus().length,
      model: os.cpus()[0]?.model,
      memGB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
    },
    machine: { summary: describeMachine(cpu, tfBuild), cpu, tensorflow: tfBuild, pytorch: torch.build },
    workload: {
      trainBatches: w.train.timed.length,
      batchSize: w.train.batchSize,
      infer64Batches: w.infer.batch64.length,
      batch1: w.infer.batch1.length,
      limits: LIMITS,
    },
    quick,
    reference: torch.name,
    summaries,
    onnxFloors,
    rounds: perRound,
    roundWaits,
    serving: serving && { model: onnx!.from, ...serving },
    floors: (floors || groupFloor || precisionFloors)
      && { ...floors, groupByLength: groupFloor, precision: precisionFloors },
    errors,
    raw: results,
  });
  console.log(`\nwritten: ${path.relative(ROOT, file)}`);
}

/**
 * The bf16 rows against their fp32 references, printed with what this CPU has for bfloat16: graph bf16 training
 * ≥ 1.4× graph fp32 and ≥ 1.0× PyTorch under bf16 autocast (padded tokens/s on the same batches), graph bf16
 * batch 64 ≥ 1.4× fp32. Undefined when the bf16 rows did not run.
 */
function precisionLines(
  summaries: Summary[],
  extensions: string[],
  probe?: Bf16Support,
): Record<string, { floor: number; ratio: number; ok: boolean }> | undefined {
  const row = (n: string) => summaries.find((s) => s.name === n);
  const [g32, g16, t16] = [row("tensorflow"), row("tensorflow-bf16"), row("pytorch-bf16")];
  if (!g32 || !g16) return undefined;
  const have = extensions.filter((e) => (BF16_FEATURES as readonly string[]).includes(e));
  const hw = have.length ? have.join(", ") : `none of ${BF16_FEATURES.join(", ")}: bfloat16 products are emulated`;
  const kernels = !probe ? "" : probe.kernels ? "run" : `do not run (${probe.kernelError})`;
  console.log(`\nbf16 on this CPU: ${hw}${probe ? `; TensorFlow's bfloat16 MatMul / BatchMatMulV2 ${kernels}` : ""}`);
  const all: Record<string, { floor: number; ratio: number }> = {
    bf16TrainVsFp32: { floor: 1.4, ratio: g16.paddedTokensPerSec / g32.paddedTokensPerSec },
    ...(t16 ? { bf16TrainVsPytorchBf16: { floor: 1, ratio: g16.paddedTokensPerSec / t16.paddedTokensPerSec } } : {}),
    bf16Batch64VsFp32: { floor: 1.4, ratio: g16.batch64TweetsPerSec / g32.batch64TweetsPerSec },
  };
  const out = Object.fromEntries(
    Object.entries(all).filter(([, v]) => Number.isFinite(v.ratio)).map((
      [k, v],
    ) => [k, { ...v, ok: v.ratio >= v.floor }]),
  );
  const steps = g16.trainSteps < g16.epochSteps ? ` (first ${g16.trainSteps} training batches)` : "";
  const each = Object.entries(out).map(([k, v]) =>
    `  ${k.padEnd(22)} ${v.ratio.toFixed(2)}× (≥${v.floor}: ${v.ok ? "met" : "NOT met"})`
  );
  console.log(`floors (bf16)${steps}:\n${each.join("\n")}`);
  return out;
}

if (require.main === module) {
  main().catch((e) => {
    console.error(`bench: ${(e as Error).message}`);
    process.exitCode = 1;
  });
}
