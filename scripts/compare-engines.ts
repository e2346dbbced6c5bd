/**
 * The TensorFlow graph against ONNX Runtime (fp32 and int8, threads spinning or not) in one process, taking
 * turns on the same tweets, so that all of them meet the same load: the quick measurement behind
 * `--engine auto` (lib/serve/engine.ts; docs/serving.md). Uses the bench's batches (out/bench/workload.json:
 * run `npm run bench` once first) and an export of the same checkpoint.
 *
 *   npx tsx scripts/compare-engines.ts --checkpoint runs/course --onnx out/export-course [--rounds 3]
 */
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/runtime/backend";
import { loadTrained } from "../lib/eval/evaluate";
import { modelFolder } from "../lib/model/run_folder";
import { makeBatch } from "../lib/data/loader";
import { createSession, onnxLogits } from "../lib/serve/onnx_runtime";
import { ONNX_MODEL, ONNX_MODEL_QUANTIZED } from "../lib/model/run_folder";
import { OUT_DIR } from "../lib/core/paths";
import type { Workload } from "./bench_types";
import { median } from "../lib/core/stats";

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (n: string) => {
    const i = args.indexOf(n);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const [ckpt, onnxDir] = [opt("--checkpoint"), opt("--onnx")];
  if (!ckpt || !onnxDir) throw new Error("usage: compare-engines.ts --checkpoint DIR --onnx EXPORT_DIR [--rounds N]");
  const rounds = Number(opt("--rounds") ?? 3);
  const wfile = path.join(OUT_DIR, "bench", "workload.json");
  if (!fs.existsSync(wfile)) throw new Error(`${wfile} is missing: run npm run bench once (it writes the workload)`);
  const w = JSON.parse(fs.readFileSync(wfile, "utf8")) as Workload;

  await initBackend();
  const { model } = await loadTrained(modelFolder(ckpt));
  const engines: Record<string, (rows: number[][]) => Promise<void>> = {
    "TensorFlow graph": async (rows) => {
      const opts = { batchSize: rows.length, padding: "longest" as const, padTokenId: 0 };
      const b = makeBatch({ input_ids: rows }, undefined, rows.map((_, i) => i), opts);
      tf.tidy(() => {
        model.forward(b, { training: false }).dataSync();
      });
      b.dispose();
    },
  };
  const variants = [
    ["ONNX Runtime fp32", ONNX_MODEL, false],
    ["ONNX Runtime int8", ONNX_MODEL_QUANTIZED, false],
    ["ONNX Runtime fp32, spinning", ONNX_MODEL, true],
    ["ONNX Runtime int8, spinning", ONNX_MODEL_QUANTIZED, true],
  ] as const;
  for (const [name, file, spin] of variants) {
    const session = await createSession(path.join(onnxDir, file), { spin });
    engines[name] = async (rows) => {
      await onnxLogits(session, rows);
    };
  }
  const times: Record<string, { b1: number[]; b64: number[] }> = {};
  for (const [name, run] of Object.entries(engines)) {
    times[name] = { b1: [], b64: [] };
    await run(w.infer.batch64[0]); // warm-up: kernels picked, memory allocated
    await run([w.infer.batch1[0]]);
  }
  const timed = async (name: string, rows: number[][], into: number[]) => {
    const t0 = performance.now();
    await engines[name](rows);
    into.push(performance.now() - t0);
  };
  // Turns of 4 tweets (then one batch of 64) per engine, so that a burst of load hits every engine alike.
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < w.infer.batch1.length; i += 4) {
      for (const name of Object.keys(engines)) {
        for (const row of w.infer.batch1.slice(i, i + 4)) await timed(name, [row], times[name].b1);
      }
    }
    for (const b of w.infer.batch64) for (const name of Object.keys(engines)) await timed(name, b, times[name].b64);
  }
  model.dispose();
  const tweets = w.infer.batch64.reduce((a, b) => a + b.length, 0) * rounds;
  console.table(
    Object.entries(times).map(([engine, t]) => ({
      engine,
      "batch-1 median ms": +median(t.b1).toFixed(2),
      "batch 64 tweets/s": +(tweets / (t.b64.reduce((a, b) => a + b, 0) / 1000)).toFixed(1),
    })),
  );
}

main().catch((e) => {
  console.error(`compare-engines: ${(e as Error).message}`);
  process.exitCode = 1;
});
