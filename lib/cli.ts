/**
 * The bertlab command line: split, train, evaluate, predict, sweep, export and demo, on the SMILE data or any
 * CSV/TSV with a text and a label column, with any BERT model folder or hub id. Every field of
 * TrainConfig (lib/config.ts) is a flag. `npx bertlab --help` prints the full usage.
 *
 *   npx bertlab train --run-dir runs/mine --epochs 3 --lr 1e-4
 *   npx bertlab predict --checkpoint runs/mine/checkpoints/epoch-3 "I love this!"
 */
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import { DEFAULT_CONFIG, TrainConfig } from "./config";
import { initBackend } from "./backend";
import { SMILE_CSV, RUNS_DIR } from "./paths";
import { writeJsonAtomic, writeFileAtomic } from "./fsutil";
import { loadCourseData } from "./smile";
import { readLabelledTexts } from "./csv";
import { stratifiedSplit } from "./split";
import { train, TrainData } from "./train";
import { cliReporter, chartsPage } from "./progress";
import { lastCheckpoint } from "./checkpoint";
import { accuracyLines } from "./metrics";
import { chooseEngine, loadClassifier } from "./engine";
import { exportOnnx } from "./export";
import { demo } from "./demo";

const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());

/** One-line help per config field (the why-comments of lib/config.ts, shortened). */
const CONFIG_HELP: Record<keyof TrainConfig, string> = {
  model: "model folder or hub id (default: models/all-MiniLM-L6-v2)",
  maxLength: "longest tokenized text kept",
  padding: "longest (pad each batch to its longest text) | max_length (pad all to --max-length)",
  batchSize: "texts per training step",
  evalBatchSize: "texts per validation batch",
  epochs: "passes over the training set",
  lr: "peak learning rate (AdamW)",
  headLrScale: "lr multiplier for the classifier and pooler (they start untrained)",
  eps: "AdamW epsilon",
  betas: "AdamW betas as b1,b2",
  weightDecay: "decoupled weight decay (not on biases/LayerNorm)",
  warmupSteps: "linear warm-up steps (0: use --warmup-ratio)",
  warmupRatio: "warm-up as a fraction of all steps",
  clipNorm: "clip the global gradient norm to this (0: off)",
  gradAccumulation: "batches per optimizer step",
  seed: "seed for split, sampling, dropout and the new head",
  testSize: "fraction held out for validation (stratified)",
  maxStepsPerEpoch: "stop each epoch after this many steps (0: no limit)",
  maxTrainExamples: "use at most this many training examples (0: all)",
  logSamples: "tokenized samples to print before training",
};

const DATA_FLAGS = {
  csv: { type: "string" }, "text-column": { type: "string" }, "label-column": { type: "string" }, "id-column": { type: "string" },
  delimiter: { type: "string" }, "no-header": { type: "boolean" },
} as const;

export const HELP = `bertlab — fine-tune and use BERT classifiers (the course "Sentiment Analysis with Deep Learning using BERT")

Usage: bertlab <command> [options]

Commands:
  split      split the data (stratified) and write the ids to --out (JSON)
  train      fine-tune; checkpoints, metrics.json and charts.html go to --run-dir
  evaluate   score a saved model on the validation split: F1 weighted/macro, per-class accuracy, confusion
  predict    label new texts: bertlab predict --checkpoint DIR "text" ... (or --input FILE, one text a line)
  sweep      train once per seed (--seeds 1,2,3) and chart the spread of F1
  export     an ONNX model folder for transformers.js and onnxruntime (--checkpoint DIR --out DIR [--quantize int8])
  demo       a local web page that runs the model in the browser: bertlab demo --checkpoint DIR [--port 8765]

Data (default: the SMILE CSV at ${path.relative(process.cwd(), SMILE_CSV) || SMILE_CSV}, as the course):
  --csv FILE             any CSV/TSV with a header row
  --text-column NAME     column holding the text (required with --csv)
  --label-column NAME    column holding the label (required with --csv)
  --id-column NAME       optional id column (kept as strings)
  --delimiter C          default: from the extension (.tsv → tab) or sniffed
  --no-header            the file has no header: name columns by 0-based index

Run and model:
  --run-dir DIR          where a run is written (default: runs/<command>-<seed>); refused if it holds a run
  --resume               continue the run in --run-dir from its last checkpoint
  --checkpoint DIR       a saved model folder (evaluate, predict, export, demo); a run dir means its last checkpoint
  --out FILE             split: where to write the ids; export: the folder to write
  --input FILE           predict: texts, one per line
  --seeds LIST           sweep: comma-separated seeds
  --engine E             predict, evaluate: onnx (ONNX Runtime), tfjs (TensorFlow.js) or auto (default: ONNX Runtime
                         for an export folder, TensorFlow.js for a checkpoint on native TensorFlow); or BERTLAB_ENGINE
  --quantized            predict, evaluate, demo: run the int8 model (onnx/model_quantized.onnx)
  --quantize int8        export: also write onnx/model_quantized.onnx
  --force                export: replace an existing export in --out
  --port N               demo: port on 127.0.0.1 (default 8765; 0 picks a free one)
  --help                 this text

Hyperparameters (defaults from lib/config.ts):
${(Object.keys(DEFAULT_CONFIG) as (keyof TrainConfig)[]).map((k) => `  --${kebab(k).padEnd(22)}${CONFIG_HELP[k]} (default: ${JSON.stringify(DEFAULT_CONFIG[k]) ?? "course default"})`).join("\n")}
`;

