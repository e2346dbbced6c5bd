/**
 * XLA and the session path, the Node side of docs/xla.md: runs a SavedModel made by
 * scripts/xla_probe.py through tfjs-node's session API (the binding's loadSavedModelMetaGraph /
 * runSavedModel, as lib/graph/bert_graph.ts's GraphSession does) and reports its timing, its peak RSS
 * and whether XLA compiled anything (the number of files XLA dumped; none = nothing compiled).
 *
 *   npx tsx scripts/xla-probe.ts /tmp/xla/jit                  # _XlaMustCompile: compiled
 *   npx tsx scripts/xla-probe.ts /tmp/xla/plain --xla-flags    # TF_XLA_FLAGS auto-clustering
 *   npx tsx scripts/xla-probe.ts /tmp/xla/jit --shapes         # one compile per new sequence length?
 *   npx tsx scripts/xla-probe.ts bert [--xla-flags]            # bertlab's own inference graph (MiniLM, 64 × 40)
 * Environment: B, S (default 32 × 40), TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS, TF_ENABLE_ONEDNN_OPTS.
 * Prints one JSON line. Each run is a child process: XLA_FLAGS and TF_XLA_FLAGS are read when
 * TensorFlow loads, so they must be set before it does.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/runtime/backend";
import { loadBertForSequenceClassification } from "../lib/model/bert";
import { Rng } from "../lib/data/loader";
import { DEFAULT_MODEL_DIR } from "../lib/model/models";
import { median } from "../lib/core/stats";

const AUTO_JIT = "--tf_xla_auto_jit=2 --tf_xla_cpu_global_jit";
const H = 384, I = 1536;
const PARTS: Record<string, number[]> = {
  qkvW: [H, 3 * H],
  qkvb: [3 * H],
  oW: [H, H],
  ob: [H],
  ln1g: [H],
  ln1b: [H],
  iW: [H, I],
  ib: [I],
  o2W: [I, H],
  o2b: [H],
  ln2g: [H],
  ln2b: [H],
};

/** The parts of tfjs-node's backend used (not in tfjs's public types; lib/graph/bert_graph.ts uses the same). */
interface NodeBackend {
  loadSavedModelMetaGraph(dir: string, tags: string): number;
  runSavedModel(id: number, inputs: tf.Tensor[], infos: { name: string; tfDtype: string }[], o: string[]): tf.Tensor[];
}

const peakMB = () => {
  const kB = /VmHWM:\s+(\d+)/.exec(fs.readFileSync("/proc/self/status", "utf8"))?.[1];
  return Math.round(Number(kB ?? 0) / 1024);
};

