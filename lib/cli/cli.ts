/**
 * The bertlab command line: split, train, evaluate, predict, sweep, export and demo, on the SMILE data or any
 * CSV/TSV with a text and a label column, with any BERT model folder or hub id. Every field of
 * TrainConfig (lib/config/config.ts) is a flag. `npx bertlab --help` prints the full usage.
 *
 *   npx bertlab train --run-dir runs/mine --epochs 3 --lr 1e-4
 *   npx bertlab predict --checkpoint runs/mine/checkpoints/epoch-3 "I love this!"
 */
import * as fs from "fs";
import * as path from "path";
import { DEFAULT_CONFIG, TrainConfig } from "../config/config";
import { initBackend } from "../runtime/backend";
import { SMILE_CSV, fromRoot } from "../core/paths";
import { DEFAULT_MODEL_DIR } from "../model/models";
import { writeJsonAtomic, writeFileAtomic } from "../core/fsutil";
import { train } from "../train/train";
import { sweep, summarise, seedsFigure, SweepRun } from "../train/sweep";
import { predict, loadTrained, evaluateSet, reportLines, labelIds, Trained } from "../eval/evaluate";
import { writeSoup, greedySoup, ensembleEvaluate, ensemblePredict } from "../eval/soup";
import { modelFolder, readConfig } from "../model/run_folder";
import { loadTrainData, readEvalSet, LoadedData, TextSet } from "../data/data";
import { decodeUtf8 } from "../data/csv";
import { MULTI_LABEL, MultiLabelMetrics } from "../eval/multilabel";
import type { EvalMetrics } from "../eval/metrics";
import { cliReporter, chartsPage } from "../view/progress";
import { probeBiasCheckpoint, writeBiasReport, biasSummaryLines } from "../analysis/bias";
import { quizMain } from "../teach/quiz_cli";
import { chooseEngine, loadClassifier } from "../serve/engine";
import { exportOnnx } from "../serve/export";
import { demo } from "../serve/demo";
import { doctorMain } from "./doctor";
import {
  Values,
  kebab,
  CONFIG_HELP,
  RECIPE_HELP,
  sharedFlags,
  configFromFlags,
  flagsOf,
  dataSource,
  parseFlags,
  runDirFlag,
  str,
} from "./flags";

export const HELP =
  `bertlab — fine-tune and use BERT classifiers (the course "Sentiment Analysis with Deep Learning using BERT")

Usage: bertlab <command> [options]

Commands:
  split      split the data (stratified) and write the ids to --out (JSON)
  train      fine-tune; checkpoints, metrics.json and charts.html go to --run-dir
  evaluate   score a saved model on a whole file (--csv FILE; default: the course's validation split);
             F1 weighted/macro, per-class precision/recall/F1 and accuracy, confusion (multi-label: F1
             micro/macro, per-label scores at the saved thresholds, subset accuracy); --out FILE: JSON
  predict    label new texts: bertlab predict --checkpoint DIR "text" ... (or --input FILE, one text a line);
             a multi-label model returns every label over its threshold
  sweep      train once per seed (--seeds 1,2,3) and chart the spread of F1
  probe-bias score Equity Evaluation Corpus sentence pairs (female/male, African-/European-American names):
             bertlab probe-bias --checkpoint DIR [--out FILE.json]; writes FILE.json and FILE.html
  cv         stratified k-fold cross-validation: macro/weighted F1 with 95% intervals; --compare A B pairs two
             runs on the same folds (see bertlab cv --help)
  quiz       the course's graded quiz: questions, answers, where each is taught; --check FILE grades answers
  doctor     what set-up found (Node, Python, kernel, data, model, backend, CPU, Chromium), how to fix what is missing
  export     an ONNX model folder for transformers.js and onnxruntime (--checkpoint DIR --out DIR [--quantize int8])
  demo       a local web page that runs the model in the browser: bertlab demo --checkpoint DIR [--port 8765]
  soup       average the weights of runs fine-tuned from the same start into one model: bertlab soup RUN RUN ...
             --out DIR [--greedy: add runs best first, each only if validation F1 holds]

Data (default: the SMILE CSV at ${fromRoot(SMILE_CSV)}, as the course):
  --csv FILE             any CSV/TSV with a header row; train splits it into train and validation
  --train-csv FILE       a training file (split, unless --validation-csv is given too)
  --validation-csv FILE  the validation file: no split is made
  --test-csv FILE        a test file, scored once after training by the final model (→ metrics.json "test")
  --text-column NAME     column holding the text (required with a file)
  --label-column NAME    column holding the label (required with a file)
  --id-column NAME       optional id column (kept as strings)
  --delimiter C          default: from the extension (.tsv → tab) or sniffed
  --no-header            the file has no header: name columns by 0-based index
  --multi-label          label cells hold sets of labels (SMILE: happy|sad): a sigmoid per label, binary
                         cross-entropy, per-label thresholds tuned on validation (saved as thresholds.json),
                         split by iterative stratification; without a file, SMILE with its multi-label tweets
  --label-delimiter C    what joins a cell's labels in multi-label mode (default: |)

Run and model:
  --run-dir DIR          where a run is written (default: runs/<command>-<seed>); refused if it holds a run
  --resume               continue the run in --run-dir from its last checkpoint
  --checkpoint DIR       a model folder (evaluate, predict, export, demo, probe-bias); a run folder means its best/
                         model, else its last checkpoint; an export folder runs on ONNX Runtime
  --out FILE             split: the ids; evaluate: the metrics (JSON); probe-bias: the report (default RUN_DIR/bias.json);
                         export: the folder to write
  --input FILE           predict: texts, one per line
  --seeds LIST           sweep: comma-separated seeds
  --engine E             predict, evaluate: onnx (ONNX Runtime), tfjs (TensorFlow.js) or auto (default: ONNX Runtime
                         for an export folder, TensorFlow.js for a checkpoint on native TensorFlow); or BERTLAB_ENGINE
  --quantized            predict, evaluate, demo: run the int8 model (onnx/model_quantized.onnx)
  --quantize int8        export: also write onnx/model_quantized.onnx
  --force                export: replace an existing export in --out
  --port N               demo: port on 127.0.0.1 (default 8765; 0 picks a free one)
  --ensemble DIRS        evaluate, predict: average the probabilities of these models (comma-separated folders)
  --greedy               soup: the greedy soup, scored on the validation data (the course's split by default)
  --help                 this text

Hyperparameters (defaults from lib/config/config.ts):
${configHelpLines().join("\n")}
`;

