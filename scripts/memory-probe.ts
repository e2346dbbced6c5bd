/**
 * Where the memory of a training step goes (docs/memory.md): MiniLM, batch 32, the SMILE course
 * split in the seeded order of lib/data/loader.ts's RandomSampler, each batch padded to its longest
 * tweet, the step of lib/train/train.ts (forward + backward on the tape, clipping, AdamW). Prints the
 * process's resident memory (RSS) and its peak after each phase, and at the end of the first
 * forward pass what the gradient tape holds, by operation.
 *
 *   npx tsx scripts/memory-probe.ts                 # one epoch (40 steps): start, backend, model, steps
 *   npx tsx scripts/memory-probe.ts --steps 5 --every
 *   npx tsx scripts/memory-probe.ts --group-by-length
 *   MALLOC_ARENA_MAX=2 npx tsx scripts/memory-probe.ts --steps 20   # allocator settings must precede the process
 *
 * Linux only (/proc/self/status). The tape is read from tfjs's engine state, which has no public
 * API: this is a measurement, nothing in lib/ depends on it.
 */
import * as fs from "fs";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/runtime/backend";
import { loadBertForSequenceClassification, crossEntropyLoss } from "../lib/model/bert";
import { RandomSampler, LengthGroupedSampler, makeBatch } from "../lib/data/loader";
import { AdamW, clipGradNorm } from "../lib/nn/optim";
import { DEFAULT_CONFIG } from "../lib/config/config";
import { loadCourseData } from "../lib/data/smile";
import { loadTokenizer } from "../lib/data/tokenize";
import { DEFAULT_MODEL_DIR } from "../lib/model/models";

const args = process.argv.slice(2);
const flag = (n: string) => args.includes(n);
const value = (n: string) => {
  const i = args.indexOf(n);
  return i >= 0 ? args[i + 1] : undefined;
};

/** RSS now and its peak (VmHWM), in MB. */
function rss(): { now: number; peak: number } {
  const s = fs.readFileSync("/proc/self/status", "utf8");
  const mb = (k: string) => Math.round(Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0) / 1024);
  return { now: mb("VmRSS"), peak: mb("VmHWM") };
}

function log(what: string): void {
  const r = rss(), m = tf.memory();
  console.log(
    `${what.padEnd(36)} RSS ${String(r.now).padStart(5)} MB  peak ${String(r.peak).padStart(5)} MB  ` +
      `tensors ${String(m.numTensors).padStart(4)}  (tfjs counts ${Math.round(m.numBytes / 2 ** 20)} MB)`,
  );
}

interface TapeNode {
  kernelName: string;
  outputs: (tf.Tensor | null)[];
  saved?: tf.Tensor[];
}

/** Bytes the tape keeps alive, by the operation that made them (each tensor counted once). */
function tapeReport(): void {
  const tape = (tf.engine() as unknown as { state: { activeTape: TapeNode[] } }).state.activeTape;
  const by = new Map<string, { nodes: number; mb: number }>(), seen = new Set<number>();
  let total = 0;
  for (const node of tape) {
    const e = by.get(node.kernelName) ?? { nodes: 0, mb: 0 };
    e.nodes++;
    for (const t of [...node.outputs, ...(node.saved ?? [])]) {
      if (!t || seen.has(t.id) || t.isDisposed) continue;
      seen.add(t.id);
      e.mb += (t.size * 4) / 2 ** 20;
      total += (t.size * 4) / 2 ** 20;
    }
    by.set(node.kernelName, e);
  }
  console.log(
    `  the tape: ${tape.length} operations keep ${Math.round(total)} MB ` +
      "(as tfjs counts: a reshape's output shares its input's memory)",
  );
  for (const [k, e] of [...by].sort((a, b) => b[1].mb - a[1].mb).filter(([, e]) => e.mb >= 1)) {
    console.log(`    ${k.padEnd(22)} ${String(e.nodes).padStart(4)} ops  ${String(Math.round(e.mb)).padStart(5)} MB`);
  }
}

async function main(): Promise<void> {
  log("start (Node, tsx, modules)");
  await initBackend();
  log("backend loaded");
  const dir = DEFAULT_MODEL_DIR;
  const data = loadCourseData();
  const tok = await loadTokenizer(dir);
  const ids = tok.encode(data.train.map((r) => r.text), { padding: false, truncation: true, maxLength: 256 }).input_ids;
  const labels = data.train.map((r) => r.label);
  const model = await loadBertForSequenceClassification(dir, { labels: data.labels, seed: 17 });
  log("model loaded");
  const cfg = DEFAULT_CONFIG;
  const opt = new AdamW(model.params, { lr: cfg.lr, weightDecay: cfg.weightDecay });
  const trainable = [...model.params.values()].filter((v) => v.trainable);
  const nameOf = new Map([...model.params].map(([k, v]) => [v.name, k]));
  const order = flag("--group-by-length")
    ? new LengthGroupedSampler(ids.map((r) => r.length), cfg.batchSize, cfg.seed).epochIndices()
    : new RandomSampler(ids.length, cfg.seed).epochIndices();
  const steps = Math.min(Number(value("--steps") ?? Infinity), Math.ceil(order.length / cfg.batchSize));
  let widest = 0;
  for (let s = 0; s < steps; s++) {
    const b = makeBatch({ input_ids: ids }, labels, order.slice(s * cfg.batchSize, (s + 1) * cfg.batchSize), cfg);
    const width = b.input_ids.shape[1];
    const { value: loss, grads } = tf.variableGrads(() => {
      const l = crossEntropyLoss(model.forward(b, { training: true, seed: s }), b.labels);
      if (s === 0) {
        log(`step 1 (width ${width}): end of forward`);
        tapeReport();
      }
      return l;
    }, trainable);
    b.dispose();
    loss.dispose();
    if (s === 0) log("step 1: after backward");
    const named: Record<string, tf.Tensor> = {};
    for (const [vn, g] of Object.entries(grads)) named[nameOf.get(vn)!] = g;
    const { grads: clipped } = clipGradNorm(named, cfg.clipNorm);
    opt.step(clipped, cfg.lr);
    tf.dispose([...Object.values(clipped), ...Object.values(named)]);
    if (s === 0 || flag("--every") || width > widest || s === steps - 1) log(`step ${s + 1} done (width ${width})`);
    widest = Math.max(widest, width);
  }
  opt.dispose();
  model.dispose();
  log(`all freed (widest batch ${widest})`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