type Values = Record<string, string | boolean | undefined>;

/** One string flag per config field (--batch-size, --head-lr-scale, ...), for parseArgs. */
export function configFlagOptions(): Record<string, { type: "string" }> {
  return Object.fromEntries(Object.keys(DEFAULT_CONFIG).map((k) => [kebab(k), { type: "string" as const }]));
}

function parse(argv: string[]): { command: string | undefined; values: Values; positionals: string[] } {
  const options: Record<string, { type: "string" | "boolean" }> = {
    ...DATA_FLAGS, "run-dir": { type: "string" }, resume: { type: "boolean" }, checkpoint: { type: "string" }, out: { type: "string" },
    input: { type: "string" }, seeds: { type: "string" }, help: { type: "boolean" }, ...configFlagOptions(),
    engine: { type: "string" }, quantized: { type: "boolean" }, quantize: { type: "string" },
    force: { type: "boolean" }, port: { type: "string" },
  };
  const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  return { command: positionals[0], values: values as Values, positionals: positionals.slice(1) };
}

/** Flags → TrainConfig; a value that is not a number where one is needed names the flag. */
export function configFromFlags(values: Values): TrainConfig {
  const cfg: TrainConfig = { ...DEFAULT_CONFIG };
  for (const k of Object.keys(DEFAULT_CONFIG) as (keyof TrainConfig)[]) {
    const v = values[kebab(k)];
    if (typeof v !== "string") continue;
    if (k === "model") cfg.model = v;
    else if (k === "padding") cfg.padding = v as TrainConfig["padding"];
    else if (k === "betas") {
      const b = v.split(",").map(Number);
      if (b.length !== 2 || b.some((x) => !Number.isFinite(x))) throw new Error(`--betas wants two numbers like 0.9,0.999, got ${JSON.stringify(v)}`);
      cfg.betas = [b[0], b[1]];
    } else {
      const n = Number(v);
      if (v.trim() === "" || !Number.isFinite(n)) throw new Error(`--${kebab(k)} wants a number, got ${JSON.stringify(v)}`);
      (cfg as unknown as Record<string, number>)[k] = n;
    }
  }
  return cfg;
}

/** The labelled data, split as the course does (stratified, cfg.testSize, cfg.seed). */
export function loadData(values: Values, cfg: TrainConfig): TrainData & { ids: { train: string[]; validation: string[] } } {
  if (!values.csv) {
    const course = loadCourseData(SMILE_CSV, { testSize: cfg.testSize, seed: cfg.seed });
    return {
      labels: course.labels,
      train: { texts: course.train.map((r) => r.text), labels: course.train.map((r) => r.category) },
      validation: { texts: course.val.map((r) => r.text), labels: course.val.map((r) => r.category) },
      ids: { train: course.train.map((r) => r.id), validation: course.val.map((r) => r.id) },
    };
  }
  const file = String(values.csv);
  if (!values["text-column"] || !values["label-column"]) throw new Error(`--csv ${file} needs --text-column and --label-column`);
  const col = (v: string | boolean | undefined) => (values["no-header"] ? Number(v) : String(v));
  const rows = readLabelledTexts(file, {
    textColumn: col(values["text-column"]), labelColumn: col(values["label-column"]),
    idColumn: values["id-column"] === undefined ? undefined : col(values["id-column"]),
    delimiter: values.delimiter as string | undefined, header: !values["no-header"],
  });
  const labels = [...new Set(rows.map((r) => r.label))].sort();
  const split = stratifiedSplit(rows, rows.map((r) => labels.indexOf(r.label)), { testSize: cfg.testSize, seed: cfg.seed });
  const tr = split.trainFileOrder, va = split.testFileOrder;
  return {
    labels,
    train: { texts: tr.map((r) => r.text), labels: tr.map((r) => r.label) },
    validation: { texts: va.map((r) => r.text), labels: va.map((r) => r.label) },
    ids: { train: tr.map((r) => r.id), validation: va.map((r) => r.id) },
  };
}

