/**
 * The training options on the graph step against PyTorch: `npx tsx scripts/bench.ts --losses` (these rows only,
 * about 5 minutes on 2 cores; `--train-steps N` times the first N batches of the epoch, default all of it).
 * The workload is scripts/bench.ts's (SMILE's course epoch in batches of 32, each padded to its longest), and
 * every row trains on the same batches, in its own process, from the same pretrained MiniLM and head seed:
 *   - "multi-label": binary cross-entropy over multi-hot rows (lib/nn/loss_def.ts "bce") vs PyTorch's
 *     BCEWithLogitsLoss; the rows are each tweet's label plus, for every third tweet of a batch, the next label
 *     (SMILE's own label sets are mostly single: this keeps some rows multi-hot; speed does not depend on it);
 *   - "focal": focal loss, γ 2, balanced class weights, vs the same loss written with PyTorch ops;
 *   - "accumulation": each batch of 32 as 2 micro-batches of 16 (each padded to its own longest) and one update,
 *     vs the graph's own batch of 32.
 * Throughput is padded tokens of the 32-row batches per second, so every row of a pair is credited the same work.
 * Floors: multi-label ≥ 1.5× PyTorch, focal ≥ 1.5× PyTorch, accumulation ≥ 0.9× the single batch.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { initBackend } from "../lib/runtime/backend";
import { loadBertForSequenceClassification } from "../lib/model/bert";
import { makeBatch } from "../lib/data/loader";
import { AdamW } from "../lib/nn/optim";
import { LossSpec } from "../lib/nn/loss_def";
import { MicroBatch, trainStep } from "../lib/train/train_graph";
import { computeClassWeight } from "../lib/train/imbalance";
import { writeJsonAtomic } from "../lib/core/fsutil";
import { ROOT, OUT_DIR, VENV_PYTHON } from "../lib/core/paths";
import { median } from "../lib/core/stats";
import type { Workload, EngineResult } from "./bench_types";

const BENCH_DIR = path.join(OUT_DIR, "bench");

/** A training batch with its multi-hot rows. */
interface LossRows {
  input_ids: number[][];
  labels: number[];
  targets: number[][];
}
interface LossWorkload extends Workload {
  train: Workload["train"] & { timed: LossRows[]; warmup: LossRows[]; classWeights: number[] };
}

/** The rows of the bench: which loss, and whether each batch runs as two micro-batches. */
const ROWS: Record<string, { loss: "cross_entropy" | "bce" | "focal"; halves?: boolean }> = {
  "graph multi-label": { loss: "bce" },
  "graph focal": { loss: "focal" },
  "graph batch 32": { loss: "cross_entropy" },
  "graph 2 × 16": { loss: "cross_entropy", halves: true },
};

/** Each tweet's label, and for every third tweet of a batch the next label too. */
function multiHot(labels: number[], c: number): number[][] {
  return labels.map((y, i) =>
    Array.from({ length: c }, (_, j) => (j === y || (i % 3 === 0 && j === (y + 1) % c) ? 1 : 0))
  );
}

function specOf(w: LossWorkload, loss: string): LossSpec {
  if (loss === "bce") return { kind: "bce" };
  if (loss === "focal") return { kind: "focal", gamma: 2, classWeights: w.train.classWeights };
  return { kind: "cross_entropy" };
}