/** Calls `run` reps + 1 times: the first (compile included) apart, then median/min wall and median CPU. */
function time(run: () => number, reps: number) {
  const wall: number[] = [], cpu: number[] = [];
  let value = 0;
  for (let r = 0; r <= reps; r++) {
    const c0 = process.cpuUsage(), t0 = performance.now();
    value = run();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  const rest = wall.slice(1);
  return {
    firstMs: Math.round(wall[0]),
    medianMs: +median(rest).toFixed(1),
    minMs: +Math.min(...rest).toFixed(1),
    cpuMedianMs: +median(cpu.slice(1)).toFixed(1),
    value,
  };
}

/** The probe models' inputs: deterministic values, so that outputs compare across runs and forms. */
function feeds(b: number, s: number): tf.Tensor[] {
  const rng = new Rng(7);
  const rand = (shape: number[], mean: number, sd: number) => {
    const v = new Float32Array(shape.reduce((p, q) => p * q, 1));
    for (let i = 0; i < v.length; i++) v[i] = mean + sd * Math.sqrt(3) * (2 * rng.next() - 1);
    return tf.tensor(v, shape);
  };
  const ws: tf.Tensor[] = [];
  for (let l = 0; l < 6; l++) {
    for (const [p, shape] of Object.entries(PARTS)) {
      ws.push(rand(shape, /ln\dg/.test(p) ? 1 : 0, p.endsWith("W") ? 0.05 : 0.02));
    }
  }
  return [rand([b, s, H], 0, 1), tf.zeros([b, 1, 1, s]), ...ws];
}

async function child(target: string, shapes: boolean): Promise<Record<string, unknown>> {
  await initBackend("tensorflow");
  const b = Number(process.env.B ?? (target === "bert" ? 64 : 32)), s = Number(process.env.S ?? 40);
  const peakBefore = peakMB();
  if (target === "bert") {
    const dir = DEFAULT_MODEL_DIR;
    const model = await loadBertForSequenceClassification(dir, { labels: ["a", "b", "c", "d", "e", "f"], seed: 17 });
    const x = {
      input_ids: tf.randomUniform([b, s], 1000, 30000, "int32", 1) as tf.Tensor2D,
      attention_mask: tf.ones([b, s], "int32") as tf.Tensor2D,
    };
    const forward = () => {
      const l = model.forward(x);
      const v = l.dataSync()[0];
      l.dispose();
      return v;
    };
    return { ...time(forward, 10), peakBefore, peakAfter: peakMB() };
  }
  const backend = tf.backend() as unknown as NodeBackend;
  const id = backend.loadSavedModelMetaGraph(target, "serve");
  const weights = Array.from({ length: 6 }, (_, l) => Object.keys(PARTS).map((p) => `l${l}_${p}`)).flat();
  const names = ["x", "mask", ...weights];
  const infos = names.map((n) => ({ name: `${n}:0`, tfDtype: "DT_FLOAT" }));
  // Training models: the loss and the sum of all gradients (fetching the loss alone would prune the backward pass).
  const outs = target.includes("train") ? ["loss:0", "gsum:0"] : ["y:0"];
  const run = (inputs: tf.Tensor[]) => () => {
    const ys = backend.runSavedModel(id, inputs, infos, outs);
    const v = ys[0].dataSync()[target.includes("train") ? 0 : 7];
    tf.dispose(ys);
    return v;
  };
  if (shapes) {
    // A new sequence length each time, then a repeat: each first call of a shape shows its compile time.
    const calls: string[] = [], seen = new Set<number>();
    for (const len of [s, s + 1, s + 1, s - 16, s]) {
      const t0 = performance.now();
      run(feeds(b, len))();
      calls.push(`length ${len}${seen.has(len) ? " again" : ""}: ${Math.round(performance.now() - t0)} ms`);
      seen.add(len);
    }
    return { calls };
  }
  return { ...time(run(feeds(b, s)), 4), peakBefore, peakAfter: peakMB() };
}

function main(): void {
  const args = process.argv.slice(2);
  const target = args.find((a) => !a.startsWith("--"));
  if (!target) throw new Error("usage: xla-probe.ts <saved-model dir | bert> [--xla-flags] [--shapes]");
  if (args.includes("--child")) {
    child(target, args.includes("--shapes")).then((r) => console.log(JSON.stringify(r)));
    return;
  }
  const dump = fs.mkdtempSync(path.join(os.tmpdir(), "xla-dump-"));
  const env: NodeJS.ProcessEnv = { ...process.env, TF_CPP_MIN_LOG_LEVEL: "2", XLA_FLAGS: `--xla_dump_to=${dump}` };
  if (args.includes("--xla-flags")) env.TF_XLA_FLAGS = AUTO_JIT;
  const r = spawnSync(process.execPath, ["--import", "tsx", __filename, ...args, "--child"], { env, encoding: "utf8" });
  const line = (r.stdout ?? "").trim().split("\n").pop() ?? "";
  if (r.status !== 0 || !line.startsWith("{")) {
    throw new Error(`probe failed: ${(r.stderr ?? "").split("\n").slice(-4).join(" ")}`);
  }
  const files = fs.readdirSync(dump);
  const modules = new Set(files.map((f) => /^module_\d+/.exec(f)?.[0]).filter(Boolean));
  console.log(
    JSON.stringify({
      model: target === "bert" ? "bertlab inference graph" : path.basename(target),
      tfXlaFlags: env.TF_XLA_FLAGS ?? "",
      threads: process.env.TF_NUM_INTRAOP_THREADS ?? "default",
      onednn: process.env.TF_ENABLE_ONEDNN_OPTS ?? "default",
      xlaDumpFiles: files.length,
      xlaModules: modules.size,
      ...JSON.parse(line),
    }),
  );
  fs.rmSync(dump, { recursive: true, force: true });
}

main();