function checkpointDir(values: Values): string {
  const c = values.checkpoint;
  if (typeof c !== "string") throw new Error("this command needs --checkpoint DIR (a saved model folder or a run folder)");
  if (fs.existsSync(path.join(c, "config.json"))) return c;
  const last = lastCheckpoint(c);
  if (!last) throw new Error(`${c} is neither a model folder (config.json) nor a run folder with checkpoints`);
  return last.dir;
}

const out = (s: string) => process.stdout.write(s + "\n");

/** --engine / BERTLAB_ENGINE and --quantized (lib/engine.ts). */
const engineChoice = (values: Values) =>
  chooseEngine(values.engine as string | undefined, { quantized: Boolean(values.quantized) });

export async function main(argv: string[]): Promise<number> {
  const { command, values, positionals } = parse(argv);
  if (values.help || !command) { out(HELP); return command || values.help ? 0 : 1; }
  const cfg = configFromFlags(values);
  const runDir = typeof values["run-dir"] === "string" ? values["run-dir"] : path.join(RUNS_DIR, `${command}-${cfg.seed}`);
  switch (command) {
    case "split": {
      const data = loadData(values, cfg);
      const file = typeof values.out === "string" ? values.out : path.join(runDir, "split.json");
      writeJsonAtomic(file, { testSize: cfg.testSize, seed: cfg.seed, labels: data.labels, train_ids: data.ids.train, val_ids: data.ids.validation });
      out(`${data.train.texts.length} training and ${data.validation.texts.length} validation rows → ${file}`);
      return 0;
    }
    case "train": {
      const backend = await initBackend();
      const data = loadData(values, cfg);
      process.stderr.write(`backend ${backend.name} · ${data.train.texts.length} training / ${data.validation.texts.length} validation texts · labels ${data.labels!.join(", ")}\n`);
      const run = await train(cfg, { data, runDir, resume: Boolean(values.resume), onProgress: cliReporter(), log: (l) => process.stderr.write(l + "\n") });
      const last = run.history[run.history.length - 1];
      if (last) out(JSON.stringify({ runDir, epoch: last.epoch, f1Weighted: last.validation.f1Weighted, f1Macro: last.validation.f1Macro, seconds: run.seconds }));
      run.model.dispose();
      return 0;
    }
    case "evaluate": {
      const dir = checkpointDir(values);
      const clf = await loadClassifier(dir, engineChoice(values));
      const data = loadData(values, cfg);
      const ids = data.validation.labels.map((l) => {
        const k = clf.labels.indexOf(l);
        if (k < 0) throw new Error(`label ${JSON.stringify(l)} is missing from the model's label map (${clf.labels.join(", ")})`);
        return k;
      });
      const run = { batchSize: cfg.evalBatchSize, maxLength: cfg.maxLength };
      const ev = await clf.evaluate(data.validation.texts, ids, run);
      process.stderr.write(`engine: ${clf.engine}\n`);
      out(`checkpoint ${dir}: validation loss ${ev.metrics.loss.toFixed(4)} · F1 weighted ${ev.metrics.f1Weighted.toFixed(4)} · F1 macro ${ev.metrics.f1Macro.toFixed(4)} · accuracy ${ev.metrics.accuracy.toFixed(4)}`);
      accuracyLines(ev.metrics.perClass).forEach(out);
      out(`confusion (rows true, columns predicted; ${clf.labels.join(", ")}):`);
      ev.metrics.confusion.forEach((r, i) => out(`  ${clf.labels[i].padEnd(14)} ${r.map((n) => String(n).padStart(4)).join("")}`));
      await clf.release();
      return 0;
    }
    case "predict": {
      const texts = typeof values.input === "string"
        ? fs.readFileSync(values.input, "utf8").split(/\r?\n/).filter((l) => l.trim() !== "")
        : positionals;
      if (texts.length === 0) throw new Error("predict needs texts: bertlab predict --checkpoint DIR \"some text\" (or --input FILE)");
      const clf = await loadClassifier(checkpointDir(values), engineChoice(values));
      const preds = await clf.predict(texts, { maxLength: cfg.maxLength, batchSize: cfg.evalBatchSize });
      for (const p of preds) out(JSON.stringify(p));
      await clf.release();
      return 0;
    }
    case "export": {
      if (typeof values.out !== "string") throw new Error("export needs --out DIR (and --checkpoint DIR)");
      const quantize = values.quantize;
      if (quantize !== undefined && quantize !== "int8") throw new Error(`--quantize wants int8, got "${quantize}"`);
      const r = await exportOnnx(checkpointDir(values), values.out, { quantize, force: Boolean(values.force) });
      out(JSON.stringify(r));
      return 0;
    }
    case "demo": {
      const port = Number(values.port ?? 8765);
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        throw new Error(`--port wants a port number, got ${JSON.stringify(values.port)}`);
      }
      const quantized = Boolean(values.quantized);
      const server = await demo(checkpointDir(values), { port, maxLength: cfg.maxLength, quantized });
      out(`demo: ${server.url} (the model runs in your browser; Ctrl-C stops the server)`);
      await new Promise<void>((resolve) => { process.once("SIGINT", resolve); process.once("SIGTERM", resolve); });
      await server.close();
      return 0;
    }
    case "sweep": {
      const backend = await initBackend();
      const seeds = String(values.seeds ?? "").split(",").filter(Boolean).map(Number);
      if (seeds.length === 0 || seeds.some((s) => !Number.isInteger(s) || s < 0)) throw new Error(`--seeds wants a comma-separated list of integers, got ${JSON.stringify(values.seeds)}`);
      const results: { seed: number; f1Weighted: number; f1Macro: number; seconds: number }[] = [];
      for (const seed of seeds) {
        const c = { ...cfg, seed };
        const data = loadData(values, c);
        process.stderr.write(`seed ${seed} (backend ${backend.name})\n`);
        const run = await train(c, { data, runDir: path.join(runDir, `seed-${seed}`), resume: Boolean(values.resume), onProgress: cliReporter(), log: () => {} });
        const last = run.history[run.history.length - 1];
        results.push({ seed, f1Weighted: last.validation.f1Weighted, f1Macro: last.validation.f1Macro, seconds: run.seconds });
        run.model.dispose();
        out(JSON.stringify(results[results.length - 1]));
      }
      const f1 = results.map((r) => r.f1Weighted);
      const mean = f1.reduce((a, b) => a + b, 0) / f1.length;
      const sd = Math.sqrt(f1.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, f1.length - 1));
      writeJsonAtomic(path.join(runDir, "sweep.json"), { config: cfg, results, f1WeightedMean: mean, f1WeightedSd: sd });
      const fig = { data: [
        { type: "box", name: "F1 weighted", y: f1, boxpoints: "all", text: seeds.map((s) => `seed ${s}`) },
        { type: "box", name: "F1 macro", y: results.map((r) => r.f1Macro), boxpoints: "all", text: seeds.map((s) => `seed ${s}`) },
      ], layout: { title: { text: `Validation F1 over ${seeds.length} seeds` }, yaxis: { range: [0, 1] } } };
      writeFileAtomic(path.join(runDir, "sweep.html"), chartsPage(`F1 over seeds ${seeds.join(", ")}`, [fig]));
      out(`F1 weighted over seeds ${seeds.join(",")}: mean ${mean.toFixed(4)} ± ${sd.toFixed(4)} → ${path.join(runDir, "sweep.json")}`);
      return 0;
    }
    default:
      throw new Error(`unknown command ${JSON.stringify(command)}: ` +
        "use split, train, evaluate, predict, sweep, export or demo (see --help)");
  }
}