/** One row, in this (child) process: the timed steps' seconds and losses. */
async function runRow(w: LossWorkload, name: string): Promise<EngineResult> {
  const info = await initBackend("tensorflow");
  const row = ROWS[name];
  const model = await loadBertForSequenceClassification(w.modelDir, { labels: w.labels, seed: w.seed });
  const o = w.train.optimizer;
  const opt = new AdamW(model.params, { lr: o.lr, eps: o.eps, betas: o.betas, weightDecay: o.weightDecay });
  const spec = specOf(w, row.loss);
  let seed = 0;
  const step = (r: LossRows): number => {
    const parts = row.halves ? [[0, 16], [16, r.labels.length]] : [[0, r.labels.length]];
    const micro: MicroBatch[] = parts.filter(([a, b]) => b > a).map(([a, b]) => {
      const ids = r.input_ids.slice(a, b);
      return {
        inputs: makeBatch({ input_ids: ids }, undefined, ids.map((_, i) => i), {
          batchSize: ids.length,
          padding: "longest",
          padTokenId: 0,
        }),
        targets: row.loss === "bce" ? r.targets.slice(a, b) : r.labels.slice(a, b),
        seed: seed++,
      };
    });
    const { loss } = trainStep(model, opt, micro, { lr: o.lr, clipNorm: o.clipNorm, loss: spec });
    micro.forEach((m) => (m.inputs as ReturnType<typeof makeBatch>).dispose());
    return loss;
  };
  for (const r of w.train.warmup) step(r);
  const stepSeconds: number[] = [], losses: number[] = [];
  for (const r of w.train.timed) {
    const t0 = process.hrtime.bigint();
    losses.push(step(r));
    stepSeconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  opt.dispose();
  model.dispose();
  return {
    name,
    engine: `tfjs ${info.package ?? info.name}, graph step`,
    threads: info.threads ?? 1,
    train: { stepSeconds, losses },
    infer: { batch64Seconds: [], batch1Seconds: [] },
    peakRssMB: process.resourceUsage().maxRSS / 1024,
  };
}

type RunChild = (cmd: string, args: string[], env: NodeJS.ProcessEnv, out: string) => EngineResult;

/** The parent: writes the workload, runs PyTorch's two rows and the graph's four, prints ratios and floors. */
export async function benchLosses(args: string[], w0: Workload, runChild: RunChild): Promise<void> {
  const opt = (n: string) => {
    const i = args.indexOf(n);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const steps = Number(opt("--train-steps") ?? w0.train.timed.length);
  const c = w0.labels.length;
  const withTargets = (rows: Workload["train"]["timed"]): LossRows[] =>
    rows.map((r) => ({ ...r, targets: multiHot(r.labels, c) }));
  const timed = withTargets(w0.train.timed.slice(0, steps));
  const w: LossWorkload = {
    ...w0,
    train: {
      ...w0.train,
      timed,
      warmup: withTargets(w0.train.warmup),
      grouped: undefined,
      classWeights: computeClassWeight(w0.train.timed.flatMap((r) => r.labels), c, w0.labels),
    },
  };
  const wfile = path.join(BENCH_DIR, "workload_losses.json");
  writeJsonAtomic(wfile, w);
  const load = () => os.loadavg().map((x) => x.toFixed(2)).join(", ");
  console.log(
    `loss rows: ${timed.length} training batches of ≤${w.train.batchSize}; niceness ${os.getPriority()}; load average ${load()}`,
  );
  const results: Record<string, EngineResult> = {};
  const python = opt("--python") ?? VENV_PYTHON;
  // PyTorch with OpenMP's default thread wait and with OMP_WAIT_POLICY=PASSIVE, the faster of the two (as bench.ts):
  // on a busy machine spinning threads wait on each other.
  const seconds = (r: EngineResult) => r.train.stepSeconds.reduce((x, y) => x + y, 0);
  for (const loss of ["bce", "focal"]) {
    const name = `pytorch ${loss === "bce" ? "multi-label" : "focal"}`;
    const runs = [{}, { OMP_WAIT_POLICY: "PASSIVE" }].map((env) => {
      console.log(`${name} ${env.OMP_WAIT_POLICY ? "(OMP passive) " : ""}...`);
      const out = path.join(BENCH_DIR, `losses-pytorch-${loss}.json`);
      const r = runChild(
        python,
        [
          path.join(ROOT, "scripts", "bench_torch.py"),
          "--workload",
          wfile,
          "--out",
          out,
          "--loss",
          loss,
          "--batch64",
          "0",
          "--batch1",
          "0",
          "--loop-repeats",
          "0",
        ],
        env,
        out,
      );
      return { ...r, wait: `OMP_WAIT_POLICY=${env.OMP_WAIT_POLICY ?? "default"}` };
    });
    results[name] = runs.reduce((x, y) => (seconds(y) < seconds(x) ? y : x));
  }
  for (const name of Object.keys(ROWS)) {
    console.log(`${name} ...`);
    const out = path.join(BENCH_DIR, `losses-${name.replace(/\W+/g, "-")}.json`);
    results[name] = runChild(
      process.execPath,
      ["--import", "tsx", __filename, "--child", name, "--workload", wfile, "--out", out],
      { BERTLAB_BACKEND: "tensorflow" },
      out,
    );
  }
  // Padded tokens of the 32-row batches per second of training, for every row alike.
  const padded = timed.reduce((s, r) => s + r.input_ids.length * Math.max(...r.input_ids.map((x) => x.length)), 0);
  const rate = (r: EngineResult) => padded / seconds(r);
  console.log(`\n${"row".padEnd(22)} ${"padded tokens/s".padStart(15)}  median step  mean loss  other cores`);
  for (const [name, r] of Object.entries(results)) {
    const meanLoss = r.train.losses.reduce((a, b) => a + b, 0) / r.train.losses.length;
    console.log(
      `${name.padEnd(22)} ${rate(r).toFixed(0).padStart(15)}  ${
        (median(r.train.stepSeconds) * 1000).toFixed(0).padStart(8)
      } ms  ` + `${meanLoss.toFixed(4).padStart(9)}  ${r.otherCores?.toFixed(2) ?? "?"}${r.wait ? `  ${r.wait}` : ""}`,
    );
  }
  const floors = [
    [
      "multi-label vs PyTorch BCEWithLogitsLoss",
      rate(results["graph multi-label"]) / rate(results["pytorch multi-label"]),
      1.5,
    ],
    ["focal (class weights) vs PyTorch", rate(results["graph focal"]) / rate(results["pytorch focal"]), 1.5],
    ["accumulation 2 × 16 vs batch 32", rate(results["graph 2 × 16"]) / rate(results["graph batch 32"]), 0.9],
  ] as const;
  console.log("\nfloors:");
  for (const [what, ratio, floor] of floors)
    console.log(`  ${what.padEnd(42)} ${ratio.toFixed(2)}× (≥${floor}: ${ratio >= floor ? "met" : "NOT met"})`);
  console.log(`load average after: ${load()}`);
  const file = path.join(
    BENCH_DIR,
    `bench-losses-${new Date().toISOString().replace(/:/g, "-").replace(/\.\d+Z$/, "Z")}.json`,
  );
  writeJsonAtomic(file, {
    date: new Date().toISOString(),
    niceness: os.getPriority(),
    steps: timed.length,
    paddedTokens: padded,
    floors: floors.map(([what, ratio, floor]) => ({ what, ratio, floor, ok: ratio >= floor })),
    raw: results,
  });
  console.log(`written: ${path.relative(ROOT, file)}`);
}

async function child(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (n: string) => args[args.indexOf(n) + 1];
  const w = JSON.parse(fs.readFileSync(opt("--workload"), "utf8")) as LossWorkload;
  writeJsonAtomic(opt("--out"), await runRow(w, opt("--child")));
}

if (require.main === module) {
  child().catch((e) => {
    console.error(`bench_losses: ${(e as Error).message}`);
    process.exitCode = 1;
  });
}