/** The hyperparameter lines of --help: the flag, its help, its default (the model's is the course's MiniLM folder). */
function configHelpLines(): string[] {
  const keys = Object.keys(DEFAULT_CONFIG) as (keyof TrainConfig)[];
  const width = Math.max(...keys.map((k) => kebab(k).length)) + 2; // the longest flag, then two spaces
  const shown = (k: keyof TrainConfig) =>
    k === "model" ? fromRoot(DEFAULT_MODEL_DIR) : JSON.stringify(DEFAULT_CONFIG[k]);
  // A flag without a default (--init-from) says nothing of one.
  const suffix = (k: keyof TrainConfig) => (shown(k) === undefined ? "" : ` (default: ${shown(k)})`);
  const recipe = `  --${"recipe".padEnd(width)}${RECIPE_HELP}`;
  return [recipe, ...keys.map((k) => `  --${kebab(k).padEnd(width)}${CONFIG_HELP[k]}${suffix(k)}`)];
}

/** Every flag the parser accepts (docs/reference/cli.md lists each; test/docs.test.ts checks it). */
export function cliOptions(): Record<string, { type: "string" | "boolean" }> {
  return {
    ...sharedFlags(),
    ...flagsOf("string", ["run-dir", "checkpoint", "out", "input", "seeds", "engine", "quantize", "port", "ensemble"]),
    ...flagsOf("boolean", ["resume", "help", "quantized", "force", "greedy"]),
  };
}

/** The labelled data: the course's SMILE split, one file split as the course does, or separate files. */
function loadData(values: Values, cfg: TrainConfig): LoadedData {
  return loadTrainData(dataSource(values), { validationSize: cfg.validationSize, seed: cfg.seed });
}

/** --checkpoint as a model folder: a run folder means its best/ model, else its last checkpoint. */
function checkpointDir(values: Values): string {
  const c = str(values, "checkpoint");
  if (c === undefined) throw new Error("this command needs --checkpoint DIR (a saved model folder or a run folder)");
  return modelFolder(c);
}

/** A multi-label model (config.json's problem_type), scored with its thresholds. */
const isMultiLabelFolder = (dir: string) => readConfig(dir).problem_type === MULTI_LABEL;

const out = (s: string) => process.stdout.write(s + "\n");

/** The models of `--ensemble A,B,C` (each folder resolved as --checkpoint is), on TensorFlow.js. */
async function loadEnsemble(list: string): Promise<Trained[]> {
  const dirs = list.split(",").map((s) => s.trim()).filter(Boolean);
  if (dirs.length === 0) throw new Error("--ensemble wants comma-separated model or run folders");
  await initBackend();
  const models: Trained[] = [];
  for (const d of dirs) models.push(await loadTrained(d));
  return models;
}

/** --engine / BERTLAB_ENGINE and --quantized (lib/serve/engine.ts). */
const engineChoice = (values: Values) =>
  chooseEngine(str(values, "engine"), { quantized: Boolean(values.quantized), precision: str(values, "precision") });

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === "quiz") return quizMain(argv.slice(1)); // its own flags: see bertlab quiz --help
  if (argv[0] === "doctor") return doctorMain(argv.slice(1)); // what set-up found: see bertlab doctor --help
  if (argv[0] === "cv") return (await import("./cv_cli")).cvMain(argv.slice(1)); // its own flags: bertlab cv --help
  const { values, positionals: [command, ...positionals] } = parseFlags(argv, cliOptions());
  if (values.help || !command) {
    out(HELP);
    return command || values.help ? 0 : 1;
  }
  const cfg = configFromFlags(values);
  const runDir = runDirFlag(values, command, cfg.seed);
  const evalOpts = { maxLength: cfg.maxLength, batchSize: cfg.evalBatchSize };
  switch (command) {
    case "split": {
      const data = loadData(values, cfg);
      const file = str(values, "out") ?? path.join(runDir, "split.json");
      writeJsonAtomic(file, {
        validationSize: cfg.validationSize,
        seed: cfg.seed,
        labels: data.labels,
        train_ids: data.ids.train,
        validation_ids: data.ids.validation,
      });
      out(`${data.train.texts.length} training and ${data.validation.texts.length} validation rows → ${file}`);
      return 0;
    }
    case "train": {
      const backend = await initBackend();
      const data = loadData(values, cfg);
      const sizes = `${data.train.texts.length} training / ${data.validation.texts.length} validation texts`;
      process.stderr.write(`backend ${backend.name} · ${sizes} · labels ${data.labels!.join(", ")}\n`);
      const run = await train(cfg, {
        data,
        runDir,
        resume: Boolean(values.resume),
        onProgress: cliReporter(),
        log: (l) => process.stderr.write(l + "\n"),
      });
      const last = run.history[run.history.length - 1];
      if (last) {
        const { f1Weighted, f1Macro } = last.validation;
        out(JSON.stringify({ runDir, epoch: last.epoch, f1Weighted, f1Macro, seconds: run.seconds }));
      }
      if (run.best) out(`best: ${run.best.why}`);
      if (run.test) out(`test (${data.test!.texts.length} texts): ${reportLines(run.test, run.labels).join("\n")}`);
      run.model.dispose();
      return 0;
    }
    case "evaluate": {
      const file = str(values, "csv"), outFile = str(values, "out");
      const part = file ? "test" : "validation";
      // without --csv, the course's split of SMILE
      const readSet = (multi: boolean) =>
        file ? readEvalSet(file, dataSource(values), multi) : loadData({ "multi-label": multi }, cfg).validation;
      const on = (set: { texts: string[] }) =>
        `${file ?? "the course's validation split"} (${set.texts.length} texts):`;
      if (typeof values.ensemble === "string") {
        const models = await loadEnsemble(values.ensemble);
        const set = readSet(false) as TextSet;
        const { metrics } = ensembleEvaluate(models, set, part, evalOpts);
        out(`ensemble of ${models.length} on ${on(set)}`);
        reportLines(metrics, models[0].model.labels).forEach(out);
        if (outFile) writeJsonAtomic(outFile, { ensemble: models.map((t) => t.dir), file: file ?? null, metrics });
        for (const t of models) t.model.dispose();
        return 0;
      }
      const dir = checkpointDir(values);
      const multi = isMultiLabelFolder(dir);
      const set = readSet(multi);
      let engine: string, labels: string[], metrics: EvalMetrics | MultiLabelMetrics;
      if (multi) {
        // Label sets with their tuned thresholds: TensorFlow.js (the ONNX engines score single-label models).
        await initBackend();
        const { model, tokenizer, thresholds } = await loadTrained(dir);
        metrics = evaluateSet(model, tokenizer, set, part, { ...evalOpts, thresholds }).metrics;
        engine = `TensorFlow.js on ${dir}`;
        labels = model.labels;
        model.dispose();
      } else {
        const clf = await loadClassifier(dir, engineChoice(values));
        const ids = labelIds(set as TextSet, part, clf.labels);
        metrics = (await clf.evaluate(set.texts, ids, evalOpts)).metrics;
        engine = clf.engine;
        labels = clf.labels;
        await clf.release();
      }
      process.stderr.write(`engine: ${engine}\n`);
      out(`checkpoint ${dir} on ${on(set)}`);
      reportLines(metrics, labels).forEach(out);
      if (outFile) {
        const examples = set.texts.length;
        writeJsonAtomic(outFile, { checkpoint: dir, engine, file: file ?? null, examples, labels, metrics });
        out(`metrics → ${outFile}`);
      }
      return 0;
    }
    case "predict": {
      // Strict UTF-8, as the CSV reader: bytes that are not UTF-8 are an error naming the file and line.
      const texts = typeof values.input === "string"
        ? decodeUtf8(fs.readFileSync(values.input), values.input).split(/\r?\n/).filter((l) => l.trim() !== "")
        : positionals;
      if (texts.length === 0)
        throw new Error('predict needs texts: bertlab predict --checkpoint DIR "some text" (or --input FILE)');
      let predictions: object[];
      const dir = typeof values.ensemble === "string" ? undefined : checkpointDir(values);
      if (dir === undefined) {
        const models = await loadEnsemble(values.ensemble as string);
        predictions = ensemblePredict(models, texts, { maxLength: cfg.maxLength });
        for (const t of models) t.model.dispose();
      } else if (isMultiLabelFolder(dir)) {
        // Every label over its threshold: TensorFlow.js (the ONNX engines score single-label models).
        await initBackend();
        const { model, tokenizer, thresholds } = await loadTrained(dir);
        predictions = predict(model, tokenizer, texts, { maxLength: cfg.maxLength, thresholds });
        model.dispose();
      } else {
        const clf = await loadClassifier(dir, engineChoice(values));
        predictions = await clf.predict(texts, evalOpts);
        await clf.release();
      }
      for (const p of predictions) out(JSON.stringify(p));
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
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new Error(`--port wants a port number, got ${JSON.stringify(values.port)}`);
      const quantized = Boolean(values.quantized);
      const server = await demo(checkpointDir(values), { port, maxLength: cfg.maxLength, quantized });
      out(`demo: ${server.url} (the model runs in your browser; Ctrl-C stops the server)`);
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      await server.close();
      return 0;
    }
    case "sweep": {
      const backend = await initBackend();
      const seeds = String(values.seeds ?? "").split(",").filter(Boolean).map(Number);
      if (seeds.length === 0 || seeds.some((s) => !Number.isInteger(s) || s < 0))
        throw new Error(`--seeds wants a comma-separated list of integers, got ${JSON.stringify(values.seeds)}`);
      const line = ({ seed, last, seconds }: SweepRun) => ({
        seed,
        f1Weighted: last.f1Weighted,
        f1Macro: last.f1Macro,
        seconds,
      });
      // one variant, the config as the flags give it; each seed's run in its own folder
      const { runs } = await sweep({ config: {} }, seeds, cfg, {
        source: dataSource(values),
        runDir: (_, seed) => path.join(runDir, `seed-${seed}`),
        resume: Boolean(values.resume),
        logProbs: false,
        onProgress: (_, seed) => {
          process.stderr.write(`seed ${seed} (backend ${backend.name})\n`);
          return cliReporter();
        },
        onRun: (r) => out(JSON.stringify(line(r))),
      });
      const { mean, sd } = summarise(runs)[0].f1Weighted;
      const file = path.join(runDir, "sweep.json");
      writeJsonAtomic(file, { config: cfg, results: runs.map(line), f1WeightedMean: mean, f1WeightedSd: sd });
      const page = chartsPage(`F1 over seeds ${seeds.join(", ")}`, [seedsFigure(runs)]);
      writeFileAtomic(path.join(runDir, "sweep.html"), page);
      out(`F1 weighted over seeds ${seeds.join(",")}: mean ${mean.toFixed(4)} ± ${sd.toFixed(4)} → ${file}`);
      return 0;
    }
    case "soup": {
      if (positionals.length === 0) throw new Error("soup needs runs: bertlab soup RUN RUN ... --out DIR");
      if (typeof values.out !== "string") throw new Error("soup needs --out DIR: the folder to write the soup to");
      let soup;
      if (values.greedy) {
        await initBackend();
        const validation = loadData(values, cfg).validation as TextSet;
        soup = await greedySoup(positionals, values.out, validation, { ...evalOpts, log: out });
      } else soup = await writeSoup(positionals, values.out);
      out(`soup of ${soup.ingredients.length} → ${soup.out} (${soup.ingredients.join(", ")})`);
      return 0;
    }
    case "probe-bias": {
      await initBackend();
      const report = await probeBiasCheckpoint(checkpointDir(values), { batchSize: cfg.evalBatchSize });
      const files = writeBiasReport(report, str(values, "out") ?? path.join(runDir, "bias.json"));
      biasSummaryLines(report).forEach(out);
      out(`report → ${files.json}, chart → ${files.html}`);
      return 0;
    }
    default:
      throw new Error(
        `unknown command ${JSON.stringify(command)}: ` +
          "use split, train, evaluate, predict, sweep, cv, probe-bias, quiz, doctor, export, demo or soup (see --help)",
      );
  }
}
